// Sampling rules on hand-made logits, and batch independence of seeded draws
// through the engine.
#include "worker/sampler.h"

#include <cmath>
#include <map>

#include "common/grammar/guide.h"
#include "common/grammar/matcher.h"
#include "gtest/gtest.h"
#include "tests/engine/engine_harness.h"
#include "tests/testutil/tiny_model.h"
#include "worker/local_runner.h"

namespace skipjoin {
namespace {

// Probabilities (at temperature 1) 0.5, 0.25, 0.15, 0.07, 0.03.
std::vector<float> Logits() {
  std::vector<float> p = {0.5f, 0.25f, 0.15f, 0.07f, 0.03f};
  std::vector<float> l;
  for (float x : p) l.push_back(std::log(x));
  return l;
}

std::map<int32_t, int> Histogram(const SamplingParams& p, int draws) {
  std::vector<float> l = Logits();
  SamplerScratch scratch;
  std::map<int32_t, int> h;
  for (int i = 0; i < draws; ++i) ++h[SampleRow(l.data(), l.size(), p, i, nullptr, &scratch).token];
  return h;
}

TEST(SamplerTest, GreedyAndTopKOneTakeTheArgmax) {
  std::vector<float> l = Logits();
  SamplerScratch scratch;
  SamplingParams greedy = SamplingParams::Greedy();
  EXPECT_EQ(SampleRow(l.data(), l.size(), greedy, 0, nullptr, &scratch).token, 0);
  SamplingParams k1;
  k1.temperature = 1.5f;
  k1.top_k = 1;
  for (int i = 0; i < 50; ++i)
    EXPECT_EQ(SampleRow(l.data(), l.size(), k1, i, nullptr, &scratch).token, 0);
}

TEST(SamplerTest, TopKTopPAndMinPBoundTheCandidates) {
  SamplingParams p;
  p.temperature = 1.0f;
  p.seed = 5;
  p.top_k = 2;
  for (auto [tok, n] : Histogram(p, 2000)) EXPECT_LT(tok, 2);
  p.top_k = 0;
  p.top_p = 0.8f;  // 0.5 + 0.25 < 0.8 <= 0.5 + 0.25 + 0.15: three candidates
  auto h = Histogram(p, 4000);
  for (auto [tok, n] : h) EXPECT_LT(tok, 3);
  EXPECT_GT(h[2], 0);
  p.top_p = 1.0f;
  p.min_p = 0.2f;  // keep p >= 0.1: three candidates
  h = Histogram(p, 4000);
  for (auto [tok, n] : h) EXPECT_LT(tok, 3);
  // Unrestricted draws follow the distribution (within a loose bound).
  p.min_p = 0.0f;
  h = Histogram(p, 20000);
  EXPECT_NEAR(h[0] / 20000.0, 0.5, 0.02);
  EXPECT_NEAR(h[1] / 20000.0, 0.25, 0.02);
  EXPECT_NEAR(h[4] / 20000.0, 0.03, 0.01);
}

TEST(SamplerTest, LogprobsAreOfTheRawDistribution) {
  std::vector<float> l = Logits();
  SamplerScratch scratch;
  SamplingParams p;
  p.temperature = 0.5f;
  p.logprobs = 3;
  p.logit_bias = {{0, -5.0f}};  // processors do not change the reported logprobs
  SampleResult r = SampleRow(l.data(), l.size(), p, 0, nullptr, &scratch);
  ASSERT_EQ(r.top.size(), 3u);
  EXPECT_EQ(r.top[0].token, 0);
  EXPECT_NEAR(r.top[0].logprob, std::log(0.5f), 1e-5);
  EXPECT_NEAR(r.top[2].logprob, std::log(0.15f), 1e-5);
  EXPECT_NEAR(r.logprob, l[r.token], 1e-5);
}

int32_t Greedy(const std::vector<float>& l, const SamplingParams& p, int32_t index,
               const TokenHistory* h) {
  SamplerScratch scratch;
  return SampleRow(l.data(), static_cast<int64_t>(l.size()), p, index, h, &scratch).token;
}

TEST(SamplerTest, LogitBiasBansAndForcesTokens) {
  const std::vector<float> l = Logits();
  SamplingParams p = SamplingParams::Greedy();
  p.logit_bias = {{0, -100.0f}};
  EXPECT_EQ(Greedy(l, p, 0, nullptr), 1);
  p.logit_bias = {{4, 100.0f}};
  EXPECT_EQ(Greedy(l, p, 0, nullptr), 4);
  // Sampled: a banned token is never drawn.
  p = SamplingParams{};
  p.seed = 3;
  p.logit_bias = {{0, -100.0f}, {1, -100.0f}};
  auto h = Histogram(p, 3000);
  EXPECT_EQ(h.count(0), 0u);
  EXPECT_EQ(h.count(1), 0u);
  EXPECT_GT(h[2], 0);
}

TEST(SamplerTest, PenaltiesLowerTokensSeenBefore) {
  // Logits 2.0 (token 0), 1.5 (token 1), -1.0 (token 2).
  const std::vector<float> l = {2.0f, 1.5f, -1.0f};
  TokenHistory history;
  history.seen = {0, 2};
  history.output_counts = {{0, 3}};
  SamplingParams p = SamplingParams::Greedy();
  EXPECT_EQ(Greedy(l, p, 0, &history), 0);
  p.repetition_penalty = 1.5f;  // 2.0 / 1.5 = 1.33 < 1.5
  EXPECT_EQ(Greedy(l, p, 0, &history), 1);
  p.repetition_penalty = 1.2f;  // 2.0 / 1.2 = 1.67 > 1.5
  EXPECT_EQ(Greedy(l, p, 0, &history), 0);
  SamplerScratch scratch;
  p.repetition_penalty = 2.0f;  // negative logits are multiplied: -1 -> -2
  const float* out = ProcessLogits(l.data(), 3, p, 0, &history, &scratch);
  EXPECT_FLOAT_EQ(out[0], 1.0f);
  EXPECT_FLOAT_EQ(out[1], 1.5f);
  EXPECT_FLOAT_EQ(out[2], -2.0f);
  p = SamplingParams::Greedy();
  p.frequency_penalty = 0.2f;  // 2.0 - 3 * 0.2 = 1.4 < 1.5
  EXPECT_EQ(Greedy(l, p, 0, &history), 1);
  p.frequency_penalty = 0.1f;  // 1.7 > 1.5
  EXPECT_EQ(Greedy(l, p, 0, &history), 0);
  p.frequency_penalty = 0.0f;
  p.presence_penalty = 0.6f;  // once, whatever the count: 1.4 < 1.5
  EXPECT_EQ(Greedy(l, p, 0, &history), 1);
  p.presence_penalty = -1.0f;  // negative values favour repeats
  out = ProcessLogits(l.data(), 3, p, 0, &history, &scratch);
  EXPECT_FLOAT_EQ(out[0], 3.0f);
  EXPECT_FLOAT_EQ(out[2], -1.0f);  // in the prompt only: no presence penalty
}

TEST(SamplerTest, MinTokensMasksStopTokensUntilReached) {
  const std::vector<float> l = Logits();
  SamplingParams p = SamplingParams::Greedy();
  p.stop_token_ids = {0, 3};
  p.min_tokens = 2;
  EXPECT_EQ(Greedy(l, p, 0, nullptr), 1);
  EXPECT_EQ(Greedy(l, p, 1, nullptr), 1);
  EXPECT_EQ(Greedy(l, p, 2, nullptr), 0);  // two tokens sampled: EOS allowed again
  SamplingParams s;
  s.seed = 11;
  s.stop_token_ids = {0, 1, 2};
  s.min_tokens = 1;
  SamplerScratch scratch;
  for (int i = 0; i < 500; ++i) {
    s.seed = static_cast<uint64_t>(i);
    const int32_t t = SampleRow(l.data(), 5, s, 0, nullptr, &scratch).token;
    EXPECT_GE(t, 3) << "draw " << i;
  }
}

// Token 0 ends the sequence; 1 = "a", 2 = "b", 3 = "c", 4 = "ab".
grammar::Matcher ChoiceMatcher(const std::string& choices) {
  auto vocab = grammar::TokenVocabulary::Create({"</s>", "a", "b", "c", "ab"},
                                                {true, false, false, false, false}, {0});
  EXPECT_TRUE(vocab.ok()) << vocab.status().ToString();
  auto g = grammar::CompileGuide(GuideKind::kChoice, choices);
  EXPECT_TRUE(g.ok()) << g.status().ToString();
  return grammar::Matcher(*g, *vocab);
}

TEST(SamplerTest, GuideMasksWhatTheConstraintRulesOut) {
  const std::vector<float> l = Logits();  // token 0 most likely, then 1, 2, ...
  grammar::Matcher m = ChoiceMatcher(R"(["b", "cab"])");
  SamplingParams p = SamplingParams::Greedy();
  p.guide = GuideKind::kChoice;
  p.stop_token_ids = {0};
  SamplerScratch scratch;
  EXPECT_EQ(SampleRow(l.data(), 5, p, 0, nullptr, &scratch, &m).token, 2);  // "b" beats "c"
  // Neither a bias nor a draw at high temperature brings back a masked token.
  p.logit_bias = {{1, 50.0f}};
  SamplingParams hot = p;
  hot.temperature = 5.0f;
  for (int i = 0; i < 200; ++i) {
    hot.seed = static_cast<uint64_t>(i);
    const int32_t t = SampleRow(l.data(), 5, hot, 0, nullptr, &scratch, &m).token;
    EXPECT_TRUE(t == 2 || t == 3) << "draw " << i << " gave " << t;
  }
  // Logprobs stay those of the raw model.
  const SampleResult r = SampleRow(l.data(), 5, p, 0, nullptr, &scratch, &m);
  EXPECT_NEAR(r.logprob, std::log(0.15f), 1e-4);
  ASSERT_TRUE(m.AcceptToken(2));  // "b": complete, only end-of-sequence may follow
  EXPECT_EQ(SampleRow(l.data(), 5, p, 1, nullptr, &scratch, &m).token, 0);
}

TEST(SamplerTest, CompleteGuideOutranksMinTokens) {
  const std::vector<float> l = Logits();
  grammar::Matcher m = ChoiceMatcher(R"(["c"])");
  ASSERT_TRUE(m.AcceptToken(3));
  SamplingParams p = SamplingParams::Greedy();
  p.guide = GuideKind::kChoice;
  p.stop_token_ids = {0};
  p.min_tokens = 5;  // would mask end-of-sequence, the only token left
  SamplerScratch scratch;
  EXPECT_EQ(SampleRow(l.data(), 5, p, 1, nullptr, &scratch, &m).token, 0);
  // After end-of-sequence (a request that does not stop on it) the constraint
  // is over: nothing is masked rather than everything.
  ASSERT_TRUE(m.AcceptToken(0));
  SamplingParams hot = p;
  hot.temperature = 1.0f;
  hot.seed = 3;
  const int32_t t = SampleRow(l.data(), 5, hot, 2, nullptr, &scratch, &m).token;
  EXPECT_GE(t, 0);
  EXPECT_LT(t, 5);
}

TEST(SamplerTest, SeededDrawsDoNotDependOnTheBatch) {
  const std::string dir = testing::TestTempDir("sampler");
  testutil::TinyModelSpec spec;
  ASSERT_TRUE(testutil::WriteTinyGguf(spec, dir + "/tiny.gguf").ok());
  EngineOptions o;
  o.model_path = dir + "/tiny.gguf";
  o.num_device_blocks = 256;
  auto e = Engine::Create(o, nullptr);
  ASSERT_TRUE(e.ok());
  LocalRequest req;
  req.prompt = {10, 20, 30, 40};
  req.max_new_tokens = 24;
  req.sampling.temperature = 1.0f;
  req.sampling.top_p = 0.95f;
  req.sampling.seed = 1234;
  LocalRunner runner(e->get());
  auto alone = runner.Run({req});
  std::vector<LocalRequest> batch(5, req);
  for (int i = 1; i < 5; ++i) {
    batch[i].sampling.seed = 99 + i;
    batch[i].prompt.push_back(i);
  }
  auto together = runner.Run(batch);
  ASSERT_TRUE(alone.ok() && together.ok());
  EXPECT_EQ((*alone)[0], (*together)[0]);
  req.sampling.seed = 1235;
  auto other_seed = runner.Run({req});
  EXPECT_NE((*alone)[0], (*other_seed)[0]);
}

}  // namespace
}  // namespace skipjoin
