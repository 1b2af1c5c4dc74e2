#include "coordinator/scheduler/mlfq_policy.h"

#include <cmath>

#include <gtest/gtest.h>

namespace skipjoin::scheduler {
namespace {

MlfqPolicy Policy() { return MlfqPolicy(MlfqOptions{4, 0.05, 2.0, 1.0}); }

TEST(MlfqPolicyTest, QuantaGrowGeometricallyAndLastIsInfinite) {
  MlfqPolicy p = Policy();
  EXPECT_DOUBLE_EQ(p.Quantum(0), 0.05);
  EXPECT_DOUBLE_EQ(p.Quantum(2), 0.2);
  EXPECT_TRUE(std::isinf(p.Quantum(3)));
}

TEST(MlfqPolicyTest, SkipJoinPicksFirstLevelWhoseQuantumCoversPrefill) {
  MlfqPolicy p = Policy();
  EXPECT_EQ(p.SkipJoinLevel(0.01, 0), 0);
  EXPECT_EQ(p.SkipJoinLevel(0.05, 0), 0);
  EXPECT_EQ(p.SkipJoinLevel(0.051, 0), 1);
  EXPECT_EQ(p.SkipJoinLevel(0.19, 0), 2);
  EXPECT_EQ(p.SkipJoinLevel(5.0, 0), 3);
}

TEST(MlfqPolicyTest, PriorityShiftsStartingLevel) {
  MlfqPolicy p = Policy();
  EXPECT_EQ(p.SkipJoinLevel(0.19, 1), 1);
  EXPECT_EQ(p.SkipJoinLevel(0.19, 5), 0);
  EXPECT_EQ(p.SkipJoinLevel(0.01, -2), 2);
  EXPECT_EQ(p.SkipJoinLevel(0.01, -9), 3);
}

TEST(MlfqPolicyTest, DemotesOneLevelWhenQuantumIsUsed) {
  MlfqPolicy p = Policy();
  auto c = p.ChargeService(0, 0.0, 0.03);
  EXPECT_FALSE(c.demoted);
  EXPECT_DOUBLE_EQ(c.used, 0.03);
  c = p.ChargeService(0, 0.03, 0.03);
  EXPECT_TRUE(c.demoted);
  EXPECT_EQ(c.level, 1);
  EXPECT_DOUBLE_EQ(c.used, 0.0);
  c = p.ChargeService(3, 100, 100);
  EXPECT_FALSE(c.demoted);
  EXPECT_EQ(c.level, 3);
}

TEST(MlfqPolicyTest, FcfsOptionsNeverDemoteOrStarve) {
  MlfqPolicy p(MlfqPolicy::FcfsOptions());
  EXPECT_EQ(p.num_levels(), 1);
  EXPECT_EQ(p.SkipJoinLevel(100, -3), 0);
  EXPECT_FALSE(p.ChargeService(0, 1e9, 1e9).demoted);
  EXPECT_FALSE(p.IsStarved(1e12));
}

}  // namespace
}  // namespace skipjoin::scheduler
