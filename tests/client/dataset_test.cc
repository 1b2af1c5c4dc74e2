#include "client/bench/dataset.h"

#include <gtest/gtest.h>

#include <algorithm>
#include <numeric>

namespace skipjoin::bench {
namespace {

double MeanOutput(const std::vector<BenchPrompt>& prompts) {
  double sum = 0;
  for (const BenchPrompt& p : prompts) sum += static_cast<double>(p.output_len);
  return sum / static_cast<double>(prompts.size());
}

double MeanInput(const std::vector<BenchPrompt>& prompts) {
  double sum = 0;
  for (const BenchPrompt& p : prompts) sum += static_cast<double>(p.input_len);
  return sum / static_cast<double>(prompts.size());
}

TEST(DatasetTest, SameSeedGivesSamePromptsAndOtherSeedsDiffer) {
  DatasetOptions o;
  o.num_prompts = 50;
  o.input_len = 64;
  o.output_len = 32;
  o.range_ratio = 0.5;
  o.seed = 7;
  auto a = GenerateDataset(o), b = GenerateDataset(o);
  ASSERT_TRUE(a.ok() && b.ok());
  ASSERT_EQ(a->size(), 50u);
  for (size_t i = 0; i < a->size(); ++i) {
    EXPECT_EQ((*a)[i].token_ids, (*b)[i].token_ids);
    EXPECT_EQ((*a)[i].output_len, (*b)[i].output_len);
  }
  o.seed = 8;
  auto c = GenerateDataset(o);
  ASSERT_TRUE(c.ok());
  EXPECT_NE((*a)[0].token_ids, (*c)[0].token_ids);
}

TEST(DatasetTest, RandomLengthsFillTheRangeWithTheAskedMean) {
  DatasetOptions o;
  o.num_prompts = 20000;
  o.input_len = 100;
  o.output_len = 40;
  o.range_ratio = 0.5;
  auto p = GenerateDataset(o);
  ASSERT_TRUE(p.ok());
  int64_t in_lo = 1 << 30, in_hi = 0, out_lo = 1 << 30, out_hi = 0;
  for (const BenchPrompt& x : *p) {
    in_lo = std::min(in_lo, x.input_len);
    in_hi = std::max(in_hi, x.input_len);
    out_lo = std::min(out_lo, x.output_len);
    out_hi = std::max(out_hi, x.output_len);
    EXPECT_EQ(static_cast<int64_t>(x.token_ids.size()), x.input_len);
  }
  // Uniform over [50, 150] and [20, 60]: both ends are drawn, nothing past them.
  EXPECT_EQ(in_lo, 50);
  EXPECT_EQ(in_hi, 150);
  EXPECT_EQ(out_lo, 20);
  EXPECT_EQ(out_hi, 60);
  EXPECT_NEAR(MeanInput(*p), 100.0, 1.0);
  EXPECT_NEAR(MeanOutput(*p), 40.0, 0.5);
}

TEST(DatasetTest, ZeroRangeRatioAndFixedGiveExactLengths) {
  DatasetOptions o;
  o.num_prompts = 100;
  o.input_len = 17;
  o.output_len = 5;
  for (DatasetKind kind : {DatasetKind::kRandom, DatasetKind::kFixed}) {
    o.kind = kind;
    auto p = GenerateDataset(o);
    ASSERT_TRUE(p.ok());
    for (const BenchPrompt& x : *p) {
      EXPECT_EQ(x.input_len, 17);
      EXPECT_EQ(x.output_len, 5);
    }
  }
}

TEST(DatasetTest, TokenIdsCoverTheVocabRangeInclusive) {
  DatasetOptions o;
  o.num_prompts = 20;
  o.input_len = 100;
  o.vocab_low = 5;
  o.vocab_high = 9;
  auto p = GenerateDataset(o);
  ASSERT_TRUE(p.ok());
  std::vector<int> seen(10, 0);
  for (const BenchPrompt& x : *p) {
    for (int32_t id : x.token_ids) {
      ASSERT_GE(id, 5);
      ASSERT_LE(id, 9);
      ++seen[id];
    }
  }
  for (int id = 5; id <= 9; ++id) EXPECT_GT(seen[id], 300) << id;
}

TEST(DatasetTest, TextPromptsHaveOneWordPerTokenAndTheSameLengths) {
  DatasetOptions o;
  o.num_prompts = 30;
  o.input_len = 20;
  o.output_len = 10;
  o.range_ratio = 0.5;
  auto ids = GenerateDataset(o);
  o.prompt_format = PromptFormat::kText;
  auto text = GenerateDataset(o);
  ASSERT_TRUE(ids.ok() && text.ok());
  for (size_t i = 0; i < text->size(); ++i) {
    const BenchPrompt& t = (*text)[i];
    EXPECT_TRUE(t.token_ids.empty());
    EXPECT_EQ(std::count(t.text.begin(), t.text.end(), ' ') + 1, t.input_len);
    EXPECT_EQ(t.input_len, (*ids)[i].input_len);
    EXPECT_EQ(t.output_len, (*ids)[i].output_len);
  }
}

TEST(DatasetTest, ParetoOutputsAreHeavyTailedWithTheAskedMean) {
  DatasetOptions o;
  o.kind = DatasetKind::kPareto;
  o.num_prompts = 40000;
  o.input_len = 8;
  o.output_len = 128;
  o.max_output_len = 2048;
  auto p = GenerateDataset(o);
  ASSERT_TRUE(p.ok());
  std::vector<int64_t> out;
  for (const BenchPrompt& x : *p) out.push_back(x.output_len);
  std::sort(out.begin(), out.end());
  EXPECT_GE(out.front(), 1);
  EXPECT_LE(out.back(), 2048);
  EXPECT_NEAR(MeanOutput(*p), 128.0, 128.0 * 0.04);
  // Heavy tail: the median is well below the mean and some requests hit the clamp.
  EXPECT_LT(out[out.size() / 2], 80);
  EXPECT_EQ(out.back(), 2048);
}

TEST(DatasetTest, ParetoScaleInvertsTheClampedMean) {
  for (double alpha : {0.8, 1.0, 1.3, 2.5}) {
    for (double mean : {2.0, 50.0, 500.0}) {
      const double scale = ParetoScaleForMean(alpha, mean, 2048);
      EXPECT_NEAR(ClampedParetoMean(alpha, scale, 2048), mean, 1e-6 * mean) << alpha;
    }
  }
  // Without a binding clamp it is the Pareto mean alpha * scale / (alpha - 1).
  EXPECT_NEAR(ClampedParetoMean(3.0, 10.0, 1e12), 15.0, 1e-6);
}

TEST(DatasetTest, BadOptionsNameTheirFlag) {
  DatasetOptions o;
  o.range_ratio = 1.0;
  EXPECT_NE(ValidateDatasetOptions(o).message().find("--range-ratio"), std::string::npos);
  o = {};
  o.kind = DatasetKind::kPareto;
  o.output_len = 300;
  o.max_output_len = 200;
  EXPECT_NE(ValidateDatasetOptions(o).message().find("--max-output-len"), std::string::npos);
  o = {};
  o.vocab_low = 10;
  o.vocab_high = 5;
  EXPECT_NE(ValidateDatasetOptions(o).message().find("--vocab-low"), std::string::npos);
  o = {};
  o.num_prompts = 0;
  EXPECT_NE(GenerateDataset(o).status().message().find("--num-prompts"), std::string::npos);
  EXPECT_FALSE(ParseDatasetKind("sharegpt").ok());
  EXPECT_NE(ParsePromptFormat("tokens").status().message().find("--prompt-format"),
            std::string::npos);
}

}  // namespace
}  // namespace skipjoin::bench
