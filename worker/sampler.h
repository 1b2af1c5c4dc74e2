// Sampling from one row of logits: greedy, temperature, top-k, top-p, min-p,
// with a draw fixed by (seed, sample_index) so a request's tokens do not depend
// on what else is in the batch. Logprobs are of the unmodified model
// distribution (log-softmax of the raw logits). Pure functions.
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

// logits: vocab floats. scratch is reused between calls to avoid allocation.
SampleResult SampleRow(const float* logits, int64_t vocab, const SamplingParams& params,
                       int32_t sample_index, std::vector<float>* scratch);

// log-softmax value of logits[token].
float LogProbOf(const float* logits, int64_t vocab, int32_t token);

// A uniform double in [0, 1) from (seed, counter): a stateless counter-based
// generator (SplitMix64 finalizer over the pair).
double UniformFromSeed(uint64_t seed, uint64_t counter);

}  // namespace skipjoin
