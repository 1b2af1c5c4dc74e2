#include "coordinator/scheduler/kv_block_manager.h"

#include <gtest/gtest.h>

namespace skipjoin::scheduler {
namespace {

TEST(KvBlockManagerTest, PlanDoesNotMutateUntilCommit) {
  KvBlockManager m({8, 8, 16});
  KvTable t;
  KvTransaction txn;
  txn.Begin(&m);
  ASSERT_TRUE(txn.PlanAllocate(&t, 3));
  EXPECT_EQ(txn.device_available(), 5);
  EXPECT_EQ(m.device_free(), 8);
  EXPECT_TRUE(t.device.empty());
  EXPECT_FALSE(txn.PlanAllocate(&t, 6));
  txn.Abort();
  EXPECT_EQ(m.device_free(), 8);
  txn.Begin(&m);
  ASSERT_TRUE(txn.PlanAllocate(&t, 3));
  std::vector<BlockPair> out, in;
  txn.Commit(&out, &in);
  EXPECT_EQ(t.device.size(), 3u);
  EXPECT_EQ(m.device_free(), 5);
  const KvTable* tables[] = {&t};
  EXPECT_TRUE(m.CheckConservation(tables).ok());
}

TEST(KvBlockManagerTest, SwapOutAndInEmitCopiesAndMoveBlocks) {
  KvBlockManager m({4, 4, 16});
  KvTable a, b;
  KvTransaction txn;
  txn.Begin(&m);
  ASSERT_TRUE(txn.PlanAllocate(&a, 3));
  std::vector<BlockPair> out, in;
  txn.Commit(&out, &in);
  // Swap a out and give its device blocks to b in the same plan.
  txn.Begin(&m);
  ASSERT_TRUE(txn.PlanSwapOut(&a));
  ASSERT_TRUE(txn.PlanAllocate(&b, 4));
  txn.Commit(&out, &in);
  ASSERT_EQ(out.size(), 3u);
  EXPECT_TRUE(a.device.empty());
  EXPECT_EQ(a.host.size(), 3u);
  for (size_t i = 0; i < 3; ++i) EXPECT_EQ(out[i].host, a.host[i]);
  const KvTable* tables[] = {&a, &b};
  EXPECT_TRUE(m.CheckConservation(tables).ok());
  // Swap-in needs device room.
  txn.Begin(&m);
  EXPECT_FALSE(txn.PlanSwapIn(&a));
  txn.PlanRelease(&b);
  ASSERT_TRUE(txn.PlanSwapIn(&a));
  out.clear();
  txn.Commit(&out, &in);
  EXPECT_EQ(in.size(), 3u);
  EXPECT_EQ(a.device.size(), 3u);
  EXPECT_TRUE(a.host.empty());
  EXPECT_TRUE(m.CheckConservation(tables).ok());
}

TEST(KvBlockManagerTest, HostBlocksFreedBySwapInAreNotReusedBySameSwapOut) {
  KvBlockManager m({4, 2, 16});
  KvTable a, b;
  KvTransaction txn;
  std::vector<BlockPair> out, in;
  txn.Begin(&m);
  ASSERT_TRUE(txn.PlanAllocate(&a, 2));
  ASSERT_TRUE(txn.PlanAllocate(&b, 2));
  txn.Commit(&out, &in);
  txn.Begin(&m);
  ASSERT_TRUE(txn.PlanSwapOut(&a));  // host now full
  txn.Commit(&out, &in);
  txn.Begin(&m);
  ASSERT_TRUE(txn.PlanSwapIn(&a));
  // The worker copies out before in: a's host blocks are still being read.
  EXPECT_FALSE(txn.PlanSwapOut(&b));
}

}  // namespace
}  // namespace skipjoin::scheduler
