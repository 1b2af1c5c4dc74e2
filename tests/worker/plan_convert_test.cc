// StepPlan -> StepInput translation: field mapping, validation of what the
// engine cannot check, and the per-sequence sampling counters.
#include "worker/process/plan_convert.h"

#include <gtest/gtest.h>

namespace skipjoin::worker {
namespace {

protocol::StepPlan PlanWithOneSequence() {
  protocol::StepPlan plan;
  plan.replica_id = 2;
  plan.step_id = 9;
  plan.swap_out = {{3, 1}};
  plan.swap_in = {{4, 0}};
  protocol::SequenceInput s;
  s.seq_id = 42;
  s.token_ids = {5, 6, 7};
  s.start_position = 16;
  s.block_table = {0, 1};
  s.sample = true;
  s.sampling.temperature = 0.7f;
  s.sampling.top_k = 5;
  s.sampling.logprobs = 2;
  plan.sequences.push_back(s);
  return plan;
}

TEST(PlanConvertTest, MapsEveryField) {
  SampleCounters counters;
  auto in = ToStepInput(PlanWithOneSequence(), 8, 4, counters);
  ASSERT_TRUE(in.ok()) << in.status().ToString();
  ASSERT_EQ(in->swap_out.size(), 1u);
  EXPECT_EQ(in->swap_out[0].device, 3);
  EXPECT_EQ(in->swap_out[0].host, 1);
  EXPECT_EQ(in->swap_in[0].device, 4);
  ASSERT_EQ(in->seqs.size(), 1u);
  const SeqInput& s = in->seqs[0];
  EXPECT_EQ(s.seq_id, 42u);
  EXPECT_EQ(s.tokens, (std::vector<int32_t>{5, 6, 7}));
  EXPECT_EQ(s.start_pos, 16);
  EXPECT_EQ(s.block_table, (std::vector<int32_t>{0, 1}));
  EXPECT_TRUE(s.sample);
  EXPECT_EQ(s.sample_index, 0);
  EXPECT_FLOAT_EQ(s.sampling.temperature, 0.7f);
  EXPECT_EQ(s.sampling.top_k, 5);
  EXPECT_EQ(s.sampling.logprobs, 2);
  EXPECT_EQ(s.sampling.seed, DefaultSeed(42));
}

TEST(PlanConvertTest, CountsSamplesPerSequenceAndForgetsFinished) {
  SampleCounters counters;
  auto plan = PlanWithOneSequence();
  plan.sequences[0].sampling.seed = 77;
  EXPECT_EQ(ToStepInput(plan, 8, 4, counters)->seqs[0].sample_index, 0);
  auto second = ToStepInput(plan, 8, 4, counters);
  EXPECT_EQ(second->seqs[0].sample_index, 1);
  EXPECT_EQ(second->seqs[0].sampling.seed, 77u);
  plan.finished_seq_ids = {42};
  EXPECT_EQ(ToStepInput(plan, 8, 4, counters)->seqs[0].sample_index, 2);
  EXPECT_EQ(counters.size(), 0u);
  EXPECT_EQ(ToStepInput(plan, 8, 4, counters)->seqs[0].sample_index, 0);
}

TEST(PlanConvertTest, RejectsBlocksOutsideThePools) {
  SampleCounters counters;
  auto plan = PlanWithOneSequence();
  plan.sequences[0].block_table = {0, 8};
  auto in = ToStepInput(plan, 8, 4, counters);
  ASSERT_FALSE(in.ok());
  EXPECT_EQ(in.status().code(), StatusCode::kInvalidArgument);
  EXPECT_NE(in.status().message().find("sequence 42"), std::string::npos);
  EXPECT_EQ(counters.size(), 0u) << "a rejected plan must not advance the counters";

  plan = PlanWithOneSequence();
  plan.swap_in = {{0, 4}};
  EXPECT_FALSE(ToStepInput(plan, 8, 4, counters).ok());
}

TEST(PlanConvertTest, RejectsEmptyDuplicateAndBadSampling) {
  SampleCounters counters;
  auto plan = PlanWithOneSequence();
  plan.sequences.push_back(plan.sequences[0]);
  EXPECT_FALSE(ToStepInput(plan, 8, 4, counters).ok());
  plan = PlanWithOneSequence();
  plan.sequences[0].token_ids.clear();
  EXPECT_FALSE(ToStepInput(plan, 8, 4, counters).ok());
  plan = PlanWithOneSequence();
  plan.sequences[0].sampling.top_p = 0;
  EXPECT_FALSE(ToStepInput(plan, 8, 4, counters).ok());
  plan = PlanWithOneSequence();
  plan.sequences[0].sampling.temperature = -1;
  EXPECT_FALSE(ToStepInput(plan, 8, 4, counters).ok());
}

TEST(PlanConvertTest, ResultCarriesIdsAndOutputs) {
  StepOutput out;
  SeqOutput s;
  s.seq_id = 42;
  s.token = 11;
  s.logprob = -0.5f;
  s.top = {{11, -0.5f}, {3, -1.0f}};
  out.seqs.push_back(s);
  auto r = ToStepResult(PlanWithOneSequence(), 5, out);
  EXPECT_EQ(r.replica_id, 2u);
  EXPECT_EQ(r.step_id, 9u);
  EXPECT_EQ(r.worker_id, 5u);
  ASSERT_EQ(r.sequences.size(), 1u);
  EXPECT_EQ(r.sequences[0].sampled_token, 11);
  EXPECT_FLOAT_EQ(r.sequences[0].logprob, -0.5f);
  ASSERT_EQ(r.sequences[0].top_logprobs.size(), 2u);
  EXPECT_EQ(r.sequences[0].top_logprobs[1].token, 3);
  EXPECT_FALSE(r.error.has_value());
}

}  // namespace
}  // namespace skipjoin::worker
