// ReplicaDriver: the coordinator's side of one replica's step contract. It
// turns the Scheduler's plans into wire plans (protocol::StepPlan, a delta
// against what the replica's workers already hold), and owns the replica's
// wire step ids, its plan epoch and the steps in flight (up to a limit, in plan
// order).
//
// Deltas: a request's sampling parameters travel in the first plan that runs
// it (SequenceStart); a block table travels as the blocks appended since the
// last plan that ran the request, or whole (kSeqResetTable) when it changed
// otherwise (swap-in, recompute). A request that ends goes into the next plan's
// finished ids. A new epoch (replica formed again, a step failed) makes the
// workers drop everything, and the driver starts from nothing too.
//
// Threading: owned by the coordinator core's thread. Plain data otherwise.
#pragma once

#include <cstdint>
#include <deque>
#include <functional>
#include <unordered_map>
#include <vector>

#include "coordinator/scheduler/step_plan.h"
#include "protocol/messages.h"

namespace skipjoin::server {

// What the driver needs to know of a request the first time it runs it, and
// for each step (prompt logprobs while the prompt is fed).
struct SequenceInfo {
  protocol::SamplingParams sampling;
  bool echo = false;  // prompt logprobs
  int32_t prompt_len = 0;
};

class ReplicaDriver {
 public:
  // A request's SequenceInfo, or null for one the driver should treat as plain
  // (default sampling, no echo).
  using InfoFn = std::function<const SequenceInfo*(scheduler::RequestId)>;

  struct InFlight {
    uint64_t wire_step = 0;
    double sent_at = 0;
    scheduler::StepPlan plan;  // the scheduler's plan, for the outcome
  };

  explicit ReplicaDriver(uint32_t replica_index, int32_t max_in_flight = 1);

  uint32_t replica_index() const { return replica_index_; }
  int32_t max_in_flight() const { return max_in_flight_; }
  bool can_send() const { return static_cast<int32_t>(in_flight_.size()) < max_in_flight_; }
  bool busy() const { return !in_flight_.empty(); }
  int64_t num_in_flight() const { return static_cast<int64_t>(in_flight_.size()); }
  uint64_t epoch() const { return epoch_; }

  // Forgets the steps in flight and what the workers hold; the next plan
  // carries a new epoch.
  void NewEpoch();

  // A scratch plan for the Scheduler to fill (storage reused across steps).
  scheduler::StepPlan* NextPlanStorage();
  // Records NextPlanStorage()'s plan as sent at `now` and fills `wire` with
  // its delta encoding.
  void Prepare(const InfoFn& info, double now, protocol::StepPlan* wire);

  // The oldest step in flight, or null.
  const InFlight* front() const { return in_flight_.empty() ? nullptr : &in_flight_.front(); }
  // Drops the oldest step in flight (its result was applied).
  void PopFront();

  // The request ended (finished, cancelled, failed): if the workers know it,
  // the next plan tells them to drop it.
  void Forget(scheduler::RequestId id);

  // Requests whose state the workers hold (tests).
  size_t num_known() const { return known_.size(); }

 private:
  uint32_t replica_index_;
  int32_t max_in_flight_;
  uint64_t epoch_ = 1;
  uint64_t wire_step_ = 0;  // never reset, so plans stay strictly increasing per replica
  std::deque<InFlight> in_flight_;
  std::vector<scheduler::StepPlan> spare_;  // storage of finished steps
  scheduler::StepPlan next_;
  // Per known request: the block table its workers hold.
  std::unordered_map<scheduler::RequestId, std::vector<int32_t>> known_;
  std::vector<uint64_t> finished_;
};

}  // namespace skipjoin::server
