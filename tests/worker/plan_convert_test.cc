// The worker's SequenceTable: a delta StepPlan applied to per-request state
// becomes the engine's StepInput (field mapping, block-table deltas, pending
// tokens, epochs, RNG counters) and every malformed plan is refused by name.
#include "worker/process/plan_convert.h"

#include <gtest/gtest.h>

#include "common/grammar/token_vocabulary.h"

namespace skipjoin::worker {
namespace {

constexpr int32_t kBlockSize = 16;

// Adds one sequence to `plan` (flat arrays).
void AddSeq(protocol::StepPlan* plan, uint64_t id, uint32_t pos, std::vector<int32_t> tokens,
            std::vector<uint32_t> new_blocks, uint8_t flags) {
  plan->seq_ids.push_back(id);
  plan->start_positions.push_back(pos);
  plan->num_tokens.push_back(static_cast<uint32_t>(tokens.size()));
  plan->flags.push_back(flags);
  plan->num_new_blocks.push_back(static_cast<uint32_t>(new_blocks.size()));
  plan->token_ids.insert(plan->token_ids.end(), tokens.begin(), tokens.end());
  plan->new_blocks.insert(plan->new_blocks.end(), new_blocks.begin(), new_blocks.end());
}

protocol::SequenceStart Start(uint64_t id) {
  protocol::SequenceStart s;
  s.seq_id = id;
  s.sampling.temperature = 0.7f;
  s.sampling.top_k = 5;
  s.sampling.logprobs = 2;
  return s;
}

// Request 42: a 19-token prompt chunk at 0..18 over blocks 0 and 1, sampling.
protocol::StepPlan FirstPlan() {
  protocol::StepPlan plan;
  plan.replica_id = 2;
  plan.step_id = 9;
  plan.epoch = 1;
  plan.swap_out = {3, 1};
  plan.swap_in = {4, 0};
  plan.starts = {Start(42)};
  std::vector<int32_t> prompt(19);
  for (int i = 0; i < 19; ++i) prompt[i] = 100 + i;
  AddSeq(&plan, 42, 0, prompt, {0, 1}, protocol::kSeqSample | protocol::kSeqPromptLogprobs);
  return plan;
}

// The decode after it: the pending token at position 19, no new block.
protocol::StepPlan DecodePlan(uint64_t step) {
  protocol::StepPlan plan;
  plan.replica_id = 2;
  plan.step_id = step;
  plan.epoch = 1;
  AddSeq(&plan, 42, 19, {protocol::kPendingToken}, {}, protocol::kSeqSample);
  return plan;
}

StepOutput Sampled(uint64_t id, int32_t token) {
  StepOutput out;
  SeqOutput s;
  s.seq_id = id;
  s.token = token;
  out.seqs.push_back(s);
  return out;
}

TEST(SequenceTableTest, MapsEveryField) {
  SequenceTable table(8, 4, kBlockSize);
  auto in = table.Apply(FirstPlan());
  ASSERT_TRUE(in.ok()) << in.status().ToString();
  ASSERT_EQ(in->swap_out.size(), 1u);
  EXPECT_EQ(in->swap_out[0].device, 3);
  EXPECT_EQ(in->swap_out[0].host, 1);
  EXPECT_EQ(in->swap_in[0].device, 4);
  ASSERT_EQ(in->seqs.size(), 1u);
  const SeqInput& s = in->seqs[0];
  EXPECT_EQ(s.seq_id, 42u);
  EXPECT_EQ(s.tokens.size(), 19u);
  EXPECT_EQ(s.tokens[0], 100);
  EXPECT_EQ(s.start_pos, 0);
  EXPECT_EQ(s.block_table, (std::vector<int32_t>{0, 1}));
  EXPECT_TRUE(s.sample);
  EXPECT_TRUE(s.prompt_logprobs);
  EXPECT_EQ(s.sample_index, 0);
  EXPECT_FLOAT_EQ(s.sampling.temperature, 0.7f);
  EXPECT_EQ(s.sampling.top_k, 5);
  EXPECT_EQ(s.sampling.logprobs, 2);
  EXPECT_EQ(s.sampling.seed, DefaultSeed(42));
  EXPECT_EQ(table.size(), 1u);
}

TEST(SequenceTableTest, PendingTokenIsTheLastSampledOne) {
  SequenceTable table(8, 4, kBlockSize);
  ASSERT_TRUE(table.Apply(FirstPlan()).ok());
  table.Record(Sampled(42, 777));
  auto in = table.Apply(DecodePlan(10));
  ASSERT_TRUE(in.ok()) << in.status().ToString();
  EXPECT_EQ(in->seqs[0].tokens, (std::vector<int32_t>{777}));
  EXPECT_EQ(in->seqs[0].block_table, (std::vector<int32_t>{0, 1}));  // held from step 9
  EXPECT_EQ(in->seqs[0].sample_index, 1);
  EXPECT_FALSE(in->seqs[0].prompt_logprobs);
  table.Record(Sampled(42, 778));
  EXPECT_EQ(table.Apply(DecodePlan(11))->seqs[0].tokens, (std::vector<int32_t>{778}));
}

TEST(SequenceTableTest, PenaltyHistoryHoldsPromptAndSampledTokens) {
  SequenceTable table(8, 4, kBlockSize);
  protocol::StepPlan first = FirstPlan();
  first.starts[0].sampling.frequency_penalty = 0.5f;
  first.starts[0].sampling.logit_bias = {{7, -100.0f}};
  auto in = table.Apply(first);
  ASSERT_TRUE(in.ok()) << in.status().ToString();
  ASSERT_NE(in->seqs[0].history, nullptr);
  EXPECT_EQ(in->seqs[0].history->seen.size(), 19u);  // the prompt chunk
  EXPECT_TRUE(in->seqs[0].history->output_counts.empty());
  EXPECT_EQ(in->seqs[0].sampling.logit_bias.size(), 1u);
  table.Record(Sampled(42, 777));
  in = table.Apply(DecodePlan(10));
  table.Record(Sampled(42, 777));
  in = table.Apply(DecodePlan(11));
  ASSERT_TRUE(in.ok());
  const TokenHistory* h = in->seqs[0].history;
  EXPECT_EQ(h->output_counts.at(777), 2);
  EXPECT_EQ(h->output_counts.size(), 1u);
  EXPECT_EQ(h->output, (std::vector<int32_t>{777, 777}));  // in order, for bad_words
  EXPECT_TRUE(h->seen.count(777));
  EXPECT_TRUE(h->seen.count(100));
  // Without penalties no history is kept.
  SequenceTable plain(8, 4, kBlockSize);
  EXPECT_EQ(plain.Apply(FirstPlan())->seqs[0].history, nullptr);
}

TEST(SequenceTableTest, PendingTokenBeforeAnySampleIsRefused) {
  SequenceTable table(8, 4, kBlockSize);
  ASSERT_TRUE(table.Apply(FirstPlan()).ok());
  auto in = table.Apply(DecodePlan(10));  // nothing recorded
  ASSERT_FALSE(in.ok());
  EXPECT_NE(in.status().message().find("sequence 42: a pending token"), std::string::npos)
      << in.status().message();
}

TEST(SequenceTableTest, BlockTablesGrowOrAreReplaced) {
  SequenceTable table(8, 4, kBlockSize);
  ASSERT_TRUE(table.Apply(FirstPlan()).ok());
  table.Record(Sampled(42, 5));
  protocol::StepPlan grow;
  grow.epoch = 1;
  AddSeq(&grow, 42, 32, {7}, {6}, 0);
  auto in = table.Apply(grow);
  ASSERT_TRUE(in.ok()) << in.status().ToString();
  EXPECT_EQ(in->seqs[0].block_table, (std::vector<int32_t>{0, 1, 6}));
  protocol::StepPlan reset;
  reset.epoch = 1;
  AddSeq(&reset, 42, 0, {1, 2}, {5}, protocol::kSeqResetTable);
  in = table.Apply(reset);
  ASSERT_TRUE(in.ok()) << in.status().ToString();
  EXPECT_EQ(in->seqs[0].block_table, (std::vector<int32_t>{5}));
  EXPECT_EQ(*table.BlockTableOf(42), (std::vector<int32_t>{5}));
}

TEST(SequenceTableTest, FinishedAndNewEpochDropState) {
  SequenceTable table(8, 4, kBlockSize);
  ASSERT_TRUE(table.Apply(FirstPlan()).ok());
  protocol::StepPlan finish;
  finish.epoch = 1;
  finish.finished_seq_ids = {42};
  ASSERT_TRUE(table.Apply(finish).ok());
  EXPECT_EQ(table.size(), 0u);
  // Started again after it finished: counters start over.
  auto again = table.Apply(FirstPlan());
  ASSERT_TRUE(again.ok()) << again.status().ToString();
  EXPECT_EQ(again->seqs[0].sample_index, 0);
  // A plan of the old epoch's request in a new epoch is refused; the table is empty.
  auto next_epoch = DecodePlan(12);
  next_epoch.epoch = 2;
  auto in = table.Apply(next_epoch);
  ASSERT_FALSE(in.ok());
  EXPECT_NE(in.status().message().find("was not started on this worker (epoch 2)"),
            std::string::npos)
      << in.status().message();
  EXPECT_EQ(table.size(), 0u);
  EXPECT_EQ(table.epoch(), 2u);
}

TEST(SequenceTableTest, SeedAndCountersFollowTheRequest) {
  SequenceTable table(8, 4, kBlockSize);
  auto plan = FirstPlan();
  plan.starts[0].sampling.seed = 77;
  auto in = table.Apply(plan);
  ASSERT_TRUE(in.ok());
  EXPECT_EQ(in->seqs[0].sampling.seed, 77u);
  table.Record(Sampled(42, 1));
  EXPECT_EQ(table.Apply(DecodePlan(10))->seqs[0].sampling.seed, 77u);
}

// Request 42 restarted in epoch `epoch` by recompute: its 19-token prompt and
// `outputs` fed again from position 0, sampling the next token.
protocol::StepPlan RestartPlan(uint64_t step, uint64_t epoch, const protocol::SequenceStart& start,
                               const std::vector<int32_t>& outputs, bool new_start) {
  protocol::StepPlan plan;
  plan.replica_id = 2;
  plan.step_id = step;
  plan.epoch = epoch;
  if (new_start) plan.starts = {start};
  std::vector<int32_t> tokens(19);
  for (int i = 0; i < 19; ++i) tokens[i] = 100 + i;
  tokens.insert(tokens.end(), outputs.begin(), outputs.end());
  AddSeq(&plan, 42, 0, tokens, {5, 6}, protocol::kSeqSample | protocol::kSeqResetTable);
  return plan;
}

TEST(SequenceTableTest, RestartReplaysEarlierOutputOnce) {
  SequenceTable table(8, 4, kBlockSize);
  protocol::SequenceStart start = Start(42);
  start.sampling.frequency_penalty = 0.5f;
  start.prompt_len = 19;
  protocol::StepPlan first = FirstPlan();
  first.starts = {start};
  ASSERT_TRUE(table.Apply(first).ok());
  table.Record(Sampled(42, 7));
  ASSERT_TRUE(table.Apply(DecodePlan(10)).ok());
  table.Record(Sampled(42, 8));
  // A new epoch (a failed step, or another replica): the worker knows nothing
  // of the request; the two outputs come back as fed tokens and count as sampled.
  auto in = table.Apply(RestartPlan(11, 2, start, {7, 8}, /*new_start=*/true));
  ASSERT_TRUE(in.ok()) << in.status().ToString();
  EXPECT_EQ(in->seqs[0].sample_index, 2);
  EXPECT_EQ(in->seqs[0].history->output_counts.at(7), 1);
  EXPECT_EQ(in->seqs[0].history->output_counts.at(8), 1);
  table.Record(Sampled(42, 9));
  // Recompute inside the same epoch: the table saw every token, none replays.
  in = table.Apply(RestartPlan(12, 2, start, {7, 8, 9}, /*new_start=*/false));
  ASSERT_TRUE(in.ok()) << in.status().ToString();
  EXPECT_EQ(in->seqs[0].sample_index, 3);
  EXPECT_EQ(in->seqs[0].history->output_counts.at(7), 1);
  EXPECT_EQ(in->seqs[0].history->output_counts.at(9), 1);
  EXPECT_EQ(in->seqs[0].history->output, (std::vector<int32_t>{7, 8, 9}));
  // Without a prompt length nothing is taken for output.
  SequenceTable other(8, 4, kBlockSize);
  start.prompt_len = 0;
  in = other.Apply(RestartPlan(1, 1, start, {7, 8}, true));
  ASSERT_TRUE(in.ok());
  EXPECT_EQ(in->seqs[0].sample_index, 0);
  EXPECT_TRUE(in->seqs[0].history->output_counts.empty());
}

bool Allowed(const grammar::Matcher* m, int32_t token) {
  std::vector<uint32_t> mask;
  m->FillNextTokenMask(&mask);
  return (mask[token / 32] >> (token % 32)) & 1u;
}

TEST(SequenceTableTest, GuideMatcherFollowsSampledAndReplayedTokens) {
  // Token 0 ends the sequence; 1 = "a", 2 = "b", 3 = "ab", the rest "x".
  std::vector<std::string> bytes(200, "x");
  bytes[0] = "</s>";
  bytes[1] = "a";
  bytes[2] = "b";
  bytes[3] = "ab";
  std::vector<bool> special(200, false);
  special[0] = true;
  auto vocab = grammar::TokenVocabulary::Create(bytes, special, {0});
  ASSERT_TRUE(vocab.ok()) << vocab.status().ToString();
  protocol::SequenceStart start = Start(42);
  start.sampling.guide = GuideKind::kChoice;
  start.sampling.guide_spec = R"(["ab"])";
  start.prompt_len = 19;
  protocol::StepPlan first = FirstPlan();
  first.starts = {start};

  SequenceTable bare(8, 4, kBlockSize);  // no vocabulary: refused by name
  auto refused = bare.Apply(first);
  ASSERT_FALSE(refused.ok());
  EXPECT_NE(refused.status().message().find("sequence 42: structured outputs need"),
            std::string::npos)
      << refused.status().message();

  SequenceTable table(8, 4, kBlockSize);
  table.SetVocabulary(*vocab);
  auto in = table.Apply(first);
  ASSERT_TRUE(in.ok()) << in.status().ToString();
  const grammar::Matcher* m = in->seqs[0].matcher;
  ASSERT_NE(m, nullptr);
  EXPECT_TRUE(Allowed(m, 1));
  EXPECT_TRUE(Allowed(m, 3));
  EXPECT_FALSE(Allowed(m, 2));
  EXPECT_FALSE(Allowed(m, 0));
  table.Record(Sampled(42, 1));
  in = table.Apply(DecodePlan(10));
  m = in->seqs[0].matcher;
  EXPECT_TRUE(Allowed(m, 2));
  EXPECT_FALSE(Allowed(m, 1));
  // Restarted in a new epoch with "a" already generated: the fresh matcher
  // replays it and still expects "b".
  in = table.Apply(RestartPlan(11, 2, start, {1}, /*new_start=*/true));
  ASSERT_TRUE(in.ok()) << in.status().ToString();
  m = in->seqs[0].matcher;
  EXPECT_TRUE(Allowed(m, 2));
  EXPECT_FALSE(Allowed(m, 1));
  EXPECT_FALSE(Allowed(m, 0));
  table.Record(Sampled(42, 2));
  in = table.Apply([] {
    protocol::StepPlan p;
    p.replica_id = 2;
    p.step_id = 13;
    p.epoch = 2;
    AddSeq(&p, 42, 20, {protocol::kPendingToken}, {}, protocol::kSeqSample);
    return p;
  }());
  ASSERT_TRUE(in.ok()) << in.status().ToString();
  m = in->seqs[0].matcher;
  EXPECT_TRUE(m->IsTerminated());
  EXPECT_TRUE(Allowed(m, 0));
  EXPECT_FALSE(Allowed(m, 1));
}

TEST(SequenceTableTest, RefusesMalformedPlans) {
  auto expect_error = [](protocol::StepPlan plan, const std::string& what) {
    SequenceTable table(8, 4, kBlockSize);
    auto in = table.Apply(plan);
    ASSERT_FALSE(in.ok()) << what;
    EXPECT_EQ(in.status().code(), StatusCode::kInvalidArgument) << what;
    EXPECT_NE(in.status().message().find(what), std::string::npos) << in.status().message();
  };
  auto p = FirstPlan();
  p.new_blocks = {0, 8};
  expect_error(p, "sequence 42: block 8 is outside the device pool");
  p = FirstPlan();
  p.swap_in = {0, 4};
  expect_error(p, "swap_in: copy device block 0 <-> host block 4 is outside the pools");
  p = FirstPlan();
  p.swap_out = {1};
  expect_error(p, "swap_out: an odd number");
  p = FirstPlan();
  p.starts[0].sampling.repetition_penalty = 0.0f;
  expect_error(p, "sequence 42: sampling parameters out of range");
  p = FirstPlan();
  p.starts[0].sampling.logit_bias = {{3, 250.0f}};
  expect_error(p, "sequence 42: logit bias of token 3 is outside [-100, 100]");
  p = FirstPlan();
  p.num_blocking_swap_in = 2;
  expect_error(p, "blocking_in 2 exceeds");
  p = FirstPlan();
  p.flags.push_back(0);
  expect_error(p, "per-sequence arrays differ in length");
  p = FirstPlan();
  p.token_ids.pop_back();
  expect_error(p, "token ids and");
  p = FirstPlan();
  p.new_blocks = {0};
  p.num_new_blocks = {1};
  expect_error(p, "sequence 42: 1 blocks cannot hold positions up to 19");
  p = FirstPlan();
  p.flags[0] = 0x80;
  expect_error(p, "unknown flag bits");
  p = FirstPlan();
  p.starts.push_back(Start(42));
  expect_error(p, "sequence 42 started twice");
  p = FirstPlan();
  p.starts.clear();
  expect_error(p, "sequence 42 was not started on this worker");
  p = FirstPlan();
  AddSeq(&p, 42, 0, {1}, {}, 0);
  expect_error(p, "sequence 42 appears twice");
  p = FirstPlan();
  p.starts[0].sampling.top_p = 0;
  expect_error(p, "sampling parameters out of range");
  p = FirstPlan();
  p.starts[0].sampling.temperature = -1;
  expect_error(p, "sampling parameters out of range");
  p = FirstPlan();
  p.num_tokens[0] = 0;
  p.token_ids.clear();
  expect_error(p, "sequence 42: no tokens");
}

TEST(SequenceTableTest, ResultCarriesIdsAndOutputs) {
  StepOutput out;
  SeqOutput s;
  s.seq_id = 42;
  s.token = 11;
  s.logprob = -0.5f;
  s.top = {{11, -0.5f}, {3, -1.0f}};
  out.seqs.push_back(s);
  auto r = ToStepResult(FirstPlan(), 5, out);
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
