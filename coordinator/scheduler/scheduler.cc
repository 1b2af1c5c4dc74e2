// Scheduler: admission, replicas, cancellation and step completion. Planning
// of a step lives in step_builder.cc.
#include "coordinator/scheduler/scheduler.h"

#include <algorithm>
#include <string>

namespace skipjoin::scheduler {

using internal::Job;
using internal::JobState;

namespace {

constexpr int32_t kOracleLevels = 16;

MlfqOptions OracleOptions() {
  MlfqOptions o = MlfqPolicy::FcfsOptions();
  o.num_levels = kOracleLevels;
  return o;
}

// srpt-oracle: floor(log2(remaining output tokens)), at most the last level.
int32_t OracleLevel(const Job& job) {
  const int32_t remaining = std::max(1, job.max_new_tokens - job.generated());
  int32_t level = 0;
  while ((remaining >> (level + 1)) > 0 && level + 1 < kOracleLevels) ++level;
  return level;
}

}  // namespace

Scheduler::Scheduler(const SchedulerOptions& options, const Clock* clock)
    : options_(options),
      clock_(clock),
      policy_(options.policy == PolicyKind::kMlfq   ? options.mlfq
              : options.policy == PolicyKind::kFcfs ? MlfqPolicy::FcfsOptions()
                                                    : OracleOptions()),
      cost_model_(options.cost_prior, options.cost_model) {
  SJ_CHECK(clock != nullptr) << "Scheduler needs a clock";
  SJ_CHECK(options.max_running_sequences >= 1)
      << "max_running_sequences=" << options.max_running_sequences;
  switch (options.policy) {
    case PolicyKind::kMlfq:
    case PolicyKind::kSrptOracle:
      swap_enabled_ = true;
      break;
    case PolicyKind::kFcfs:
      swap_enabled_ = false;
      break;
  }
  DeriveTokenBudget();
  stats_.admitted_per_level.assign(policy_.num_levels(), 0);
}

void Scheduler::DeriveTokenBudget() {
  token_budget_ =
      options_.token_budget > 0
          ? options_.token_budget
          : cost_model_.TokenBudgetFor(options_.tbt_target_seconds, options_.max_running_sequences,
                                       options_.budget_mean_context, 16);
}

void Scheduler::ReplaceCostModel(StepCostModel model) {
  cost_model_ = std::move(model);
  DeriveTokenBudget();
}

Scheduler::~Scheduler() = default;

Scheduler::Replica* Scheduler::FindReplica(ReplicaId id) const {
  auto it = replicas_.find(id);
  return it == replicas_.end() ? nullptr : it->second.get();
}

Status Scheduler::AddReplica(ReplicaId replica, const KvPoolSpec& pool) {
  if (pool.device_blocks <= 0 || pool.block_size <= 0 || pool.host_blocks < 0) {
    return InvalidArgument("replica " + std::to_string(replica) +
                           ": device_blocks and block_size must be > 0");
  }
  Replica* existing = FindReplica(replica);
  if (existing != nullptr && existing->alive) {
    return InvalidArgument("replica " + std::to_string(replica) + " already exists");
  }
  replicas_[replica] = std::make_unique<Replica>(replica, pool, policy_.num_levels());
  return Status::Ok();
}

Scheduler::Replica* Scheduler::PickReplica(int64_t kv_tokens, const Replica* skip) const {
  Replica* best = nullptr;
  for (const auto& [id, r] : replicas_) {
    if (!r->alive || r.get() == skip || r->kv.BlocksFor(kv_tokens) > r->kv.spec().device_blocks)
      continue;
    if (best == nullptr || r->num_jobs < best->num_jobs ||
        (r->num_jobs == best->num_jobs && r->kv.device_used() < best->kv.device_used())) {
      best = r.get();
    }
  }
  return best;
}

void Scheduler::Enqueue(Replica* r, Job* job) {
  job->replica = r->id;
  r->PushLevelBack(job);
  r->lru.PushBack(job);
  if (job->in_stall_list) r->stalls.PushBack(job);
  ++r->num_jobs;
}

Status Scheduler::Submit(RequestSpec spec) {
  if (spec.prompt_token_ids.empty())
    return InvalidArgument("request " + std::to_string(spec.id) + ": empty prompt");
  if (spec.max_new_tokens < 1) {
    return InvalidArgument("request " + std::to_string(spec.id) + ": max_new_tokens must be >= 1");
  }
  if (jobs_.count(spec.id))
    return InvalidArgument("request " + std::to_string(spec.id) + " already submitted");
  bool any_alive = false;
  for (const auto& [id, r] : replicas_) any_alive |= r->alive;
  if (!any_alive) return Unavailable("no live replica");
  const int64_t prompt_len = static_cast<int64_t>(spec.prompt_token_ids.size());
  // The last sampled token is never fed, so its KV is never stored.
  const int64_t kv_tokens = prompt_len + spec.max_new_tokens - 1;
  Replica* r = PickReplica(kv_tokens, nullptr);
  if (r == nullptr) {
    return ResourceExhausted("request " + std::to_string(spec.id) + " needs KV for " +
                             std::to_string(kv_tokens) +
                             " tokens, more than any live replica's device pool holds");
  }
  auto job = std::make_unique<Job>();
  job->id = spec.id;
  job->prompt_len = static_cast<int32_t>(prompt_len);
  job->tokens = std::move(spec.prompt_token_ids);
  job->tokens.reserve(prompt_len + spec.max_new_tokens);
  job->max_new_tokens = spec.max_new_tokens;
  job->priority = spec.priority;
  job->stop_token_ids = std::move(spec.stop_token_ids);
  job->arrival = spec.arrival_seconds;
  job->last_service = clock_->NowSeconds();
  job->level =
      options_.policy == PolicyKind::kSrptOracle
          ? OracleLevel(*job)
          : policy_.SkipJoinLevel(cost_model_.PredictPrefill(job->prompt_len), spec.priority);
  ++stats_.admitted;
  ++stats_.admitted_per_level[job->level];
  Enqueue(r, job.get());
  jobs_.emplace(spec.id, std::move(job));
  return Status::Ok();
}

void Scheduler::DetachJob(Job* job) {
  Replica* r = FindReplica(job->replica);
  SJ_CHECK(r != nullptr) << "job " << job->id << " on unknown replica " << job->replica;
  if (r->alive) r->kv.Release(&job->kv);
  r->levels[job->level].Remove(job);
  r->lru.Remove(job);
  if (job->in_stall_list) r->stalls.Remove(job);
  r->SetResident(job, false);
  --r->num_jobs;
  if (job->last_ran_step == r->step) --r->last_batch_survivors;
}

void Scheduler::RemoveJob(Job* job) {
  DetachJob(job);
  jobs_.erase(job->id);
}

// A job that ends while steps that include it are in flight leaves the queues
// and gives its blocks back at once, so that no later plan carries it (the
// worker runs steps in order, so its blocks are free by the time a later step
// reuses them); the record lives on until those steps come back, which find it
// marked and drop its outputs.
void Scheduler::RequestRemoval(Job* job, bool cancelled) {
  if (cancelled) {
    ++stats_.cancelled;
  } else {
    ++stats_.finished;
  }
  if (job->in_flight_steps > 0) {
    DetachJob(job);
    job->remove_pending = true;
  } else {
    RemoveJob(job);
  }
}

Status Scheduler::Cancel(RequestId id) {
  auto it = jobs_.find(id);
  if (it == jobs_.end() || it->second->remove_pending)
    return NotFound("request " + std::to_string(id));
  RequestRemoval(it->second.get(), /*cancelled=*/true);
  return Status::Ok();
}

Status Scheduler::Finish(RequestId id) {
  auto it = jobs_.find(id);
  if (it == jobs_.end() || it->second->remove_pending)
    return NotFound("request " + std::to_string(id));
  RequestRemoval(it->second.get(), /*cancelled=*/false);
  return Status::Ok();
}

ReplicaLoss Scheduler::MarkReplicaDead(ReplicaId replica) {
  ReplicaLoss loss;
  Replica* r = FindReplica(replica);
  if (r == nullptr || !r->alive) return loss;
  r->alive = false;
  // Jobs that ended while in flight are out of the queues: only the steps that
  // will never come back still hold them.
  for (const Replica::InFlightStep& step : r->inflight) {
    for (Job* job : step.jobs) {
      if (job->remove_pending && --job->in_flight_steps == 0) jobs_.erase(job->id);
    }
  }
  r->inflight.clear();
  const double now = clock_->NowSeconds();
  while (Job* job = r->lru.front()) {
    r->levels[job->level].Remove(job);
    r->lru.Remove(job);
    if (job->in_stall_list) r->stalls.Remove(job);
    r->SetResident(job, false);
    --r->num_jobs;
    // The dead pools are gone with the replica: forget the tables.
    job->kv.device.clear();
    job->kv.host.clear();
    job->in_flight_steps = 0;
    // A token of a step that will never come back.
    while (job->total_tokens() > job->prompt_len && job->tokens.back() == kPendingToken)
      job->tokens.pop_back();
    stats_.recomputed_tokens += job->num_computed;
    job->num_computed = 0;
    job->state = JobState::kQueued;
    job->prefill_service = 0;
    job->last_service = now;
    job->last_swap_in_step = job->last_swap_out_step = job->last_ran_step = Job::kNever;
    Replica* dest = PickReplica(job->prompt_len + job->max_new_tokens - 1, r);
    if (dest == nullptr) {
      loss.failed.push_back(job->id);
      ++stats_.failed;
      jobs_.erase(job->id);
      continue;
    }
    loss.requeued.push_back(job->id);
    Enqueue(dest, job);
  }
  return loss;
}

std::optional<StepPlan> Scheduler::NextStep(ReplicaId replica) {
  StepPlan plan;
  if (!BuildNextStep(replica, &plan)) return std::nullopt;
  return plan;
}

Result<std::vector<SchedulerEvent>> Scheduler::OnStepDone(ReplicaId replica,
                                                          const StepOutcome& outcome) {
  std::vector<SchedulerEvent> events;
  SJ_RETURN_IF_ERROR(OnStepDone(replica, outcome, &events));
  return events;
}

Status Scheduler::OnStepDone(ReplicaId replica, const StepOutcome& outcome,
                             std::vector<SchedulerEvent>* events) {
  Replica* r = FindReplica(replica);
  if (r == nullptr || !r->alive)
    return FailedPrecondition("replica " + std::to_string(replica) + " is not live");
  if (r->inflight.empty())
    return FailedPrecondition("replica " + std::to_string(replica) + " has no step in flight");
  Replica::InFlightStep& done = r->inflight.front();
  const size_t n = done.jobs.size();
  if (outcome.sampled_token_ids.size() != n) {
    return InvalidArgument("step outcome has " + std::to_string(outcome.sampled_token_ids.size()) +
                           " sampled tokens for " + std::to_string(n) + " sequences");
  }
  for (size_t i = 0; i < n; ++i) {
    const Job* job = done.jobs[i];
    const int32_t token = outcome.sampled_token_ids[i];
    if (done.token_index[i] >= 0 && !job->remove_pending && token < 0) {
      return InvalidArgument("step outcome lacks the sampled token of request " +
                             std::to_string(job->id));
    }
  }
  const double now = clock_->NowSeconds();
  const double measured = std::max(0.0, outcome.measured_seconds);
  // Before the fit moves: the copy estimate compares with the prediction the
  // step was planned with.
  ObserveCopyTime(r, done, outcome);
  if (options_.fit_cost_model_online && n > 0) {
    cost_model_.Observe(done.features,
                        outcome.compute_seconds > 0 ? outcome.compute_seconds : measured);
  }
  r->last_step_seconds = measured;
  for (size_t i = 0; i < n; ++i) {
    Job* job = done.jobs[i];
    --job->in_flight_steps;
    if (job->remove_pending) {
      if (job->in_flight_steps == 0) jobs_.erase(job->id);
      continue;
    }
    FinishReason reason = FinishReason::kNone;
    const int32_t index = done.token_index[i];
    const bool sampled = index >= 0;
    if (sampled) {
      const int32_t token = outcome.sampled_token_ids[i];
      job->tokens[index] = token;
      job->last_token_seconds = now;
      if (job->in_stall_list) r->stalls.Remove(job);
      r->stalls.PushBack(job);
      job->in_stall_list = true;
      events->push_back({EventKind::kToken, job->id, token, FinishReason::kNone});
      if (std::find(job->stop_token_ids.begin(), job->stop_token_ids.end(), token) !=
          job->stop_token_ids.end()) {
        reason = FinishReason::kStop;
      } else if (index + 1 - job->prompt_len >= job->max_new_tokens) {
        reason = FinishReason::kLength;
      }
    }
    if (reason != FinishReason::kNone) {
      events->push_back({EventKind::kFinished, job->id, kNoToken, reason});
      RequestRemoval(job, /*cancelled=*/false);
      continue;
    }
    MlfqPolicy::Charge charge;
    if (options_.policy == PolicyKind::kSrptOracle) {
      charge.level = OracleLevel(*job);
      charge.demoted = charge.level != job->level;
    } else if (!sampled) {
      // Mid-prefill: the whole prefill is charged once it completes.
      job->prefill_service += measured;
      charge = {job->level, job->quantum_used, false};
    } else {
      charge =
          policy_.ChargeService(job->level, job->quantum_used, measured + job->prefill_service);
      job->prefill_service = 0;
    }
    if (charge.demoted) {
      r->levels[job->level].Remove(job);
      job->level = charge.level;
      r->PushLevelBack(job);
      ++stats_.demotions;
    }
    job->level = charge.level;
    job->quantum_used = charge.used;
    job->last_service = now;
    r->lru.Remove(job);
    r->lru.PushBack(job);
  }
  r->spare = std::move(done);
  r->inflight.pop_front();
  return Status::Ok();
}

// The copies of a step are what its measured time has beyond its compute
// (reported by the worker, else predicted by the cost model), per blocking
// block. Prefetches that outlast compute make this an overestimate, which
// errs on the side of a tighter admission limit.
void Scheduler::ObserveCopyTime(Replica* r, const Replica::InFlightStep& done,
                                const StepOutcome& outcome) {
  if (done.blocking_copy_blocks == 0) {
    r->copy_share.Observe(outcome.measured_seconds, 0);
    return;
  }
  const double compute = outcome.compute_seconds > 0 ? outcome.compute_seconds
                         : done.jobs.empty()         ? 0.0
                                                     : cost_model_.Predict(done.features);
  const double copy = std::max(0.0, outcome.measured_seconds - compute);
  r->copy_share.Observe(outcome.measured_seconds, copy);
  const double per_block = copy / done.blocking_copy_blocks;
  constexpr double kWeight = 0.1;  // ~10 steps with copies of memory
  r->block_copy_seconds = r->block_copy_seconds <= 0
                              ? per_block
                              : (1 - kWeight) * r->block_copy_seconds + kWeight * per_block;
}

double Scheduler::block_copy_seconds(ReplicaId replica) const {
  const Replica* r = FindReplica(replica);
  return r == nullptr ? 0 : r->block_copy_seconds;
}

int32_t Scheduler::steps_in_flight(ReplicaId replica) const {
  const Replica* r = FindReplica(replica);
  return r == nullptr ? 0 : static_cast<int32_t>(r->inflight.size());
}

int64_t Scheduler::num_requests_on(ReplicaId replica) const {
  const Replica* r = FindReplica(replica);
  return r == nullptr ? 0 : r->num_jobs;
}

int32_t Scheduler::device_free(ReplicaId replica) const {
  const Replica* r = FindReplica(replica);
  return r == nullptr ? -1 : r->kv.device_free();
}

int32_t Scheduler::host_free(ReplicaId replica) const {
  const Replica* r = FindReplica(replica);
  return r == nullptr ? -1 : r->kv.host_free();
}

std::optional<RequestInfo> Scheduler::GetRequestInfo(RequestId id) const {
  auto it = jobs_.find(id);
  if (it == jobs_.end()) return std::nullopt;
  const Job& j = *it->second;
  RequestInfo info;
  info.replica = j.replica;
  info.level = j.level;
  info.quantum_used = j.quantum_used;
  info.num_computed = j.num_computed;
  info.generated = j.generated();
  info.resident = j.state == JobState::kResident;
  info.swapped = j.state == JobState::kSwapped;
  info.device_blocks = static_cast<int32_t>(j.kv.device.size());
  info.host_blocks = static_cast<int32_t>(j.kv.host.size());
  return info;
}

Status Scheduler::CheckInvariantsForTesting() const {
  int64_t total = 0;
  std::vector<const KvTable*> tables;
  for (const auto& [id, r] : replicas_) {
    if (!r->alive) {
      if (r->num_jobs != 0)
        return Internal("dead replica " + std::to_string(id) + " still has jobs");
      continue;
    }
    int64_t in_levels = 0;
    for (const auto& level : r->levels) in_levels += level.size();
    if (in_levels != r->num_jobs || r->lru.size() != r->num_jobs) {
      return Internal("replica " + std::to_string(id) + ": job lists disagree");
    }
    total += r->num_jobs;
    tables.clear();
    for (const Job* j = r->lru.front(); j != nullptr; j = internal::LruList::Next(j)) {
      tables.push_back(&j->kv);
      const std::string who = "request " + std::to_string(j->id) + ": ";
      const int32_t blocks = r->kv.BlocksFor(j->num_computed);
      const int32_t dev = static_cast<int32_t>(j->kv.device.size());
      const int32_t host = static_cast<int32_t>(j->kv.host.size());
      if (j->replica != id) return Internal(who + "on the wrong replica");
      if (j->in_resident_list != (j->state == JobState::kResident))
        return Internal(who + "resident list disagrees");
      switch (j->state) {
        case JobState::kQueued:
          if (dev || host || j->num_computed) return Internal(who + "queued but holds KV");
          break;
        case JobState::kResident:
          if (host || dev != blocks || j->num_computed == 0)
            return Internal(who + "resident with wrong blocks");
          break;
        case JobState::kSwapped:
          if (dev || host != blocks || j->num_computed == 0)
            return Internal(who + "swapped with wrong blocks");
          break;
      }
      if (j->num_computed >= j->total_tokens()) return Internal(who + "computed past its tokens");
      if (j->generated() >= j->max_new_tokens && j->in_flight_steps == 0)
        return Internal(who + "should have finished");
    }
    SJ_RETURN_IF_ERROR(
        r->kv.CheckConservation(tables).WithContext("replica " + std::to_string(id)));
  }
  for (const auto& [id, j] : jobs_) {
    if (!j->remove_pending) continue;
    if (j->in_flight_steps <= 0)
      return Internal("request " + std::to_string(id) + ": ended, not in flight, not deleted");
    ++total;
  }
  if (total != static_cast<int64_t>(jobs_.size()))
    return Internal("job map and replica lists disagree");
  return Status::Ok();
}

}  // namespace skipjoin::scheduler
