// Options of the Scheduler, with defaults and units. See docs/SCHEDULER.md for
// how the defaults were chosen.
#pragma once

#include <cstdint>
#include <string_view>

#include "common/status.h"
#include "coordinator/scheduler/cost_model.h"
#include "coordinator/scheduler/mlfq_policy.h"

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
};

}  // namespace skipjoin::scheduler
