#include "coordinator/scheduler/cost_model.h"

#include <random>

#include <gtest/gtest.h>

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
  m.Observe({10, 2, 100}, 0.06);
  auto back = StepCostModel::FromJson(m.ToJson());
  ASSERT_TRUE(back.ok()) << back.status().ToString();
  EXPECT_DOUBLE_EQ(back->coefficients().b, m.coefficients().b);
  EXPECT_EQ(back->num_observations(), 1);
  StepFeatures f{100, 4, 1000};
  back->Observe(f, 0.5);
  m.Observe(f, 0.5);
  EXPECT_DOUBLE_EQ(back->coefficients().a, m.coefficients().a);
}

TEST(StepCostModelTest, FromJsonRejectsGarbage) {
  EXPECT_FALSE(StepCostModel::FromJson("not json").ok());
  EXPECT_FALSE(StepCostModel::FromJson(R"({"a": 1})").ok());
  EXPECT_FALSE(StepCostModel::FromJson(R"({"a":1,"b":1,"c":1,"d":"x"})").ok());
}

TEST(StepCostModelTest, TokenBudgetKeepsStepUnderTarget) {
  StepCostModel m(CostCoefficients{0.012, 6e-5, 5e-5, 2.6e-7});
  const int32_t budget = m.TokenBudgetFor(0.1, 256, 512, 16);
  EXPECT_EQ(budget % 16, 0);
  EXPECT_LE(m.Predict({double(budget), 256, 256 * 512.0}), 0.1);
  EXPECT_GT(m.Predict({double(budget + 16), 256, 256 * 512.0}), 0.1);
}

}  // namespace
}  // namespace skipjoin::scheduler
