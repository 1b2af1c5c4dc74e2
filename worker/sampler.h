// Sampling from one row of logits: logit processors (repetition, presence and
// frequency penalties, logit bias, bad_words, allowed_token_ids, min_tokens), then greedy or
// temperature, top-k, top-p, min-p, with a draw fixed by (seed, sample_index) so a request's tokens
// do not depend on what else is in the batch. Logprobs are of the unmodified model distribution
// (log-softmax of the raw logits), as OpenAI's and vLLM's are. Pure functions.
#pragma once

#include <cstdint>
#include <vector>

#include "worker/step.h"

namespace skipjoin {

struct SampleResult {
  int32_t token = -1;
  float logprob = 0.0f;
  std::vector<TokenLogprob> top;
};

// Buffers reused between calls to avoid allocation (one per thread).
struct SamplerScratch {
  std::vector<float> prob;
  std::vector<float> logits;  // the processed copy of the row
  std::vector<int32_t> index;
  std::vector<int32_t> candidates;
  std::vector<TokenLogprob> best;  // a small top_k
  std::vector<uint32_t> mask;      // structured-output token mask
  std::vector<float> kept;         // allowed_token_ids' logits while the rest is masked
};

// logits: vocab floats. sample_index: tokens this sequence sampled before (the
// RNG counter; min_tokens compares against it). history may be null when the
// parameters need none (SamplingParams::needs_history).
// matcher: the sequence's structured-output state when params.guide is set;
// tokens it does not allow next are never chosen.
SampleResult SampleRow(const float* logits, int64_t vocab, const SamplingParams& params,
                       int32_t sample_index, const TokenHistory* history, SamplerScratch* scratch,
                       const grammar::Matcher* matcher = nullptr);

// The logits the draw uses: a copy of `logits` with the processors applied, in
// scratch->logits, or `logits` itself when the parameters have none.
const float* ProcessLogits(const float* logits, int64_t vocab, const SamplingParams& params,
                           int32_t sample_index, const TokenHistory* history,
                           SamplerScratch* scratch, const grammar::Matcher* matcher = nullptr);

// log-softmax value of logits[token].
float LogProbOf(const float* logits, int64_t vocab, int32_t token);

// A uniform double in [0, 1) from (seed, counter): a stateless counter-based
// generator (SplitMix64 finalizer over the pair).
double UniformFromSeed(uint64_t seed, uint64_t counter);

}  // namespace skipjoin
