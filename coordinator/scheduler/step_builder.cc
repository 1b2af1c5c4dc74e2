// Scheduler::BuildNextStep: plans one iteration of a replica.
//
//  1. Starved jobs return to the front of level 0.
//  2. Candidates: the first min(max_running_sequences, token_budget) jobs in
//     MLFQ order (level, then FIFO within the level). FormBatch gives decodes
//     one token each, then prefill chunks up to the token budget.
//  3. Memory, in priority order: each chosen job reserves the blocks it needs
//     (its swap-in plus new blocks). When the device is short, the lowest-
//     priority resident jobs are evicted first -- jobs outside the step, then
//     chosen jobs ranked below the current one -- by swap-out, or by recompute
//     when the host pool is full (fcfs always recomputes). A prefill that still
//     does not fit shrinks to what does.
//  4. Proactive (mlfq): swap out the lowest-ranked resident jobs until the
//     device reserve is free, then swap in the swapped jobs ranked just below
//     the step while the reserve holds. Neither touches a job that moved the
//     other way within no_pingpong_steps.
//  5. Commit the block transaction and emit the plan.
#include <algorithm>
#include <cmath>

#include "coordinator/scheduler/scheduler.h"

namespace skipjoin::scheduler {

using internal::Job;
using internal::JobState;
using internal::LevelList;

void Scheduler::PromoteStarved(Replica* r, double now) {
  promoted_.clear();
  while (Job* j = r->lru.front()) {
    if (!policy_.IsStarved(now - j->last_service)) break;
    r->lru.Remove(j);
    r->lru.PushBack(j);
    j->last_service = now;
    promoted_.push_back(j);
  }
  // Oldest first at the very front of level 0.
  for (auto it = promoted_.rbegin(); it != promoted_.rend(); ++it) {
    Job* j = *it;
    r->levels[j->level].Remove(j);
    j->level = 0;
    j->quantum_used = 0;
    r->levels[0].PushFront(j);
    ++stats_.starvation_promotions;
  }
}

void Scheduler::CollectCandidates(Replica* r) {
  candidates_.clear();
  batch_candidates_.clear();
  const size_t limit = static_cast<size_t>(std::min(options_.max_running_sequences, token_budget_));
  walk_level_ = 0;
  walk_level_pos_ = nullptr;
  for (int32_t level = 0; level < policy_.num_levels(); ++level) {
    Job* j = r->levels[level].front();
    for (; j != nullptr && candidates_.size() < limit; j = LevelList::Next(j)) {
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
  FormBatch(batch_candidates_, limits, batch_tokens_);
  for (size_t i = 0; i < candidates_.size(); ++i) {
    candidates_[i]->plan_in_batch = batch_tokens_[i] > 0;
    candidates_[i]->plan_evicted = false;
    candidates_[i]->plan_rank = static_cast<int32_t>(i);
  }
}

// The walk moves up from the lowest-ranked job while the jobs being planned
// move down from the top; once the walk reaches a candidate ranked at or above
// the one being planned, nothing it could still find may be evicted for it.
Job* Scheduler::NextVictim(Replica* r, int32_t stop_rank) {
  if (!victim_started_) {
    victim_started_ = true;
    victim_level_ = policy_.num_levels() - 1;
    victim_pos_ = r->levels[victim_level_].back();
  }
  while (true) {
    while (victim_pos_ == nullptr) {
      if (victim_level_ == 0) return nullptr;
      --victim_level_;
      victim_pos_ = r->levels[victim_level_].back();
    }
    Job* j = victim_pos_;
    if (j->plan_rank >= 0 && j->plan_rank <= stop_rank) return nullptr;
    victim_pos_ = LevelList::Prev(j);
    if (j->state == JobState::kResident && !j->plan_evicted) return j;
  }
}

bool Scheduler::EvictOne(Replica* r, int32_t rank) {
  Job* v = NextVictim(r, rank);
  if (v == nullptr) return false;
  v->plan_evicted = true;
  v->plan_in_batch = false;
  const bool swap = swap_enabled_ && txn_.PlanSwapOut(&v->kv);
  if (!swap) txn_.PlanRelease(&v->kv);
  evictions_.push_back({v, swap});
  return true;
}

void Scheduler::PlanMemory(Replica* r) {
  const int32_t bs = r->kv.spec().block_size;
  for (size_t i = 0; i < candidates_.size(); ++i) {
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
    while (txn_.device_available() < swap_cost + need_new && EvictOne(r, static_cast<int32_t>(i))) {
    }
    if (txn_.device_available() < swap_cost + need_new) {
      // Shrink a prefill chunk to the blocks that are left.
      const int32_t room = (have + txn_.device_available() - swap_cost) * bs - j->num_computed;
      t = (t > 1 && room > 0) ? AlignedChunk(j->num_computed, j->remaining(), std::min(room, t), bs) : 0;
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

int32_t Scheduler::ReserveBlocks(const Replica& r) const {
  if (options_.reserve_blocks >= 0) return std::min(options_.reserve_blocks, r.kv.spec().device_blocks);
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
    if (j->state != JobState::kSwapped || step - j->last_swap_out_step < options_.no_pingpong_steps) return true;
    const int32_t n = static_cast<int32_t>(j->kv.host.size());
    if (moved + n > options_.max_prefetch_blocks || txn_.device_available() - n < reserve) return false;
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
      v->last_swap_out_step = step;
      ++stats_.preemptions_swap;
      plan->swapped_out_requests.push_back(v->id);
    } else {
      stats_.recomputed_tokens += v->num_computed;
      v->num_computed = 0;
      v->state = JobState::kQueued;
      ++stats_.preemptions_recompute;
      plan->recomputed.push_back(v->id);
    }
  }
  for (Job* j : swap_ins_) {
    j->state = JobState::kResident;
    j->last_swap_in_step = step;
  }
  StepFeatures features;
  int64_t continuing = 0;
  r->inflight_jobs.clear();
  r->inflight_tokens.clear();
  for (size_t i = 0; i < candidates_.size(); ++i) {
    Job* j = candidates_[i];
    j->plan_in_batch = false;
    j->plan_evicted = false;
    j->plan_rank = -1;
    const int32_t t = batch_tokens_[i];
    if (t == 0) continue;
    j->state = JobState::kResident;
    j->in_flight = true;
    if (j->last_ran_step == r->step) ++continuing;
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
    r->inflight_jobs.push_back(j);
    r->inflight_tokens.push_back(t);
    AddSequence(&features, j->num_computed, t);
  }
  stats_.preemptions_slot += std::max<int64_t>(0, r->last_batch_survivors - continuing);
  r->inflight_features = features;
}

bool Scheduler::BuildNextStep(ReplicaId replica, StepPlan* plan) {
  Replica* r = FindReplica(replica);
  if (r == nullptr || !r->alive || r->in_flight || r->num_jobs == 0) return false;
  plan->Clear();
  const double now = clock_->NowSeconds();
  PromoteStarved(r, now);
  const int64_t step = r->step + 1;
  CollectCandidates(r);
  txn_.Begin(&r->kv);
  evictions_.clear();
  swap_ins_.clear();
  blocking_swap_in_blocks_ = 0;
  victim_started_ = false;
  PlanMemory(r);
  if (swap_enabled_) {
    KeepReserve(r, step);
    Prefetch(r, step);
  }
  CommitAndEmit(r, step, plan);
  if (plan->sequences.empty() && plan->swap_out.empty() && plan->swap_in.empty()) return false;
  plan->replica_id = replica;
  plan->step_id = static_cast<uint64_t>(step);
  r->step = step;
  r->in_flight = true;
  ++stats_.steps;
  return true;
}

}  // namespace skipjoin::scheduler
