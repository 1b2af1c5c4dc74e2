// Sampling rules on hand-made logits, and batch independence of seeded draws
// through the engine.
#include "worker/sampler.h"

#include <cmath>
#include <map>
#include <numeric>
#include <random>

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

// The candidate set of a setting, computed the slow, obvious way: sort the
// whole row, cut by top_k, normalize, cut by min_p and top_p.
std::vector<double> ReferenceDistribution(const std::vector<float>& l, const SamplingParams& p) {
  const int64_t v = static_cast<int64_t>(l.size());
  std::vector<int32_t> order(v);
  std::iota(order.begin(), order.end(), 0);
  std::sort(order.begin(), order.end(),
            [&](int32_t a, int32_t b) { return l[a] > l[b] || (l[a] == l[b] && a < b); });
  int64_t keep = p.top_k > 0 && p.top_k < v ? p.top_k : v;
  std::vector<double> prob(keep);
  double sum = 0;
  for (int64_t i = 0; i < keep; ++i) {
    prob[i] = std::exp((double{l[order[i]]} - l[order[0]]) / p.temperature);
    sum += prob[i];
  }
  for (double& x : prob) x /= sum;
  int64_t n = keep;
  if (p.min_p > 0) {
    while (n > 1 && prob[n - 1] < p.min_p * prob[0]) --n;
  }
  if (p.top_p < 1) {
    double cum = 0;
    int64_t i = 0;
    for (; i < n; ++i) {
      cum += prob[i];
      if (cum >= p.top_p) break;
    }
    n = std::min(n, i + 1);
  }
  std::vector<double> out(v, 0.0);
  double mass = 0;
  for (int64_t i = 0; i < n; ++i) mass += prob[i];
  for (int64_t i = 0; i < n; ++i) out[order[i]] = prob[i] / mass;
  return out;
}

// Draws over a large row follow the reference distribution: no token outside
// its support, each of the 5 most likely tokens within 0.02 of its
// probability, and the total variation distance over 50 ranges of ids (the
// draw walks the candidates in id order) under 0.05.
void ExpectFollowsReference(const std::vector<float>& l, SamplingParams p, int draws) {
  const int64_t v = static_cast<int64_t>(l.size());
  const std::vector<double> ref = ReferenceDistribution(l, p);
  std::vector<double> seen(v, 0.0);
  SamplerScratch scratch;
  for (int i = 0; i < draws; ++i) {
    p.seed = static_cast<uint64_t>(i);
    const int32_t t = SampleRow(l.data(), v, p, 0, nullptr, &scratch).token;
    ASSERT_GT(ref[t], 0.0) << "token " << t << " outside the candidates (top_k " << p.top_k
                           << ", top_p " << p.top_p << ", min_p " << p.min_p << ")";
    seen[t] += 1.0 / draws;
  }
  const std::string what = "top_k " + std::to_string(p.top_k) + ", top_p " +
                           std::to_string(p.top_p) + ", min_p " + std::to_string(p.min_p) +
                           ", temperature " + std::to_string(p.temperature);
  std::vector<int32_t> order(v);
  std::iota(order.begin(), order.end(), 0);
  std::partial_sort(order.begin(), order.begin() + 5, order.end(),
                    [&](int32_t a, int32_t b) { return ref[a] > ref[b]; });
  for (int i = 0; i < 5; ++i) EXPECT_NEAR(seen[order[i]], ref[order[i]], 0.02) << what;
  std::vector<double> bins_seen(50, 0.0), bins_ref(50, 0.0);
  for (int64_t t = 0; t < v; ++t) {
    bins_seen[t * 50 / v] += seen[t];
    bins_ref[t * 50 / v] += ref[t];
  }
  double tv = 0;
  for (int b = 0; b < 50; ++b) tv += std::abs(bins_seen[b] - bins_ref[b]) / 2;
  EXPECT_LT(tv, 0.05) << what;
}

TEST(SamplerTest, LargeVocabularyDrawsFollowTheReferenceCut) {
  std::mt19937 rng(3);
  std::normal_distribution<float> normal(0.0f, 2.0f);
  std::vector<float> l(5000);
  for (float& x : l) x = normal(rng);
  l[17] = -std::numeric_limits<float>::infinity();  // banned: never drawn
  struct Setting {
    float temperature, top_p, min_p;
    int32_t top_k;
  };
  for (const Setting& s :
       {Setting{1.0f, 1.0f, 0.0f, 0}, Setting{0.7f, 0.9f, 0.0f, 0}, Setting{1.0f, 1.0f, 0.05f, 0},
        Setting{1.3f, 0.5f, 0.02f, 0}, Setting{1.0f, 1.0f, 0.0f, 40},
        Setting{1.0f, 0.8f, 0.0f, 200}, Setting{0.5f, 0.95f, 0.0f, 100}}) {
    SamplingParams p;
    p.temperature = s.temperature;
    p.top_p = s.top_p;
    p.min_p = s.min_p;
    p.top_k = s.top_k;
    ExpectFollowsReference(l, p, 10000);
  }
  // A flat tail that holds most of the mass: the top_p prefix reaches past
  // the tokens near the most likely one.
  std::vector<float> tail(20000, -10.0f);
  tail[5] = 0.0f;
  tail[9] = -1.0f;
  SamplingParams p;
  p.top_p = 0.95f;
  ExpectFollowsReference(tail, p, 2000);
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

TEST(SamplerTest, AllowedTokenIdsAreTheOnlyChoices) {
  const std::vector<float> l = Logits();
  SamplingParams p = SamplingParams::Greedy();
  p.allowed_token_ids = {3, 2};
  SamplerScratch scratch;
  SampleResult g = SampleRow(l.data(), 5, p, 0, nullptr, &scratch);
  EXPECT_EQ(g.token, 2);  // the best of the allowed
  // Logprobs stay those of the model: p(2) = 0.15.
  EXPECT_NEAR(g.logprob, std::log(0.15f), 1e-5);
  // Sampled: only the allowed tokens, both of them.
  p = SamplingParams{};
  p.seed = 5;
  p.allowed_token_ids = {3, 2};
  auto h = Histogram(p, 3000);
  EXPECT_EQ(h.size(), 2u);
  EXPECT_GT(h[2], h[3]);
  EXPECT_GT(h[3], 0);
  // No bias brings back a token outside the list.
  p.logit_bias = {{0, 100.0f}};
  h = Histogram(p, 500);
  EXPECT_EQ(h.count(0), 0u);
}

TEST(SamplerTest, BadWordsBanTheLastTokenAfterTheRest) {
  const std::vector<float> l = Logits();  // greedy: 0, then 1
  SamplingParams p = SamplingParams::Greedy();
  TokenHistory history;
  p.bad_words = {{0}};  // one token: always banned
  EXPECT_EQ(Greedy(l, p, 0, &history), 1);
  p.bad_words = {{4, 2, 0}};  // banned only after 4, 2
  EXPECT_EQ(Greedy(l, p, 0, &history), 0);
  history.output = {4, 2};
  EXPECT_EQ(Greedy(l, p, 2, &history), 1);
  history.output = {2, 4, 2};
  EXPECT_EQ(Greedy(l, p, 3, &history), 1);
  history.output = {4, 2, 1};
  EXPECT_EQ(Greedy(l, p, 3, &history), 0);
  history.output = {2};  // shorter than the rest of the word
  EXPECT_EQ(Greedy(l, p, 1, &history), 0);
  // Several words; sampled draws never complete one.
  p = SamplingParams{};
  p.bad_words = {{1}, {3, 0}};
  history.output = {3};
  SamplerScratch scratch;
  for (int i = 0; i < 500; ++i) {
    p.seed = static_cast<uint64_t>(i);
    const int32_t t = SampleRow(l.data(), 5, p, 1, &history, &scratch).token;
    EXPECT_TRUE(t != 0 && t != 1) << "draw " << i << " chose " << t;
  }
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
  // A mask (allowed_token_ids) keeps the draw batch-independent too.
  req.sampling.seed = 1234;
  req.sampling.allowed_token_ids = {3, 11, 12, 40};
  batch[0] = req;
  auto masked = runner.Run({req});
  auto masked_together = runner.Run(batch);
  ASSERT_TRUE(masked.ok() && masked_together.ok());
  EXPECT_EQ((*masked)[0], (*masked_together)[0]);
  for (int32_t t : (*masked)[0]) EXPECT_TRUE(t == 3 || t == 11 || t == 12 || t == 40) << t;
}

}  // namespace
}  // namespace skipjoin
