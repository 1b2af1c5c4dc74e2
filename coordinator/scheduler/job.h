// Internal to the Scheduler: one request's state and the intrusive lists that
// order jobs without allocating per step. Not part of the public API.
#pragma once

#include <cstdint>
#include <deque>
#include <limits>
#include <vector>

#include "coordinator/scheduler/admission_policy.h"
#include "coordinator/scheduler/cost_model.h"
#include "coordinator/scheduler/kv_block_manager.h"
#include "coordinator/scheduler/step_plan.h"

namespace skipjoin::scheduler::internal {

enum class JobState {
  kQueued,    // no KV anywhere; num_computed == 0
  kResident,  // KV on the device
  kSwapped,   // KV on the host
};

struct Job {
  RequestId id = 0;
  ReplicaId replica = 0;
  std::vector<int32_t> tokens;  // prompt, then generated tokens
  int32_t prompt_len = 0;
  int32_t max_new_tokens = 0;
  int32_t priority = 0;
  std::vector<int32_t> stop_token_ids;
  double arrival = 0;

  JobState state = JobState::kQueued;
  int32_t num_computed = 0;  // tokens whose KV is cached
  KvTable kv;

  int32_t level = 0;
  double quantum_used = 0;
  // Service of an unfinished prefill (or recompute), charged as one unit when
  // the prefill completes, so that a long prompt is not demoted between chunks.
  double prefill_service = 0;
  double last_service = 0;        // when it last ran, arrived or was promoted: starvation clock
  double last_token_seconds = 0;  // when it produced its latest token (stall bound)

  static constexpr int64_t kNever = std::numeric_limits<int64_t>::min() / 2;
  int64_t last_swap_in_step = kNever;
  int64_t last_swap_out_step = kNever;
  int64_t last_ran_step = kNever;

  int32_t in_flight_steps = 0;  // steps in flight that include this job
  bool remove_pending = false;  // cancelled/finished while in flight
  // Scratch, valid only while a step is being planned.
  bool plan_in_batch = false;
  bool plan_evicted = false;
  bool plan_urgent = false;  // chosen first because of the stall bound
  bool plan_filler = false;  // took a slot the candidates left idle
  int32_t plan_rank = -1;    // index among the step's candidates, -1 if none

  // Intrusive links: the level FIFO and the least-recently-served list.
  Job* level_prev = nullptr;
  Job* level_next = nullptr;
  Job* lru_prev = nullptr;
  Job* lru_next = nullptr;
  // Jobs that have produced a token, oldest latest token first (stall bound).
  Job* stall_prev = nullptr;
  Job* stall_next = nullptr;
  bool in_stall_list = false;
  // Jobs whose KV is on the device, in no order (victim search).
  Job* resident_prev = nullptr;
  Job* resident_next = nullptr;
  bool in_resident_list = false;
  // Position in its level's FIFO: larger is later (PushBack counts up,
  // PushFront down), so (level, level_seq) orders jobs as the level lists do.
  int64_t level_seq = 0;

  int32_t total_tokens() const { return static_cast<int32_t>(tokens.size()); }
  int32_t generated() const { return total_tokens() - prompt_len; }
  int32_t remaining() const { return total_tokens() - num_computed; }
  // Its last token (still pending in a step in flight) reaches max_new_tokens:
  // it finishes with that step and is planned no more.
  bool exhausted() const { return generated() >= max_new_tokens; }
  // Never run: no KV anywhere and no token produced (what admission limits).
  bool not_started() const { return state == JobState::kQueued && generated() == 0; }
};

template <Job* Job::*kPrev, Job* Job::*kNext>
class JobList {
 public:
  Job* front() const { return head_; }
  Job* back() const { return tail_; }
  int64_t size() const { return size_; }
  bool empty() const { return size_ == 0; }
  static Job* Next(const Job* j) { return j->*kNext; }
  static Job* Prev(const Job* j) { return j->*kPrev; }

  void PushBack(Job* j) {
    j->*kPrev = tail_;
    j->*kNext = nullptr;
    if (tail_)
      tail_->*kNext = j;
    else
      head_ = j;
    tail_ = j;
    ++size_;
  }
  void PushFront(Job* j) {
    j->*kNext = head_;
    j->*kPrev = nullptr;
    if (head_)
      head_->*kPrev = j;
    else
      tail_ = j;
    head_ = j;
    ++size_;
  }
  void InsertAfter(Job* pos, Job* j) {
    if (pos == nullptr) return PushFront(j);
    if (pos == tail_) return PushBack(j);
    j->*kPrev = pos;
    j->*kNext = pos->*kNext;
    (pos->*kNext)->*kPrev = j;
    pos->*kNext = j;
    ++size_;
  }
  void Remove(Job* j) {
    if (j->*kPrev)
      (j->*kPrev)->*kNext = j->*kNext;
    else
      head_ = j->*kNext;
    if (j->*kNext)
      (j->*kNext)->*kPrev = j->*kPrev;
    else
      tail_ = j->*kPrev;
    j->*kPrev = j->*kNext = nullptr;
    --size_;
  }

 private:
  Job* head_ = nullptr;
  Job* tail_ = nullptr;
  int64_t size_ = 0;
};

using LevelList = JobList<&Job::level_prev, &Job::level_next>;
using LruList = JobList<&Job::lru_prev, &Job::lru_next>;
using StallList = JobList<&Job::stall_prev, &Job::stall_next>;
using ResidentList = JobList<&Job::resident_prev, &Job::resident_next>;

// One replica: its pools, its jobs ordered by level, and its step in flight.
struct ReplicaState {
  ReplicaState(ReplicaId replica_id, const KvPoolSpec& pool, int32_t num_levels)
      : id(replica_id), kv(pool), levels(num_levels) {}
  ReplicaId id;
  bool alive = true;
  KvBlockManager kv;
  std::vector<LevelList> levels;  // index 0 is served first
  LruList lru;                    // every job, least recently served first
  StallList stalls;               // decoding jobs, the longest without a token first
  ResidentList resident;          // jobs with KV on the device
  int64_t seq_back = 0;           // level_seq counters
  int64_t seq_front = 0;
  void PushLevelBack(Job* j) {
    j->level_seq = ++seq_back;
    levels[j->level].PushBack(j);
  }
  void PushLevelFront(Job* j) {
    j->level_seq = --seq_front;
    levels[j->level].PushFront(j);
  }
  void SetResident(Job* j, bool on) {
    if (on == j->in_resident_list) return;
    if (on)
      resident.PushBack(j);
    else
      resident.Remove(j);
    j->in_resident_list = on;
  }
  double last_step_seconds = 0;  // measured time of the latest step
  // Measured copy time of one KV block between host and device (seconds),
  // from the steps with blocking copies; 0 until the first one.
  double block_copy_seconds = 0;
  CopyShareMeter copy_share;  // share of recent step time in blocking copies
  int64_t num_jobs = 0;
  int64_t step = 0;  // id of the last planned step
  // A planned step whose outcome has not come back. A plan is committed when
  // it is made (num_computed advances, a sampled token is appended as
  // kPendingToken), so that the next step can be planned while it runs.
  struct InFlightStep {
    int64_t step = 0;
    std::vector<Job*> jobs;            // plan order
    std::vector<int32_t> token_index;  // where the sampled token goes in job->tokens, -1: none
    StepFeatures features;
    int32_t blocking_copy_blocks = 0;  // swap-outs and this step's swap-ins
  };
  std::deque<InFlightStep> inflight;  // oldest first
  InFlightStep spare;                 // storage of the last finished record, reused
  int64_t last_batch_survivors = 0;   // jobs of the last planned step still unfinished
};

}  // namespace skipjoin::scheduler::internal
