#include "coordinator/scheduler/simulator.h"

#include <gtest/gtest.h>

#include <nlohmann/json.hpp>

namespace skipjoin::scheduler {
namespace {

SimulatorOptions SmallSim(PolicyKind policy) {
  SimulatorOptions o;
  o.scheduler.policy = policy;
  o.scheduler.max_running_sequences = 16;
  o.pool = {256, 256, 16};
  o.cost_noise_cv = 0.1;
  o.seed = 11;
  return o;
}

std::vector<WorkloadRequest> SmallWorkload(uint64_t seed) {
  WorkloadOptions w;
  w.num_requests = 400;
  w.rate = 6;
  w.seed = seed;
  w.output.max = 512;
  return GenerateWorkload(w);
}

std::string WithoutWallTime(const SimulationResult& r) {
  auto j = nlohmann::json::parse(SimulationResultToJson(r));
  j.erase("wall_seconds");
  return j.dump();
}

TEST(SimulatorTest, SameSeedGivesSameResult) {
  for (PolicyKind p : {PolicyKind::kMlfq, PolicyKind::kFcfs}) {
    auto a = RunSimulation(SmallSim(p), SmallWorkload(3));
    auto b = RunSimulation(SmallSim(p), SmallWorkload(3));
    ASSERT_TRUE(a.ok() && b.ok());
    EXPECT_EQ(WithoutWallTime(*a), WithoutWallTime(*b));
    EXPECT_EQ(a->completed, 400);
    auto c = RunSimulation(SmallSim(p), SmallWorkload(4));
    ASSERT_TRUE(c.ok());
    EXPECT_NE(WithoutWallTime(*a), WithoutWallTime(*c));
  }
}

TEST(SimulatorTest, InvariantsHoldAfterEveryStepUnderMemoryPressure) {
  SimulatorOptions o = SmallSim(PolicyKind::kMlfq);
  o.pool = {64, 48, 16};
  o.num_replicas = 2;
  o.scheduler.reserve_fraction = 0.1;
  int64_t checked = 0;
  o.after_step = [&](const Scheduler& s) {
    ++checked;
    Status st = s.CheckInvariantsForTesting();
    ASSERT_TRUE(st.ok()) << st.ToString();
  };
  WorkloadOptions w;
  w.num_requests = 300;
  w.rate = 20;
  w.output.max = 400;
  w.prompt.max = 400;
  auto r = RunSimulation(o, GenerateWorkload(w));
  ASSERT_TRUE(r.ok()) << r.status().ToString();
  EXPECT_EQ(r->completed + r->rejected, 300);
  EXPECT_GT(r->stats.preemptions_swap, 0);
  EXPECT_GT(checked, 100);
}

TEST(SimulatorTest, FitsTheCostModelOnline) {
  SimulatorOptions o = SmallSim(PolicyKind::kMlfq);
  o.cost_noise_cv = 0;
  o.scheduler.cost_prior = {0.02, 1e-4, 0, 0};
  auto r = RunSimulation(o, SmallWorkload(5));
  ASSERT_TRUE(r.ok()) << r.status().ToString();
  EXPECT_NEAR(r->fitted_cost.a, o.true_cost.a, o.true_cost.a * 0.05);
  EXPECT_NEAR(r->fitted_cost.b, o.true_cost.b, o.true_cost.b * 0.05);
}

TEST(SimulatorTest, WorkloadMatchesRequestedShape) {
  WorkloadOptions w;
  w.num_requests = 20000;
  w.rate = 10;
  auto reqs = GenerateWorkload(w);
  double prompt = 0, output = 0;
  for (const auto& r : reqs) {
    prompt += r.prompt_len;
    output += r.output_len;
  }
  EXPECT_NEAR(prompt / reqs.size(), 200, 20);
  EXPECT_NEAR(output / reqs.size(), 250, 30);
  EXPECT_NEAR(reqs.back().arrival / reqs.size(), 0.1, 0.005);
}

TEST(SimulatorTest, SoloSecondsChunksThePromptThenDecodesAlone) {
  const CostCoefficients c{0.01, 0.001, 0.002, 0.0001};
  // Prompt 100 in chunks of 64 and 36 (context 64, 100), then 2 decodes (context 101, 102).
  const double expect = (0.01 + 0.064 + 0.002 + 0.0064) + (0.01 + 0.036 + 0.002 + 0.01) +
                        (0.01 + 0.001 + 0.002 + 0.0101) + (0.01 + 0.001 + 0.002 + 0.0102);
  EXPECT_NEAR(SoloSeconds(c, 100, 3, 64), expect, 1e-12);
  EXPECT_NEAR(SoloSeconds(c, 0, 0, 64), 0.0, 1e-12);
}

TEST(SimulatorTest, NoPolicyBeatsTheRunAloneBound) {
  WorkloadOptions w;
  w.num_requests = 300;
  w.rate = 2;
  SimulatorOptions o;
  for (PolicyKind p : {PolicyKind::kMlfq, PolicyKind::kFcfs, PolicyKind::kSrptOracle}) {
    o.scheduler.policy = p;
    auto r = RunSimulation(o, GenerateWorkload(w));
    ASSERT_TRUE(r.ok()) << r.status().ToString();
    EXPECT_GT(r->jct_lower_bound_mean, 0);
    EXPECT_GE(r->jct.mean, r->jct_lower_bound_mean) << PolicyKindName(p);
  }
}

}  // namespace
}  // namespace skipjoin::scheduler

namespace skipjoin::scheduler {
namespace {

// The metastable collapse of an earlier MLFQ: where slots and KV both bind
// (16 sequences, 400 device blocks of a 7B model) under bursty arrivals of a
// bimodal output mix at 80% of fcfs's capacity, mass starvation promotion and
// unbounded eviction swapped until throughput fell to a tenth of fcfs's.
TEST(SimulatorTest, MlfqDoesNotCollapseWhereSlotsAndKvBindUnderBursts) {
  SimulatorOptions o;
  o.true_cost = Gpu7bCostPrior();
  o.scheduler.cost_prior = o.true_cost;
  o.scheduler.max_running_sequences = 16;
  o.pool = {400, 8000, 16};
  WorkloadOptions w;
  w.num_requests = 1500;
  w.arrival = ArrivalKind::kGamma;
  w.cv = 4;
  w.output.kind = LengthKind::kBimodal;
  w.seed = 5;
  WorkloadOptions probe = w;
  probe.num_requests = 10000;
  probe.seed = 99;
  o.scheduler.policy = PolicyKind::kFcfs;
  auto capacity = MeasureSaturatedThroughput(o, GenerateWorkload(probe));
  ASSERT_TRUE(capacity.ok()) << capacity.status().ToString();
  w.rate = 0.8 * *capacity;
  const std::vector<WorkloadRequest> trace = GenerateWorkload(w);
  auto fcfs = RunSimulation(o, trace);
  o.scheduler.policy = PolicyKind::kMlfq;
  auto mlfq = RunSimulation(o, trace);
  ASSERT_TRUE(fcfs.ok() && mlfq.ok()) << fcfs.status().ToString() << mlfq.status().ToString();
  ASSERT_EQ(mlfq->completed, 1500);
  EXPECT_GE(mlfq->throughput_rps, 0.98 * fcfs->throughput_rps);
  EXPECT_LE(mlfq->jct.mean, fcfs->jct.mean);
  // The stall bound (1 s) holds up to a step or two, where fcfs stalls for tens of seconds.
  EXPECT_LE(mlfq->itl.max, o.scheduler.max_stall_seconds + 0.5);
  // Swap traffic: the collapsing scheduler moved ~170 TB on this trace (~50,000
  // device pools); now it is a few hundred pools over 1500 requests.
  const double device_pool_bytes = 400.0 * 16 * o.kv_bytes_per_token;
  EXPECT_LT(mlfq->swapped_bytes, 400 * device_pool_bytes);
}

}  // namespace
}  // namespace skipjoin::scheduler
