// Scheduler::BuildNextStep: plans one iteration of a replica.
//
//  1. Aging: the longest-waiting starved jobs move up one level, a bounded
//     number per step.
//  2. Candidates, at most min(max_running_sequences, token_budget): first the
//     decoding jobs whose stall deadline (latest token + max_stall_seconds)
//     falls within two steps, earliest deadline first; then the MLFQ order
//     (level, then FIFO within the level). FormBatch gives decodes one token
//     each, then prefill chunks up to the token budget, prefills already
//     under way before new ones.
//     New jobs are admitted only as docs/SCHEDULER.md ("Per step") describes.
//  3. Memory, in priority order: each chosen job reserves the blocks it needs
//     (its swap-in plus new blocks). When the device is short, the lowest-
//     priority resident jobs are evicted first -- jobs outside the step, then
//     chosen jobs ranked below the current one -- by swap-out, or by recompute
//     when the host pool is full (fcfs always recomputes; mlfq only jobs with
//     little cached work). A prefill that still does not fit shrinks to what
//     does. Slots left idle go to resident jobs outside the step; a plan that
//     runs nothing is made again without the admission and eviction guards.
//  4. Proactive (mlfq): swap out the lowest-ranked resident jobs until the
//     device reserve is free, then swap in the swapped jobs ranked just below
//     the step while the reserve holds. Neither touches a job that moved the
//     other way within no_pingpong_steps.
//  5. Commit the block transaction and emit the plan.
#include <algorithm>
#include <cmath>
#include <limits>

#include "coordinator/scheduler/scheduler.h"

namespace skipjoin::scheduler {

using internal::Job;
using internal::JobState;
using internal::LevelList;

// Each starved job moves up one level and its starvation clock restarts, so a
// job at level k needs k thresholds to reach the top, and at most
// max_promotions_per_step jobs move per step: aging cannot hand a crowd of old
// jobs the top level at once (they would evict everything that runs).
void Scheduler::PromoteStarved(Replica* r, double now) {
  int32_t promoted = 0;
  while (Job* j = r->lru.front()) {
    if (!policy_.IsStarved(now - j->last_service) || promoted >= options_.max_promotions_per_step)
      break;
    r->lru.Remove(j);
    r->lru.PushBack(j);
    j->last_service = now;
    if (j->level == 0) continue;
    r->levels[j->level].Remove(j);
    --j->level;
    j->quantum_used = 0;
    r->PushLevelFront(j);
    ++promoted;
    ++stats_.starvation_promotions;
  }
}

void Scheduler::CollectCandidates(Replica* r, double now) {
  candidates_.clear();
  batch_candidates_.clear();
  const size_t limit = StepSlots();
  walk_level_ = 0;
  walk_level_pos_ = nullptr;
  if (options_.max_stall_seconds > 0 && options_.policy != PolicyKind::kFcfs) {
    // A job not in this step gets its token two steps from now at the earliest.
    const double horizon = now + 2 * r->last_step_seconds;
    for (Job* j = r->stalls.front(); j != nullptr && candidates_.size() < limit;
         j = internal::StallList::Next(j)) {
      if (j->last_token_seconds + options_.max_stall_seconds > horizon) break;
      if (j->exhausted()) continue;
      j->plan_urgent = true;
      candidates_.push_back(j);
      batch_candidates_.push_back({j->num_computed, j->remaining()});
      ++stats_.stall_forced;
    }
  }
  // Admission: no new job starts while the host holds enough preempted KV, or
  // while the stall bound takes more than a quarter of the step's slots. Free
  // blocks and slots then go to the jobs already started, so that the started
  // set -- which the stall bound must serve -- cannot outgrow what the device
  // and the slots can turn over (else every started job needs a forced,
  // swapped-in turn every max_stall and the replica does little else), and a
  // new job cannot hold a slot while it waits for memory.
  const AdmissionDecision admission =
      DecideReplicaAdmission(*r, static_cast<int32_t>(candidates_.size()));
  const bool admission_limited = swap_enabled_ && !relaxed_ && !admission.admit;
  debt_limit_blocks_ = admission.debt_limit_blocks;
  // With admit_into_free_memory, a new job starts if its whole prompt fits in
  // the device blocks that are free beyond the reserve and beyond what the
  // swapped-out jobs need to come back, or if the rest of it fits in what the
  // swap-in debt limit still lets new jobs push to the host: the started set
  // then outgrows the device by at most the KV whose stall-bound round trips
  // the limit has priced in.
  int64_t room = static_cast<int64_t>(r->kv.device_free()) - ReserveBlocks(*r) - r->kv.host_used();
  int64_t evict_budget = admission.evict_budget_blocks;
  for (int32_t level = 0; level < policy_.num_levels(); ++level) {
    Job* j = r->levels[level].front();
    for (; j != nullptr && candidates_.size() < limit; j = LevelList::Next(j)) {
      if (j->plan_urgent || j->exhausted()) continue;
      if (swap_enabled_ && !relaxed_ && j->not_started()) {
        const int32_t need = r->kv.BlocksFor(j->total_tokens() + 1);
        const int64_t beyond = need - std::max<int64_t>(room, 0);
        if (admission_limited ||
            (options_.admit_into_free_memory && beyond > 0 && beyond > evict_budget)) {
          ++stats_.admission_deferrals;
          continue;
        }
        if (beyond > 0) evict_budget -= beyond;
        room -= need;
      }
      candidates_.push_back(j);
      batch_candidates_.push_back({j->num_computed, j->remaining()});
    }
    if (candidates_.size() == limit) {
      // Remember where the candidates end, for the prefetch look-ahead.
      walk_level_ = level;
      walk_level_pos_ = j;
      if (j == nullptr) {
        while (++walk_level_ < policy_.num_levels() && r->levels[walk_level_].empty()) {
        }
        if (walk_level_ < policy_.num_levels()) walk_level_pos_ = r->levels[walk_level_].front();
      }
      break;
    }
  }
  if (candidates_.size() < limit) walk_level_ = policy_.num_levels();
  batch_tokens_.resize(candidates_.size());
  BatchLimits limits;
  limits.token_budget = token_budget_;
  limits.max_sequences = options_.max_running_sequences;
  limits.block_size = r->kv.spec().block_size;
  limits.started_prefills_first = options_.policy != PolicyKind::kFcfs;
  FormBatch(batch_candidates_, limits, batch_tokens_);
  for (size_t i = 0; i < candidates_.size(); ++i) {
    candidates_[i]->plan_in_batch = batch_tokens_[i] > 0;
    candidates_[i]->plan_evicted = false;
    candidates_[i]->plan_rank = static_cast<int32_t>(i);
  }
}

// The walk goes first through the resident jobs outside the step (every one
// ranks below every candidate) from the bottom of the MLFQ order up, then
// through the candidates from the last rank up, while the jobs being planned
// move down from the top; once it reaches a candidate ranked at or above the
// one being planned, nothing it could still find may be evicted for it. Only
// resident jobs are looked at, so a long queue costs nothing here.
Job* Scheduler::NextVictim(Replica* r, int32_t stop_rank) {
  if (!victim_started_) {
    victim_started_ = true;
    victim_rank_ = static_cast<int32_t>(candidates_.size()) - 1;
    outside_victims_.clear();
    for (Job* j = r->resident.front(); j != nullptr; j = internal::ResidentList::Next(j)) {
      if (j->plan_rank < 0) outside_victims_.push_back(j);
    }
    // Cheapest victim last, so that the walk pops from the back.
    const double now = clock_->NowSeconds();
    std::sort(
        outside_victims_.begin(), outside_victims_.end(), [this, now](const Job* a, const Job* b) {
          return EvictBefore(options_.victim_order, VictimViewOf(*b, now), VictimViewOf(*a, now));
        });
  }
  while (!outside_victims_.empty()) {
    Job* j = outside_victims_.back();
    outside_victims_.pop_back();
    // Fillers joined the step after the walk began: not victims here.
    if (j->plan_rank < 0 && j->state == JobState::kResident && !j->plan_evicted) return j;
  }
  while (victim_rank_ > stop_rank) {
    Job* j = candidates_[victim_rank_--];
    if (j->state == JobState::kResident && !j->plan_evicted) return j;
  }
  return nullptr;
}

VictimView Scheduler::VictimViewOf(const Job& j, double now) const {
  VictimView v;
  v.level = j.level;
  v.level_seq = j.level_seq;
  v.seconds_until_needed = j.in_stall_list && options_.max_stall_seconds > 0
                               ? j.last_token_seconds + options_.max_stall_seconds - now
                               : std::numeric_limits<double>::infinity();
  return v;
}

int32_t Scheduler::RecomputeLimit() const {
  return options_.max_recompute_tokens > 0 ? options_.max_recompute_tokens : token_budget_;
}

AdmissionDecision Scheduler::DecideReplicaAdmission(const Replica& r, int32_t forced) const {
  AdmissionOptions o;
  o.copy_share = options_.swap_debt_share;
  o.fallback_fraction = options_.swap_admit_fraction;
  o.max_started =
      static_cast<int64_t>(options_.max_started_factor * options_.max_running_sequences);
  AdmissionSnapshot s;
  s.device_blocks = r.kv.spec().device_blocks;
  s.host_debt_blocks = r.kv.host_used();
  // Eager admission (admit_into_free_memory off) keeps its fixed limit.
  s.block_copy_seconds = options_.admit_into_free_memory ? r.block_copy_seconds : 0;
  s.stall_seconds = options_.max_stall_seconds;
  s.slots = static_cast<int32_t>(StepSlots());
  s.forced = forced;
  s.started = r.stalls.size();
  s.measured_copy_share = r.copy_share.share();
  return DecideAdmission(o, s);
}

int32_t Scheduler::SwapAdmitBlocks(const Replica& r) const {
  return static_cast<int32_t>(std::ceil(options_.swap_admit_fraction * r.kv.spec().device_blocks));
}

bool Scheduler::MayEvictFor(const Job& v, const Job& j, int64_t step) const {
  if (relaxed_) return true;
  // A resident job that grows must get its block from someone (as in any
  // paged scheduler); the stall bound's forced jobs outrank everyone.
  if (options_.policy != PolicyKind::kMlfq || j.plan_urgent || j.state == JobState::kResident)
    return true;
  if (v.generated() > 0 && v.level < j.level + options_.evict_level_gap) return false;
  return step - v.last_swap_in_step >= options_.no_pingpong_steps;
}

bool Scheduler::EvictOne(Replica* r, int32_t rank, int64_t step) {
  const Job& for_job = *candidates_[rank];
  const bool guarded_for =
      swap_enabled_ && !relaxed_ && for_job.not_started() && options_.admit_into_free_memory;
  const int32_t planned_host = r->kv.spec().host_blocks - txn_.host_available();
  bool skipped = false;
  while (Job* v = NextVictim(r, rank)) {
    if (!MayEvictFor(*v, for_job, step)) {
      // Not for this job, but perhaps for the next one (a resident job that
      // grows may evict it): the walk starts again for the next candidate.
      skipped = true;
      continue;
    }
    if (guarded_for &&
        planned_host + static_cast<int32_t>(v->kv.device.size()) > debt_limit_blocks_) {
      // A new job evicts only within the swap-in debt limit: a victim this
      // large would put more on the host than the stall bound can bring back
      // within its copy share (a smaller one further up may still fit).
      skipped = true;
      continue;
    }
    const bool swap = swap_enabled_ && txn_.PlanSwapOut(&v->kv);
    if (!swap && swap_enabled_ && !relaxed_ && v->num_computed > RecomputeLimit()) {
      ++stats_.recompute_refusals;  // the host is full and redoing it would cost more than a step
      continue;
    }
    if (!swap) txn_.PlanRelease(&v->kv);
    v->plan_evicted = true;
    v->plan_in_batch = false;
    evictions_.push_back({v, swap});
    return true;
  }
  if (skipped) victim_started_ = false;
  return false;
}

void Scheduler::PlanMemory(Replica* r, int64_t step, size_t begin, bool allow_evict) {
  const int32_t bs = r->kv.spec().block_size;
  for (size_t i = begin; i < candidates_.size(); ++i) {
    Job* j = candidates_[i];
    int32_t t = batch_tokens_[i];
    if (t == 0) continue;
    if (j->plan_evicted) {
      batch_tokens_[i] = 0;
      continue;
    }
    const bool swapped = j->state == JobState::kSwapped;
    const int32_t have = static_cast<int32_t>(swapped ? j->kv.host.size() : j->kv.device.size());
    const int32_t swap_cost = swapped ? have : 0;
    int32_t need_new = r->kv.BlocksFor(j->num_computed + t) - have;
    // Swap admission: a job that has not started takes only free blocks while
    // the host holds enough preempted KV.
    const bool guarded = swap_enabled_ && !relaxed_ && j->not_started();
    const int32_t planned_host = r->kv.spec().host_blocks - txn_.host_available();
    const bool may_evict =
        allow_evict &&
        !(guarded && options_.admit_into_free_memory && planned_host >= debt_limit_blocks_) &&
        !(guarded && !options_.admit_into_free_memory && planned_host >= SwapAdmitBlocks(*r));
    while (may_evict && txn_.device_available() < swap_cost + need_new &&
           EvictOne(r, static_cast<int32_t>(i), step)) {
    }
    if (txn_.device_available() < swap_cost + need_new) {
      // Shrink a prefill chunk to the blocks that are left.
      const int32_t room = (have + txn_.device_available() - swap_cost) * bs - j->num_computed;
      t = (t > 1 && room > 0) ? AlignedChunk(j->num_computed, j->remaining(), std::min(room, t), bs)
                              : 0;
      need_new = r->kv.BlocksFor(j->num_computed + t) - have;
      if (t == 0 || txn_.device_available() < swap_cost + need_new) {
        batch_tokens_[i] = 0;
        j->plan_in_batch = false;
        continue;
      }
    }
    if (swapped) {
      txn_.PlanSwapIn(&j->kv);
      swap_ins_.push_back(j);
      blocking_swap_in_blocks_ += have;
    }
    SJ_CHECK(txn_.PlanAllocate(&j->kv, need_new)) << "allocation planned beyond availability";
    batch_tokens_[i] = t;
  }
}

// Slots and budget that the candidates could not use (a candidate found no
// memory it may take) go to resident jobs outside the step, in MLFQ order,
// within free blocks: a step never idles a slot that a resident job could
// fill, and a replica with work never plans an empty step because its top
// candidates wait for memory.
void Scheduler::FillIdleSlots(Replica* r, int64_t step) {
  const size_t limit = StepSlots();
  size_t used = 0;
  int32_t budget = token_budget_;
  for (int32_t t : batch_tokens_) {
    used += t > 0;
    budget -= t;
  }
  if (used >= limit || budget <= 0) return;
  // Device blocks held by resident jobs outside the step: the walk ends once
  // it has seen them all (usually at once: there are none).
  int64_t outside = r->kv.device_used();
  for (const Job* j : candidates_) {
    if (j->state == JobState::kResident) outside -= static_cast<int64_t>(j->kv.device.size());
  }
  const size_t first = candidates_.size();
  const int32_t bs = r->kv.spec().block_size;
  for (int32_t level = 0; level < policy_.num_levels() && used < limit && budget > 0 && outside > 0;
       ++level) {
    for (Job* j = r->levels[level].front();
         j != nullptr && used < limit && budget > 0 && outside > 0; j = LevelList::Next(j)) {
      if (j->plan_rank >= 0 || j->state != JobState::kResident || j->exhausted()) continue;
      outside -= static_cast<int64_t>(j->kv.device.size());
      if (j->plan_evicted) continue;
      const int32_t t =
          j->remaining() == 1 ? 1 : AlignedChunk(j->num_computed, j->remaining(), budget, bs);
      j->plan_filler = true;
      j->plan_rank = static_cast<int32_t>(candidates_.size());
      j->plan_in_batch = true;
      candidates_.push_back(j);
      batch_candidates_.push_back({j->num_computed, j->remaining()});
      batch_tokens_.push_back(t);
      ++used;
      budget -= t;
    }
  }
  PlanMemory(r, step, first, /*allow_evict=*/false);
}

int32_t Scheduler::ReserveBlocks(const Replica& r) const {
  if (options_.reserve_blocks >= 0)
    return std::min(options_.reserve_blocks, r.kv.spec().device_blocks);
  return static_cast<int32_t>(std::ceil(options_.reserve_fraction * r.kv.spec().device_blocks));
}

void Scheduler::KeepReserve(Replica* r, int64_t step) {
  const int32_t reserve = ReserveBlocks(*r);
  while (txn_.device_available() < reserve) {
    Job* v = NextVictim(r, -1);
    if (v == nullptr) return;
    if (v->plan_in_batch || step - v->last_swap_in_step < options_.no_pingpong_steps) continue;
    if (!txn_.PlanSwapOut(&v->kv)) return;  // host full: no proactive recompute
    v->plan_evicted = true;
    evictions_.push_back({v, true});
    ++stats_.proactive_swap_outs;
  }
}

void Scheduler::Prefetch(Replica* r, int64_t step) {
  const int32_t reserve = ReserveBlocks(*r);
  int32_t looked = 0;
  int32_t moved = 0;
  auto consider = [&](Job* j) -> bool {  // false stops the look-ahead
    if (++looked > options_.prefetch_lookahead) return false;
    if (j->state != JobState::kSwapped || step - j->last_swap_out_step < options_.no_pingpong_steps)
      return true;
    const int32_t n = static_cast<int32_t>(j->kv.host.size());
    if (moved + n > options_.max_prefetch_blocks || txn_.device_available() - n < reserve)
      return false;
    txn_.PlanSwapIn(&j->kv);
    swap_ins_.push_back(j);
    moved += n;
    ++stats_.prefetch_swap_ins;
    return true;
  };
  // Chosen jobs left out of this step run soonest, then the jobs after them.
  for (Job* j : candidates_) {
    if (!j->plan_in_batch && !consider(j)) return;
  }
  Job* j = walk_level_pos_;
  for (int32_t level = walk_level_; level < policy_.num_levels();) {
    if (j == nullptr) {
      if (++level < policy_.num_levels()) j = r->levels[level].front();
      continue;
    }
    if (!consider(j)) return;
    j = LevelList::Next(j);
  }
}

void Scheduler::CommitAndEmit(Replica* r, int64_t step, StepPlan* plan) {
  for (const Eviction& e : evictions_) {
    Job* v = e.job;
    if (e.swap) {
      stats_.swapped_out_blocks += static_cast<int64_t>(v->kv.device.size());
    }
  }
  int64_t swapped_in = 0;
  for (const Job* j : swap_ins_) swapped_in += static_cast<int64_t>(j->kv.host.size());
  txn_.Commit(&plan->swap_out, &plan->swap_in);
  plan->num_blocking_swap_in = blocking_swap_in_blocks_;
  stats_.swapped_in_blocks += swapped_in;
  for (const Eviction& e : evictions_) {
    Job* v = e.job;
    v->plan_evicted = false;
    if (e.swap) {
      v->state = JobState::kSwapped;
      r->SetResident(v, false);
      v->last_swap_out_step = step;
      ++stats_.preemptions_swap;
      plan->swapped_out_requests.push_back(v->id);
    } else {
      stats_.recomputed_tokens += v->num_computed;
      v->num_computed = 0;
      v->state = JobState::kQueued;
      r->SetResident(v, false);
      ++stats_.preemptions_recompute;
      plan->recomputed.push_back(v->id);
    }
  }
  for (Job* j : swap_ins_) {
    j->state = JobState::kResident;
    r->SetResident(j, true);
    j->last_swap_in_step = step;
  }
  StepFeatures features;
  int64_t continuing = 0;
  Replica::InFlightStep record = std::move(r->spare);
  record.step = step;
  record.jobs.clear();
  record.token_index.clear();
  for (size_t i = 0; i < candidates_.size(); ++i) {
    Job* j = candidates_[i];
    j->plan_in_batch = false;
    j->plan_evicted = false;
    j->plan_urgent = false;
    j->plan_filler = false;
    j->plan_rank = -1;
    const int32_t t = batch_tokens_[i];
    if (t == 0) continue;
    j->state = JobState::kResident;
    r->SetResident(j, true);
    ++j->in_flight_steps;
    if (j->last_ran_step == r->step) ++continuing;
    j->last_ran_step = step;
    StepSequence s;
    s.request_id = j->id;
    s.token_offset = static_cast<int32_t>(plan->token_ids.size());
    s.num_tokens = t;
    s.start_position = j->num_computed;
    s.block_offset = static_cast<int32_t>(plan->block_tables.size());
    s.num_blocks = static_cast<int32_t>(j->kv.device.size());
    s.samples = j->num_computed + t == j->total_tokens();
    plan->token_ids.insert(plan->token_ids.end(), j->tokens.begin() + j->num_computed,
                           j->tokens.begin() + j->num_computed + t);
    plan->block_tables.insert(plan->block_tables.end(), j->kv.device.begin(), j->kv.device.end());
    plan->sequences.push_back(s);
    AddSequence(&features, j->num_computed, t);
    // Committed now: the step's tokens count as cached and its sample as
    // pending, so that the next step can be planned before this one is done.
    j->num_computed += t;
    record.jobs.push_back(j);
    if (s.samples) {
      record.token_index.push_back(j->total_tokens());
      j->tokens.push_back(kPendingToken);
    } else {
      record.token_index.push_back(-1);
    }
  }
  record.features = features;
  record.blocking_copy_blocks =
      static_cast<int32_t>(plan->swap_out.size()) + plan->num_blocking_swap_in;
  if (record.jobs.empty() && plan->swap_out.empty() && plan->swap_in.empty()) {
    r->spare = std::move(record);
    return;
  }
  stats_.preemptions_slot += std::max<int64_t>(0, r->last_batch_survivors - continuing);
  r->last_batch_survivors = static_cast<int64_t>(record.jobs.size());
  r->inflight.push_back(std::move(record));
}

void Scheduler::PlanCandidates(Replica* r, int64_t step, double now) {
  CollectCandidates(r, now);
  txn_.Begin(&r->kv);
  evictions_.clear();
  swap_ins_.clear();
  blocking_swap_in_blocks_ = 0;
  victim_started_ = false;
  PlanMemory(r, step, 0, /*allow_evict=*/true);
  FillIdleSlots(r, step);
}

void Scheduler::DropPlan() {
  for (const Eviction& e : evictions_) e.job->plan_evicted = false;
  for (Job* j : candidates_) {
    j->plan_in_batch = j->plan_evicted = j->plan_urgent = j->plan_filler = false;
    j->plan_rank = -1;
  }
  txn_.Abort();
}

bool Scheduler::BuildNextStep(ReplicaId replica, StepPlan* plan) {
  Replica* r = FindReplica(replica);
  if (r == nullptr || !r->alive || r->num_jobs == 0 ||
      static_cast<int32_t>(r->inflight.size()) >= std::max(1, options_.max_steps_in_flight))
    return false;
  plan->Clear();
  const double now = clock_->NowSeconds();
  if (options_.policy == PolicyKind::kMlfq) PromoteStarved(r, now);
  const int64_t step = r->step + 1;
  relaxed_ = false;
  PlanCandidates(r, step, now);
  bool runs = false;
  for (int32_t t : batch_tokens_) runs |= t > 0;
  if (!runs && evictions_.empty() && swap_ins_.empty()) {
    // Liveness: the guards (swap admission, level gap, recompute guard) keep
    // memory from changing hands for little gain, but a replica with work
    // never idles because of them: plan again without them.
    DropPlan();
    relaxed_ = true;
    PlanCandidates(r, step, now);
  }
  if (swap_enabled_) {
    KeepReserve(r, step);
    Prefetch(r, step);
  }
  CommitAndEmit(r, step, plan);
  if (plan->sequences.empty() && plan->swap_out.empty() && plan->swap_in.empty()) return false;
  plan->replica_id = replica;
  plan->step_id = static_cast<uint64_t>(step);
  r->step = step;
  ++stats_.steps;
  return true;
}

}  // namespace skipjoin::scheduler
