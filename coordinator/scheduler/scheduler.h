// The Scheduler: all request state of the coordinator, KV block accounting of
// every replica, and the iteration plans. It applies pure policies (MlfqPolicy,
// FormBatch, KvTransaction planning) to its state.
//
// Threading: owned by one thread (the coordinator's Scheduler actor, or the
// simulator's loop). No method may be called concurrently; none blocks.
//
// Driving it, per replica: while the replica has fewer than
// options.max_steps_in_flight steps in flight call NextStep; send each plan to
// the replica's workers and, as each step finishes (in plan order), call
// OnStepDone with its measured time and sampled tokens and stream the events.
// A plan is committed when it is made: with two steps in flight the second
// one's decodes feed kPendingToken, the token the first one samples. A request
// that finishes in step N may still be in step N+1; its output there is
// dropped. Submit, Cancel and Finish may come at any time: the request leaves
// the queues and its blocks are free for the next plan at once (a worker runs a
// replica's steps in order, so a later step that reuses them writes after the
// ones in flight); no later plan carries it.
#pragma once

#include <algorithm>
#include <cstdint>
#include <map>
#include <memory>
#include <optional>
#include <unordered_map>
#include <vector>

#include "common/status.h"
#include "coordinator/scheduler/admission_policy.h"
#include "coordinator/scheduler/batch_policy.h"
#include "coordinator/scheduler/clock.h"
#include "coordinator/scheduler/cost_model.h"
#include "coordinator/scheduler/job.h"
#include "coordinator/scheduler/kv_block_manager.h"
#include "coordinator/scheduler/mlfq_policy.h"
#include "coordinator/scheduler/scheduler_options.h"
#include "coordinator/scheduler/step_plan.h"
#include "coordinator/scheduler/victim_policy.h"

namespace skipjoin::scheduler {

// Counters since construction (all replicas).
struct SchedulerStats {
  int64_t admitted = 0;
  int64_t finished = 0;
  int64_t cancelled = 0;
  int64_t failed = 0;
  int64_t steps = 0;
  int64_t preemptions_slot = 0;       // ran last step, left out of this one
  int64_t preemptions_swap = 0;       // swapped out (forced or proactive)
  int64_t preemptions_recompute = 0;  // KV dropped
  int64_t proactive_swap_outs = 0;
  int64_t prefetch_swap_ins = 0;
  int64_t swapped_out_blocks = 0;
  int64_t swapped_in_blocks = 0;
  int64_t recomputed_tokens = 0;  // KV tokens thrown away by recompute preemption
  int64_t demotions = 0;
  int64_t starvation_promotions = 0;  // one level each (aging)
  int64_t stall_forced = 0;           // jobs chosen ahead of their turn by the stall bound
  int64_t admission_deferrals = 0;    // new jobs kept from evicting while the host pool was low
  int64_t recompute_refusals = 0;     // victims spared because recompute would waste too much
  std::vector<int64_t> admitted_per_level;  // skip-join level at admission
};

// What MarkReplicaDead did with the replica's requests.
struct ReplicaLoss {
  std::vector<RequestId> requeued;  // moved to a live replica; they restart by recompute
  std::vector<RequestId> failed;    // no live replica can hold them; dropped
};

// A read-only view of one request, for status pages and tests.
struct RequestInfo {
  ReplicaId replica = 0;
  int32_t level = 0;
  double quantum_used = 0;
  int32_t num_computed = 0;
  int32_t generated = 0;
  bool resident = false;  // KV on the device
  bool swapped = false;   // KV on the host
  int32_t device_blocks = 0;
  int32_t host_blocks = 0;
};

class Scheduler {
 public:
  // `clock` must outlive the Scheduler.
  Scheduler(const SchedulerOptions& options, const Clock* clock);
  ~Scheduler();
  Scheduler(const Scheduler&) = delete;
  Scheduler& operator=(const Scheduler&) = delete;

  Status AddReplica(ReplicaId replica, const KvPoolSpec& pool);
  // The replica's steps in flight (if any) are abandoned. Its requests move to the
  // least-loaded live replica that can hold them, or fail.
  ReplicaLoss MarkReplicaDead(ReplicaId replica);

  // Admits a request to the least-loaded live replica. InvalidArgument for a
  // malformed request or duplicate id, ResourceExhausted when prompt plus
  // max_new_tokens can never fit a live replica's device pool, Unavailable when
  // no replica is live.
  Status Submit(RequestSpec spec);
  // Client went away / frontend saw a stop string. The request produces no more
  // events, no later plan carries it, and its blocks are free at once (outputs
  // of steps in flight that still hold it are dropped). NotFound for an
  // unknown id.
  Status Cancel(RequestId id);
  Status Finish(RequestId id);

  // Plans the next step of a replica: std::nullopt when it has nothing to
  // run, is dead, or has max_steps_in_flight steps in flight. BuildNextStep fills a caller-owned
  // plan instead (reusing its storage) and returns whether there is a step.
  std::optional<StepPlan> NextStep(ReplicaId replica);
  bool BuildNextStep(ReplicaId replica, StepPlan* plan);

  // Applies the oldest step in flight. `outcome.sampled_token_ids` has one
  // entry per plan sequence. Appends the step's events to `events`.
  Status OnStepDone(ReplicaId replica, const StepOutcome& outcome,
                    std::vector<SchedulerEvent>* events);
  Result<std::vector<SchedulerEvent>> OnStepDone(ReplicaId replica, const StepOutcome& outcome);

  const SchedulerOptions& options() const { return options_; }
  int32_t token_budget() const { return token_budget_; }
  const StepCostModel& cost_model() const { return cost_model_; }
  // Starts from a calibrated model (the one persisted for this model and
  // device) instead of the prior. With token_budget == 0 the budget is derived
  // again from it.
  void ReplaceCostModel(StepCostModel model);
  const MlfqPolicy& policy() const { return policy_; }
  const SchedulerStats& stats() const { return stats_; }
  int64_t num_requests() const { return static_cast<int64_t>(jobs_.size()); }
  int64_t num_requests_on(ReplicaId replica) const;
  bool has_work(ReplicaId replica) const { return num_requests_on(replica) > 0; }
  int32_t steps_in_flight(ReplicaId replica) const;
  std::optional<RequestInfo> GetRequestInfo(RequestId id) const;
  // Free device / host blocks of a replica (-1 for an unknown replica).
  int32_t device_free(ReplicaId replica) const;
  int32_t host_free(ReplicaId replica) const;
  // Measured copy time of one KV block of a replica, seconds (0 until a step
  // with blocking copies has come back, or for an unknown replica).
  double block_copy_seconds(ReplicaId replica) const;

  // Verifies block conservation and per-request consistency on every idle
  // replica. Meant for tests; O(all blocks).
  Status CheckInvariantsForTesting() const;

 private:
  using Replica = internal::ReplicaState;
  using Job = internal::Job;

  Replica* FindReplica(ReplicaId id) const;
  void DeriveTokenBudget();
  // Least-loaded live replica whose device pool can hold `kv_tokens`, except `skip`.
  Replica* PickReplica(int64_t kv_tokens, const Replica* skip) const;
  void Enqueue(Replica* r, Job* job);
  void DetachJob(Job* job);  // frees blocks, unlinks from the replica's lists
  void RemoveJob(Job* job);  // DetachJob, then deletes
  void RequestRemoval(Job* job, bool cancelled);
  void PromoteStarved(Replica* r, double now);
  // Plan helpers (step_builder.cc).
  void CollectCandidates(Replica* r, double now);
  // Reserves memory for candidates [begin, end); evicts only with allow_evict.
  void PlanMemory(Replica* r, int64_t step, size_t begin, bool allow_evict);
  void FillIdleSlots(Replica* r, int64_t step);
  // Candidates, their memory and the idle-slot fill, into the scratch below.
  void PlanCandidates(Replica* r, int64_t step, double now);
  // Forgets a plan made by PlanCandidates (flags and the block transaction).
  void DropPlan();
  // Evicts the lowest-ranked resident job below candidate `rank` that may be
  // evicted for it (swap, or recompute when it is cheap; the level gap).
  bool EvictOne(Replica* r, int32_t rank, int64_t step);
  bool MayEvictFor(const Job& victim, const Job& for_job, int64_t step) const;
  // Next resident job in eviction order: first the jobs outside the step from
  // the bottom of the MLFQ order, then the candidates from the last rank up;
  // null once the walk reaches candidate `stop_rank` (-1: walk to the top).
  Job* NextVictim(Replica* r, int32_t stop_rank);
  // Host blocks in use above which a job that has not started evicts nobody
  // (admit_into_free_memory off).
  int32_t SwapAdmitBlocks(const Replica& r) const;
  // The admission decision of this step (admission_policy.h).
  AdmissionDecision DecideReplicaAdmission(const Replica& r, int32_t forced) const;
  void ObserveCopyTime(Replica* r, const Replica::InFlightStep& done, const StepOutcome& outcome);
  int32_t RecomputeLimit() const;
  VictimView VictimViewOf(const Job& j, double now) const;
  // Sequences one step may hold: min(max_running_sequences, token_budget).
  size_t StepSlots() const {
    return static_cast<size_t>(std::min(options_.max_running_sequences, token_budget_));
  }
  int32_t ReserveBlocks(const Replica& r) const;
  void KeepReserve(Replica* r, int64_t step);
  void Prefetch(Replica* r, int64_t step);
  void CommitAndEmit(Replica* r, int64_t step, StepPlan* plan);

  SchedulerOptions options_;
  const Clock* clock_;
  MlfqPolicy policy_;
  StepCostModel cost_model_;
  int32_t token_budget_ = 0;
  bool swap_enabled_ = true;
  std::map<ReplicaId, std::unique_ptr<Replica>> replicas_;
  std::unordered_map<RequestId, std::unique_ptr<Job>> jobs_;
  SchedulerStats stats_;

  // Per-step scratch, reused so that steady state allocates nothing.
  std::vector<Job*> candidates_;
  std::vector<BatchCandidate> batch_candidates_;
  std::vector<int32_t> batch_tokens_;
  struct Eviction {
    Job* job;
    bool swap;
  };
  std::vector<Eviction> evictions_;
  std::vector<Job*> swap_ins_;  // blocking ones first, then prefetches
  int32_t blocking_swap_in_blocks_ = 0;
  Job* walk_level_pos_ = nullptr;  // first job after the candidates
  int32_t walk_level_ = 0;
  KvTransaction txn_;
  // Victim cursor: walks from the lowest-priority job upwards during one plan.
  bool victim_started_ = false;
  std::vector<Job*> outside_victims_;  // resident jobs outside the step, lowest priority last
  // Set for the second plan of a step whose first one ran nothing: no
  // admission limit, level gap or recompute guard.
  bool relaxed_ = false;
  int32_t victim_rank_ = 0;  // next candidate the walk looks at
  // Host blocks that this plan's new jobs may leave in use after their
  // evictions (the swap-in debt limit of DecideAdmission).
  int32_t debt_limit_blocks_ = 0;
};

}  // namespace skipjoin::scheduler
