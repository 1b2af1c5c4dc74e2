// Options of the Scheduler, with defaults and units. See docs/SCHEDULER.md for
// how the defaults were chosen.
#pragma once

#include <cstdint>
#include <string_view>

#include "common/status.h"
#include "coordinator/scheduler/cost_model.h"
#include "coordinator/scheduler/mlfq_policy.h"
#include "coordinator/scheduler/victim_policy.h"

namespace skipjoin::scheduler {

enum class PolicyKind {
  kMlfq,  // skip-join MLFQ, swap preemption, proactive swapping (default)
  kFcfs,  // first come first served, recompute preemption (vLLM V1-like baseline)
  // Clairvoyant benchmark for the simulator, not for serving: shortest
  // remaining output first, taking max_new_tokens as the true output length
  // (what the simulator's requests generate). Jobs sit in level
  // floor(log2(remaining output tokens)), FIFO inside a level, re-levelled
  // after every step; swap preemption and proactive swapping as mlfq; no
  // starvation promotion. It shows how far any size-based order could go.
  kSrptOracle,
};

const char* PolicyKindName(PolicyKind kind);
// "mlfq", "fcfs" or "srpt-oracle".
Result<PolicyKind> ParsePolicyKind(std::string_view name);

struct SchedulerOptions {
  PolicyKind policy = PolicyKind::kMlfq;
  MlfqOptions mlfq;  // ignored by fcfs

  int32_t max_running_sequences = 256;  // sequences per step
  // Tokens fed per step. 0 derives it from the cost model so that a step with
  // max_running_sequences sequences of budget_mean_context tokens each takes at
  // most tbt_target_seconds.
  int32_t token_budget = 0;
  double tbt_target_seconds = 0.1;
  double budget_mean_context = 512;

  // Step cost model: prior coefficients and whether to refine them from every
  // measured step.
  CostCoefficients cost_prior{0.012, 6e-5, 5e-5, 2.6e-7, 1.8e-9};
  CostModelOptions cost_model;
  bool fit_cost_model_online = true;

  // Proactive swapping (mlfq only): keep this fraction of device blocks free by
  // swapping out the jobs expected to run last; swap in up to
  // prefetch_lookahead jobs ranked just below the step's set when that keeps
  // the reserve, moving at most max_prefetch_blocks per step.
  double reserve_fraction = 0.03;
  // When >= 0, the reserve in blocks (overrides reserve_fraction).
  int32_t reserve_blocks = -1;
  int32_t prefetch_lookahead = 8;
  int32_t max_prefetch_blocks = 256;
  // A job swapped in is not proactively swapped out (and vice versa) within
  // this many steps of its replica.
  int32_t no_pingpong_steps = 8;

  // Decode-stall bound (mlfq and srpt-oracle): a request that has produced a
  // token gets its next one within max_stall_seconds, whatever arrives: when
  // its deadline falls within two steps it is chosen ahead of the MLFQ order
  // (earliest deadline first) and is not evicted for others. 0 turns it off.
  double max_stall_seconds = 1.0;
  // Aging (mlfq): a job that has waited MlfqOptions::starvation_seconds moves
  // up one level (to the front of it), at most this many jobs per step, so
  // that aging can never move a crowd at once and evict what runs.
  int32_t max_promotions_per_step = 1;
  // Swap admission (mlfq): while the host pool holds more than this fraction
  // of the device pool's blocks, a job that has not started may only use free
  // device blocks; it evicts nobody. This bounds the KV of preempted jobs that
  // must come back (and so what the stall bound can cost in swap traffic),
  // and keeps swapping from overflowing into recompute (FastServe stops
  // admitting when host memory runs low).
  // Until the block copy time is measured (and without a stall bound) this
  // fraction is also the swap-in debt limit below.
  double swap_admit_fraction = 0.01;
  // Admission by swap-in debt (mlfq, with admit_into_free_memory): a new job
  // may evict by swap only while the host blocks of preempted KV after it stay
  // within swap_debt_share * max_stall_seconds / (2 * t_b), t_b the measured
  // copy time of one block -- the KV whose stall-bound round trips cost this
  // share of the replica's time (admission_policy.h). 0: new jobs use free
  // memory only.
  double swap_debt_share = 0.05;
  // Admission (mlfq): no new job starts while this many times
  // max_running_sequences jobs have started and not finished (the started set
  // the stall bound must serve through the slots).
  double max_started_factor = 4.0;
  // Admission (mlfq): a new job starts where its prompt fits in free device
  // blocks (beyond the reserve and what swapped jobs need back), or where the
  // blocks it evicts stay within the swap-in debt limit (swap_debt_share).
  // false: new jobs evict as any other job (bounded only by the level gap and
  // swap_admit_fraction), the eager admission that collapses under load.
  bool admit_into_free_memory = true;
  // Eviction hysteresis (mlfq): a job that is not resident (new, or swapped
  // out) may evict a job that has produced a token only if the victim sits at
  // least this many levels lower (it has
  // had ~ratio^gap times more service), so that memory changes hands only for
  // a large expected gain and jobs of similar age do not swap each other out
  // in turn. Resident jobs that grow and the stall bound's forced jobs are
  // exempt. Jobs swapped in within
  // no_pingpong_steps are evicted only when nothing else frees enough.
  int32_t evict_level_gap = 2;
  // Order in which resident jobs outside the step are evicted (mlfq and
  // srpt-oracle; victim_policy.h): kEnst, within a level, evicts the job
  // whose stall deadline is the furthest first.
  VictimOrder victim_order = VictimOrder::kMlfq;
  // Recompute guard (mlfq): when the host pool is full, only jobs with at most
  // this many cached tokens may be preempted by recompute (0: the token
  // budget, i.e. at most about one step of work is thrown away).
  int32_t max_recompute_tokens = 0;
  // Steps a replica may have planned and not yet finished. With 2 the next
  // step is planned while one runs (its decodes feed the token the running
  // step samples, kPendingToken, which the worker fills in itself), so the
  // coordinator's round trip overlaps compute.
  int32_t max_steps_in_flight = 1;
};

}  // namespace skipjoin::scheduler
