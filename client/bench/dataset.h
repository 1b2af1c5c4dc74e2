// Seeded synthetic prompt sets for `skipjoin bench serve`: how long each
// prompt is, how many tokens each request asks for, and the prompt itself
// (random token ids, or random words for servers that only take text).
// Free functions over plain values; any thread.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "common/status.h"

namespace skipjoin::bench {

enum class DatasetKind {
  kRandom,  // input and output lengths uniform in [len*(1-r), len*(1+r)]
  kPareto,  // input as kRandom; heavy-tailed (Pareto) output lengths
  kFixed,   // every request exactly --input-len in, --output-len out
};

enum class PromptFormat {
  kTokenIds,  // "prompt": [ids...], exactly input_len tokens
  kText,      // "prompt": "random words", about one token per word
};

struct DatasetOptions {
  DatasetKind kind = DatasetKind::kRandom;
  int64_t num_prompts = 1000;
  int64_t input_len = 1024;       // tokens; the mean for kRandom / kPareto
  int64_t output_len = 128;       // tokens; the mean for kRandom / kPareto
  double range_ratio = 0.0;       // in [0, 1): half-width of the uniform ranges
  double pareto_alpha = 1.3;      // Pareto tail index (> 0; smaller is heavier)
  int64_t max_output_len = 2048;  // kPareto: output lengths are clamped to [1, this]
  PromptFormat prompt_format = PromptFormat::kTokenIds;
  int64_t vocab_low = 1000;  // token ids are uniform in [vocab_low, vocab_high]
  int64_t vocab_high = 20000;
  uint64_t seed = 0;
};

// One request of the benchmark.
struct BenchPrompt {
  std::vector<int32_t> token_ids;  // PromptFormat::kTokenIds
  std::string text;                // PromptFormat::kText
  int64_t input_len = 0;           // tokens (kText: words)
  int64_t output_len = 0;          // tokens to ask for (max_tokens)
};

// "random", "pareto", "fixed" / "ids", "text"; errors name the flag.
Result<DatasetKind> ParseDatasetKind(const std::string& name);
Result<PromptFormat> ParsePromptFormat(const std::string& name);
const char* DatasetKindName(DatasetKind kind);

// Checks the options; errors name the flag to fix.
Status ValidateDatasetOptions(const DatasetOptions& options);

// The same options (seed included) give the same prompts on every platform.
// Lengths come from their own random stream, so kTokenIds and kText runs of
// one seed ask for the same lengths.
Result<std::vector<BenchPrompt>> GenerateDataset(const DatasetOptions& options);

// The mean of clamp(X, 1, max_len) for X ~ Pareto(alpha, scale) (minimum
// `scale`): what an output length averages before rounding.
double ClampedParetoMean(double alpha, double scale, double max_len);
// The scale that makes ClampedParetoMean equal `mean` (1 <= mean <= max_len).
double ParetoScaleForMean(double alpha, double mean, double max_len);

}  // namespace skipjoin::bench
