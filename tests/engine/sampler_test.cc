// Sampling rules on hand-made logits, and batch independence of seeded draws
// through the engine.
#include <cmath>
#include <map>

#include "gtest/gtest.h"
#include "tests/engine/engine_harness.h"
#include "tests/testutil/tiny_model.h"
#include "worker/local_runner.h"
#include "worker/sampler.h"

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
  std::vector<float> l = Logits(), scratch;
  std::map<int32_t, int> h;
  for (int i = 0; i < draws; ++i) ++h[SampleRow(l.data(), l.size(), p, i, &scratch).token];
  return h;
}

TEST(SamplerTest, GreedyAndTopKOneTakeTheArgmax) {
  std::vector<float> l = Logits(), scratch;
  SamplingParams greedy = SamplingParams::Greedy();
  EXPECT_EQ(SampleRow(l.data(), l.size(), greedy, 0, &scratch).token, 0);
  SamplingParams k1;
  k1.temperature = 1.5f;
  k1.top_k = 1;
  for (int i = 0; i < 50; ++i) EXPECT_EQ(SampleRow(l.data(), l.size(), k1, i, &scratch).token, 0);
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
  std::vector<float> l = Logits(), scratch;
  SamplingParams p;
  p.temperature = 0.5f;
  p.logprobs = 3;
  SampleResult r = SampleRow(l.data(), l.size(), p, 0, &scratch);
  ASSERT_EQ(r.top.size(), 3u);
  EXPECT_EQ(r.top[0].token, 0);
  EXPECT_NEAR(r.top[0].logprob, std::log(0.5f), 1e-5);
  EXPECT_NEAR(r.top[2].logprob, std::log(0.15f), 1e-5);
  EXPECT_NEAR(r.logprob, l[r.token], 1e-5);
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
