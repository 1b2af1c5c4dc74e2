// What crosses between the Scheduler and a replica's workers: the requests
// coming in, the plan of one step going out, the measured outcome coming back,
// and the events the coordinator streams to clients.
// Plain value types; any thread may use its own copies.
#pragma once

#include <cstdint>
#include <span>
#include <vector>

#include "coordinator/scheduler/kv_block_manager.h"

namespace skipjoin::scheduler {

using skipjoin::RequestId;
using ReplicaId = int32_t;
using skipjoin::FinishReason;  // the scheduler ends requests with kStop or kLength

inline constexpr int32_t kNoToken = -1;
// In a plan's token ids: the token this request samples in the step planned
// just before, which has not come back yet. The worker that ran that step
// substitutes it.
inline constexpr int32_t kPendingToken = -2;

struct RequestSpec {
  RequestId id = 0;
  std::vector<int32_t> prompt_token_ids;  // non-empty
  int32_t max_new_tokens = 0;             // >= 1
  int32_t priority = 0;                   // > 0 starts higher in the MLFQ, < 0 lower
  std::vector<int32_t> stop_token_ids;    // sampling one of these ends the request
  double arrival_seconds = 0;             // on the Scheduler's clock
};

// One sequence of a step. Offsets index the plan's flat arrays, which are laid
// out the way the worker builds its batch (concatenated token ids, block tables).
struct StepSequence {
  RequestId request_id = 0;
  int32_t token_offset = 0;    // into StepPlan::token_ids
  int32_t num_tokens = 0;      // prompt chunk length, or 1 for a decode
  int32_t start_position = 0;  // position of the first token fed = tokens already cached
  int32_t block_offset = 0;    // into StepPlan::block_tables
  int32_t num_blocks = 0;      // device blocks covering start_position + num_tokens
  bool samples = false;        // the last fed token's logits are sampled
};

struct StepPlan {
  ReplicaId replica_id = 0;
  uint64_t step_id = 0;  // per replica, increasing from 1
  // Executed first, in order: device -> host copies.
  std::vector<BlockPair> swap_out;
  // Then host -> device copies. The first `num_blocking_swap_in` belong to
  // sequences of this step and must land before compute; the rest prefetch
  // jobs expected to run next and may overlap this step's compute.
  std::vector<BlockPair> swap_in;
  int32_t num_blocking_swap_in = 0;
  std::vector<StepSequence> sequences;
  std::vector<int32_t> token_ids;
  std::vector<int32_t> block_tables;
  // Requests whose KV was dropped this step (preempted by recompute) or moved
  // to the host; informational (the copies above already say what to do).
  std::vector<RequestId> recomputed;
  std::vector<RequestId> swapped_out_requests;

  int32_t num_tokens() const { return static_cast<int32_t>(token_ids.size()); }
  std::span<const int32_t> tokens_of(const StepSequence& s) const {
    return {token_ids.data() + s.token_offset, static_cast<size_t>(s.num_tokens)};
  }
  std::span<const int32_t> block_table_of(const StepSequence& s) const {
    return {block_tables.data() + s.block_offset, static_cast<size_t>(s.num_blocks)};
  }
  void Clear() {
    swap_out.clear();
    swap_in.clear();
    num_blocking_swap_in = 0;
    sequences.clear();
    token_ids.clear();
    block_tables.clear();
    recomputed.clear();
    swapped_out_requests.clear();
  }
};

struct StepOutcome {
  double measured_seconds = 0;  // wall time of the whole step, copies included
  // Compute only, for the cost model fit; <= 0 means use measured_seconds.
  double compute_seconds = 0;
  // One per plan sequence, in plan order: the sampled token, or kNoToken for a
  // sequence that does not sample.
  std::vector<int32_t> sampled_token_ids;
};

enum class EventKind {
  kToken,     // token appended to the request's output
  kFinished,  // request done (reason says why); its blocks are free
  kFailed,    // request dropped (replica lost with nowhere to go)
};

struct SchedulerEvent {
  EventKind kind = EventKind::kToken;
  RequestId request_id = 0;
  int32_t token_id = kNoToken;  // kToken only
  FinishReason reason = FinishReason::kNone;
};

}  // namespace skipjoin::scheduler
