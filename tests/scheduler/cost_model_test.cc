#include "coordinator/scheduler/cost_model.h"

#include <random>
#include <vector>

#include <gtest/gtest.h>
#include <nlohmann/json.hpp>

namespace skipjoin::scheduler {
namespace {

TEST(StepCostModelTest, FitRecoversKnownCoefficients) {
  const CostCoefficients truth{0.012, 6e-5, 5e-5, 2.6e-7};
  StepCostModel m(CostCoefficients{0.05, 1e-3, 0, 0});  // a wrong prior
  std::mt19937_64 rng(3);
  std::uniform_int_distribution<int> seqs(1, 256), toks(0, 1024), ctx(1, 2000);
  StepCostModel exact(truth);
  for (int i = 0; i < 2000; ++i) {
    StepFeatures f;
    f.sequences = seqs(rng);
    f.tokens = f.sequences + toks(rng);
    f.context = f.sequences * ctx(rng);
    m.Observe(f, exact.Predict(f));
  }
  EXPECT_NEAR(m.coefficients().a, truth.a, truth.a * 0.01);
  EXPECT_NEAR(m.coefficients().b, truth.b, truth.b * 0.01);
  EXPECT_NEAR(m.coefficients().c, truth.c, truth.c * 0.01);
  EXPECT_NEAR(m.coefficients().d, truth.d, truth.d * 0.01);
  EXPECT_EQ(m.num_observations(), 2000);
}

TEST(StepCostModelTest, PrefillPairsCountAttentionWorkBeyondOneQuery) {
  EXPECT_EQ(PrefillPairs(100, 1), 0.0);  // a decode: only the context term
  // Tokens at 10, 11, 12 see 11, 12, 13 keys = 36; the context term has 13.
  EXPECT_EQ(PrefillPairs(10, 3), 36.0 - 13.0);
  StepFeatures f;
  AddSequence(&f, 10, 3);
  AddSequence(&f, 50, 1);
  EXPECT_EQ(f.tokens, 4);
  EXPECT_EQ(f.sequences, 2);
  EXPECT_EQ(f.context, 13 + 51);
  EXPECT_EQ(f.prefill_pairs, 23);
}

TEST(StepCostModelTest, FitSeparatesPrefillPairsFromContext) {
  // Long chunks at growing positions (quadratic attention) mixed with decodes.
  const CostCoefficients truth{0.02, 0.002, 0.004, 5e-6, 4e-6};
  StepCostModel m(CostCoefficients{0.02, 0.002, 0.004, 5e-6, 0});
  StepCostModel exact(truth);
  std::mt19937_64 rng(11);
  std::uniform_int_distribution<int> decodes(0, 24), chunk(0, 256), start(0, 2048), ctx(16, 1500);
  for (int i = 0; i < 3000; ++i) {
    StepFeatures f;
    const int n = chunk(rng);
    if (n > 0) AddSequence(&f, start(rng), n);
    for (int k = decodes(rng) + (n == 0 ? 1 : 0); k > 0; --k) AddSequence(&f, ctx(rng), 1);
    m.Observe(f, exact.Predict(f));
  }
  EXPECT_NEAR(m.coefficients().e, truth.e, truth.e * 0.01);
  EXPECT_NEAR(m.coefficients().d, truth.d, truth.d * 0.01);
  StepFeatures long_chunk;
  AddSequence(&long_chunk, 1024, 256);
  EXPECT_NEAR(m.Predict(long_chunk), exact.Predict(long_chunk), exact.Predict(long_chunk) * 0.01);
}

TEST(StepCostModelTest, FitWithForgettingTracksNoisyData) {
  const CostCoefficients truth{0.01, 0.004, 0.0005, 2e-6};
  CostModelOptions o;
  o.forgetting_factor = 0.999;
  StepCostModel m(CostCoefficients{}, o);
  StepCostModel exact(truth);
  std::mt19937_64 rng(5);
  std::normal_distribution<double> noise(0, 0.02);
  std::uniform_int_distribution<int> seqs(1, 32), toks(0, 128), ctx(1, 1000);
  for (int i = 0; i < 5000; ++i) {
    StepFeatures f;
    f.sequences = seqs(rng);
    f.tokens = f.sequences + toks(rng);
    f.context = f.sequences * ctx(rng);
    m.Observe(f, exact.Predict(f) * (1 + noise(rng)));
  }
  EXPECT_NEAR(m.coefficients().b, truth.b, truth.b * 0.05);
  StepFeatures probe{64, 16, 8000};
  EXPECT_NEAR(m.Predict(probe), exact.Predict(probe), exact.Predict(probe) * 0.03);
}

TEST(StepCostModelTest, JsonRoundTrip) {
  StepCostModel m(CostCoefficients{0.01, 0.004, 0.0005, 2e-6});
  m.Observe({10, 2, 100, 500}, 0.06);
  auto back = StepCostModel::FromJson(m.ToJson());
  ASSERT_TRUE(back.ok()) << back.status().ToString();
  EXPECT_DOUBLE_EQ(back->coefficients().b, m.coefficients().b);
  EXPECT_DOUBLE_EQ(back->coefficients().e, m.coefficients().e);
  EXPECT_EQ(back->num_observations(), 1);
  StepFeatures f{100, 4, 1000};
  back->Observe(f, 0.5);
  m.Observe(f, 0.5);
  EXPECT_DOUBLE_EQ(back->coefficients().a, m.coefficients().a);
}

TEST(StepCostModelTest, FileWithoutTheETermLoadsWithThePriorE) {
  // Written before the prefill-pairs term: four coefficients, 4x4 covariance.
  StepCostModel old(CostCoefficients{0.01, 0.004, 0.0005, 2e-6, 0});
  old.Observe({10, 2, 100}, 0.06);
  nlohmann::json j = nlohmann::json::parse(old.ToJson());
  j.erase("e");
  std::vector<double> cov4;
  for (int r = 0; r < 4; ++r)
    for (int c = 0; c < 4; ++c) cov4.push_back(j["covariance"][r * 5 + c].get<double>());
  j["covariance"] = cov4;
  auto back = StepCostModel::FromJson(j.dump(), 3e-6);
  ASSERT_TRUE(back.ok()) << back.status().ToString();
  EXPECT_DOUBLE_EQ(back->coefficients().e, 3e-6);
  EXPECT_DOUBLE_EQ(back->coefficients().a, old.coefficients().a);
  EXPECT_EQ(back->num_observations(), 1);
  // A file with e must carry the full 5x5 covariance.
  j["e"] = 1e-6;
  auto bad = StepCostModel::FromJson(j.dump());
  ASSERT_FALSE(bad.ok());
  EXPECT_NE(bad.status().message().find("covariance must be a list of 25 numbers"), std::string::npos)
      << bad.status().message();
}

TEST(StepCostModelTest, FromJsonRejectsGarbage) {
  EXPECT_FALSE(StepCostModel::FromJson("not json").ok());
  EXPECT_FALSE(StepCostModel::FromJson(R"({"a": 1})").ok());
  EXPECT_FALSE(StepCostModel::FromJson(R"({"a":1,"b":1,"c":1,"d":"x"})").ok());
  EXPECT_FALSE(StepCostModel::FromJson(R"({"a":1,"b":1,"c":1,"d":1,"e":"x"})").ok());
}

TEST(StepCostModelTest, TokenBudgetKeepsStepUnderTarget) {
  StepCostModel m(CostCoefficients{0.012, 6e-5, 5e-5, 2.6e-7});
  const int32_t budget = m.TokenBudgetFor(0.1, 256, 512, 16);
  EXPECT_EQ(budget % 16, 0);
  EXPECT_LE(m.Predict({double(budget), 256, 256 * 512.0}), 0.1);
  EXPECT_GT(m.Predict({double(budget + 16), 256, 256 * 512.0}), 0.1);
}

TEST(StepCostModelTest, TokenBudgetCountsTheChunksOwnAttention) {
  // One CPU thread: a 1 s target with 32 decodes. Without the chunk's
  // quadratic attention the budget would be ~(1 - 0.02 - 32*0.0064)/0.00227
  // = 340 tokens, whose 309-token chunk adds ~0.3 s and overshoots.
  StepCostModel m(CostCoefficients{0.0199, 0.00227, 0.0064, 1.4e-6, 6.6e-6});
  const int32_t budget = m.TokenBudgetFor(1.0, 32, 256, 16);
  auto step = [&](int32_t tokens) {
    StepFeatures f{double(tokens), 32, 32 * 256.0, PrefillPairs(0, tokens - 31)};
    return m.Predict(f);
  };
  EXPECT_EQ(budget % 16, 0);
  EXPECT_LE(step(budget), 1.0);
  EXPECT_GT(step(budget + 16), 1.0);
  EXPECT_LT(budget, 300);
}

}  // namespace
}  // namespace skipjoin::scheduler
