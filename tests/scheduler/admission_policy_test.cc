// The swap-in debt admission rule and the victim order, as pure functions.
#include "coordinator/scheduler/admission_policy.h"

#include <gtest/gtest.h>

#include <cmath>
#include <limits>

#include "coordinator/scheduler/victim_policy.h"

namespace skipjoin::scheduler {
namespace {

// 400 device blocks, 1 ms per block copy, a 1 s stall bound, 16 slots.
AdmissionSnapshot Healthy() {
  AdmissionSnapshot s;
  s.device_blocks = 400;
  s.host_debt_blocks = 0;
  s.block_copy_seconds = 0.001;
  s.stall_seconds = 1.0;
  s.slots = 16;
  s.forced = 0;
  s.started = 10;
  s.measured_copy_share = 0;
  return s;
}

TEST(AdmissionPolicyTest, DebtLimitIsTheKvWhoseStallRoundTripsCostTheShare) {
  AdmissionOptions o;
  o.copy_share = 0.05;
  // 0.05 * 1 s / (2 * 1 ms) = 25 blocks: their round trips take 50 ms a second.
  EXPECT_EQ(SwapDebtLimitBlocks(o, Healthy()), 25);
  EXPECT_DOUBLE_EQ(PredictedCopyShare(25, 0.001, 1.0), 0.05);
  AdmissionSnapshot slow = Healthy();
  slow.block_copy_seconds = 0.004;  // a 4x slower link: a quarter of the debt
  EXPECT_EQ(SwapDebtLimitBlocks(o, slow), 6);
  AdmissionSnapshot lax = Healthy();
  lax.stall_seconds = 2.0;  // round trips due half as often: twice the debt
  EXPECT_EQ(SwapDebtLimitBlocks(o, lax), 50);
}

TEST(AdmissionPolicyTest, FallsBackToTheFixedFractionUntilCopiesAreMeasured) {
  AdmissionOptions o;
  o.fallback_fraction = 0.01;
  AdmissionSnapshot s = Healthy();
  s.block_copy_seconds = 0;
  EXPECT_EQ(SwapDebtLimitBlocks(o, s), 4);  // ceil(0.01 * 400)
  s = Healthy();
  s.stall_seconds = 0;  // no stall bound: nothing forces round trips to price
  EXPECT_EQ(SwapDebtLimitBlocks(o, s), 4);
  EXPECT_EQ(PredictedCopyShare(100, 0, 1.0), 0);
}

TEST(AdmissionPolicyTest, EvictionBudgetIsTheLimitLessTheDebt) {
  AdmissionOptions o;
  o.copy_share = 0.05;
  AdmissionSnapshot s = Healthy();
  s.host_debt_blocks = 10;
  const AdmissionDecision d = DecideAdmission(o, s);
  EXPECT_TRUE(d.admit);
  EXPECT_EQ(d.debt_limit_blocks, 25);
  EXPECT_EQ(d.evict_budget_blocks, 15);
}

TEST(AdmissionPolicyTest, MeasuredCopiesCloseTheBudgetBeforeTheyReachTheShare) {
  AdmissionOptions o;
  o.copy_share = 0.05;
  AdmissionSnapshot s = Healthy();
  s.measured_copy_share = 0.025;  // half the share already spent: half the budget
  EXPECT_EQ(DecideAdmission(o, s).evict_budget_blocks, 12);
  s.measured_copy_share = 0.05;
  EXPECT_EQ(DecideAdmission(o, s).evict_budget_blocks, 0);
  EXPECT_TRUE(DecideAdmission(o, s).admit) << "free memory stays open";
  s.measured_copy_share = 0.3;
  EXPECT_EQ(DecideAdmission(o, s).evict_budget_blocks, 0);
}

TEST(AdmissionPolicyTest, NoNewJobWhileTheDebtOrTheStallBoundOrTheStartedSetIsAtItsLimit) {
  AdmissionOptions o;
  o.copy_share = 0.05;
  o.max_started = 64;
  AdmissionSnapshot s = Healthy();
  s.host_debt_blocks = 26;  // beyond the 25-block limit
  EXPECT_FALSE(DecideAdmission(o, s).admit);
  EXPECT_EQ(DecideAdmission(o, s).evict_budget_blocks, 0);
  s = Healthy();
  s.forced = 5;  // more than a quarter of the 16 slots
  EXPECT_FALSE(DecideAdmission(o, s).admit);
  s.forced = 4;
  EXPECT_TRUE(DecideAdmission(o, s).admit);
  s = Healthy();
  s.started = 64;
  EXPECT_FALSE(DecideAdmission(o, s).admit);
}

TEST(AdmissionPolicyTest, ZeroShareMeansFreeMemoryOnly) {
  AdmissionOptions o;
  o.copy_share = 0;
  const AdmissionDecision d = DecideAdmission(o, Healthy());
  EXPECT_TRUE(d.admit);
  EXPECT_EQ(d.evict_budget_blocks, 0);
}

TEST(CopyShareMeterTest, IsATimeWeightedAverageOverItsWindow) {
  CopyShareMeter m(4.0);
  EXPECT_EQ(m.share(), 0);
  m.Observe(4.0, 2.0);  // one step as long as the window, half of it copies
  EXPECT_NEAR(m.share(), 0.5 * (1 - std::exp(-1.0)), 1e-12);
  for (int i = 0; i < 2000; ++i) m.Observe(0.02, 0.005);
  EXPECT_NEAR(m.share(), 0.25, 1e-4);
  for (int i = 0; i < 2000; ++i) m.Observe(0.02, 0);  // 40 s without copies
  EXPECT_LT(m.share(), 0.25 * std::exp(-9.0));
  m.Observe(0, 1.0);  // an empty step carries no time
  EXPECT_LT(m.share(), 0.25 * std::exp(-9.0));
}

TEST(VictimPolicyTest, LowerLevelFirstThenFurthestStallDeadline) {
  const double inf = std::numeric_limits<double>::infinity();
  const VictimView low{3, 1, 0.1};         // level 3, deadline in 0.1 s
  const VictimView high_far{1, 2, 0.9};    // level 1, just had a token
  const VictimView high_near{1, 3, 0.05};  // level 1, due in 50 ms
  const VictimView high_prefill{1, 0, inf};
  for (VictimOrder order : {VictimOrder::kMlfq, VictimOrder::kEnst}) {
    EXPECT_TRUE(EvictBefore(order, low, high_far)) << VictimOrderName(order);
    EXPECT_FALSE(EvictBefore(order, high_far, low)) << VictimOrderName(order);
  }
  // Within a level, ENST keeps out longest the job needed last.
  EXPECT_TRUE(EvictBefore(VictimOrder::kEnst, high_far, high_near));
  EXPECT_TRUE(EvictBefore(VictimOrder::kEnst, high_prefill, high_far));
  // The MLFQ order looks only at the FIFO position: the later arrival first.
  EXPECT_TRUE(EvictBefore(VictimOrder::kMlfq, high_near, high_far));
  EXPECT_TRUE(EvictBefore(VictimOrder::kMlfq, high_far, high_prefill));
  // Equal deadlines fall back to the FIFO position.
  EXPECT_TRUE(EvictBefore(VictimOrder::kEnst, VictimView{1, 5, 0.5}, VictimView{1, 4, 0.5}));
  EXPECT_FALSE(EvictBefore(VictimOrder::kEnst, VictimView{1, 4, 0.5}, VictimView{1, 4, 0.5}));
}

}  // namespace
}  // namespace skipjoin::scheduler
