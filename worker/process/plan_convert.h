// Translation between the wire step messages (protocol/messages.h) and the
// engine's step types (worker/step.h). Pure functions plus a small per-sequence
// sampling-counter table; owned and called by the Executor thread only.
#pragma once

#include <cstdint>
#include <unordered_map>

#include "common/status.h"
#include "protocol/messages.h"
#include "worker/step.h"

namespace skipjoin::worker {

// Per-sequence RNG counters: how many tokens each live sequence has sampled.
// The engine's draws depend on (seed, sample_index) only, so every rank of a
// TP group, fed the same plans in the same order, draws the same tokens.
class SampleCounters {
 public:
  // The index for this sampling step of seq_id (0 for its first token); advances it.
  int32_t Next(uint64_t seq_id) { return counters_[seq_id]++; }
  void Forget(uint64_t seq_id) { counters_.erase(seq_id); }
  size_t size() const { return counters_.size(); }

 private:
  std::unordered_map<uint64_t, int32_t> counters_;
};

// The seed a sequence samples with when its request did not set one: fixed per
// sequence id, so all ranks agree and a request's draws do not depend on batching.
uint64_t DefaultSeed(uint64_t seq_id);

// Builds the engine input for a plan. Checks what the engine cannot know:
// block ids inside the pools, sampling ranges, non-empty sequences and unique
// ids; kInvalidArgument names the offending sequence. Advances `counters` for
// each sequence that samples and forgets plan.finished_seq_ids (after building,
// so a sequence may sample and finish in the same plan).
Result<StepInput> ToStepInput(const protocol::StepPlan& plan, int32_t num_device_blocks,
                              int32_t num_host_blocks, SampleCounters& counters);

// The result message for an executed step (timings are the caller's).
protocol::StepResult ToStepResult(const protocol::StepPlan& plan, uint32_t worker_id,
                                  const StepOutput& output);

}  // namespace skipjoin::worker
