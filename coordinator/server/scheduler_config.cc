#include "coordinator/server/scheduler_config.h"

#include "coordinator/scheduler/victim_policy.h"
#include "coordinator/server/cost_model_store.h"

namespace skipjoin::server {

scheduler::SchedulerOptions SchedulerOptionsFrom(const config::ClusterConfig& c) {
  scheduler::SchedulerOptions o;
  switch (c.scheduler.policy) {
    case config::SchedulerPolicy::kMlfq:
      o.policy = scheduler::PolicyKind::kMlfq;
      break;
    case config::SchedulerPolicy::kFcfs:
      o.policy = scheduler::PolicyKind::kFcfs;
      break;
  }
  o.mlfq.num_levels = static_cast<int32_t>(c.scheduler.mlfq.levels);
  o.mlfq.base_quantum_seconds = c.scheduler.mlfq.quantum_base_ms / 1000.0;
  o.mlfq.quantum_ratio = c.scheduler.mlfq.quantum_ratio;
  o.mlfq.starvation_seconds = c.scheduler.mlfq.starvation_ms / 1000.0;
  o.max_running_sequences = static_cast<int32_t>(c.scheduler.max_running);
  o.token_budget = static_cast<int32_t>(c.scheduler.token_budget);
  o.tbt_target_seconds = c.scheduler.tbt_target_ms / 1000.0;
  o.no_pingpong_steps = static_cast<int32_t>(c.scheduler.swap.no_ping_pong_steps);
  o.swap_debt_share = c.scheduler.swap.debt_share;
  o.victim_order = c.scheduler.swap.victim_order == "enst" ? scheduler::VictimOrder::kEnst
                                                           : scheduler::VictimOrder::kMlfq;
  if (c.scheduler.swap.reserve_blocks > 0)
    o.reserve_blocks = static_cast<int32_t>(c.scheduler.swap.reserve_blocks);
  o.cost_prior = CostPriorFor(c);
  o.max_stall_seconds =
      c.scheduler.max_stall_ms ? *c.scheduler.max_stall_ms / 1000.0 : DefaultMaxStallSeconds(c);
  o.max_steps_in_flight = static_cast<int32_t>(c.scheduler.steps_in_flight);
  return o;
}

}  // namespace skipjoin::server
