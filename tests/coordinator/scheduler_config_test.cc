// SchedulerOptionsFrom: every `scheduler` key of a cluster config reaches the
// scheduler's options (the scheduler tests show what each option does).
#include "coordinator/server/scheduler_config.h"

#include <gtest/gtest.h>

namespace skipjoin::server {
namespace {

config::ClusterConfig Config(const std::string& scheduler) {
  auto c = config::ParseClusterConfig(R"(
name: t
nodes: [{name: n, host: 127.0.0.1, devices: [{kind: cpu, index: 0, threads: 2}]}]
model: {path: /tmp/none.gguf, name: tiny}
replicas: {count: 1, tp: 1}
kv: {num_device_blocks: 64}
scheduler: )" + scheduler + "\n",
                                      "t.yaml");
  EXPECT_TRUE(c.ok()) << c.status().ToString();
  return c.ok() ? *c : config::ClusterConfig{};
}

TEST(SchedulerConfigTest, DefaultsMatchTheSchedulersOwn) {
  const scheduler::SchedulerOptions o = SchedulerOptionsFrom(Config("{}"));
  const scheduler::SchedulerOptions d;
  EXPECT_EQ(o.policy, scheduler::PolicyKind::kMlfq);
  EXPECT_DOUBLE_EQ(o.swap_debt_share, d.swap_debt_share);
  EXPECT_EQ(o.victim_order, scheduler::VictimOrder::kMlfq);
  EXPECT_EQ(o.no_pingpong_steps, 8);
  EXPECT_DOUBLE_EQ(o.max_stall_seconds, 10.0);  // CPU devices
  EXPECT_EQ(o.max_steps_in_flight, 2);
}

TEST(SchedulerConfigTest, EveryKeyReachesTheOptions) {
  const scheduler::SchedulerOptions o = SchedulerOptionsFrom(Config(R"({policy: fcfs,
    token_budget: 300, max_running: 12, tbt_target_ms: 40, max_stall_ms: 2500,
    steps_in_flight: 1,
    mlfq: {levels: 3, quantum_base_ms: 20, quantum_ratio: 2, starvation_ms: 7000},
    swap: {reserve_blocks: 5, no_ping_pong_steps: 3, debt_share: 0.2, victim_order: enst}})"));
  EXPECT_EQ(o.policy, scheduler::PolicyKind::kFcfs);
  EXPECT_EQ(o.token_budget, 300);
  EXPECT_EQ(o.max_running_sequences, 12);
  EXPECT_DOUBLE_EQ(o.tbt_target_seconds, 0.04);
  EXPECT_DOUBLE_EQ(o.max_stall_seconds, 2.5);
  EXPECT_EQ(o.max_steps_in_flight, 1);
  EXPECT_EQ(o.mlfq.num_levels, 3);
  EXPECT_DOUBLE_EQ(o.mlfq.base_quantum_seconds, 0.02);
  EXPECT_DOUBLE_EQ(o.mlfq.quantum_ratio, 2.0);
  EXPECT_DOUBLE_EQ(o.mlfq.starvation_seconds, 7.0);
  EXPECT_EQ(o.reserve_blocks, 5);
  EXPECT_EQ(o.no_pingpong_steps, 3);
  EXPECT_DOUBLE_EQ(o.swap_debt_share, 0.2);
  EXPECT_EQ(o.victim_order, scheduler::VictimOrder::kEnst);
}

}  // namespace
}  // namespace skipjoin::server
