#include "coordinator/scheduler/batch_policy.h"

#include <vector>

#include <gtest/gtest.h>

namespace skipjoin::scheduler {
namespace {

TEST(BatchPolicyTest, DecodesFirstThenPrefillChunksUntilBudgetIsFull) {
  // Priority order: a prefill first, then two decodes, then another prefill.
  std::vector<BatchCandidate> c = {{0, 100}, {40, 1}, {70, 1}, {0, 50}};
  std::vector<int32_t> t(c.size());
  const int32_t total = FormBatch(c, {40, 8, 16}, t);
  EXPECT_EQ(t[1], 1);
  EXPECT_EQ(t[2], 1);
  EXPECT_EQ(t[0], 32);  // 38 left, cut back to the block edge at 32
  EXPECT_EQ(t[3], 6);   // what is left; no block edge within reach
  EXPECT_EQ(total, 40);
}

TEST(BatchPolicyTest, ChosenSetIsCappedBySequences) {
  std::vector<BatchCandidate> c = {{5, 1}, {5, 1}, {5, 1}};
  std::vector<int32_t> t(c.size());
  EXPECT_EQ(FormBatch(c, {100, 2, 16}, t), 2);
  EXPECT_EQ(t[2], 0);
}

TEST(BatchPolicyTest, ChunksEndOnBlockEdges) {
  EXPECT_EQ(AlignedChunk(0, 100, 40, 16), 32);
  EXPECT_EQ(AlignedChunk(32, 68, 40, 16), 32);
  EXPECT_EQ(AlignedChunk(10, 100, 40, 16), 38);  // ends at 48
  EXPECT_EQ(AlignedChunk(0, 30, 40, 16), 30);    // the last chunk ends the prompt
  EXPECT_EQ(AlignedChunk(20, 100, 8, 16), 8);    // no edge within reach
  EXPECT_EQ(AlignedChunk(0, 100, 0, 16), 0);
}

}  // namespace
}  // namespace skipjoin::scheduler
