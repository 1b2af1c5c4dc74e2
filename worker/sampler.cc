#include "worker/sampler.h"

#include <algorithm>
#include <cmath>
#include <limits>
#include <numeric>

#include "common/grammar/matcher.h"

namespace skipjoin {
namespace {

uint64_t Mix(uint64_t z) {
  z += 0x9e3779b97f4a7c15ULL;
  z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ULL;
  z = (z ^ (z >> 27)) * 0x94d049bb133111ebULL;
  return z ^ (z >> 31);
}

double LogSumExp(const float* x, int64_t n) {
  float mx = x[0];
  for (int64_t i = 1; i < n; ++i) mx = std::max(mx, x[i]);
  double s = 0.0;
  for (int64_t i = 0; i < n; ++i) s += std::exp(double{x[i]} - mx);
  return mx + std::log(s);
}

int32_t ArgMax(const float* x, int64_t n) {
  int64_t best = 0;
  for (int64_t i = 1; i < n; ++i)
    if (x[i] > x[best]) best = i;  // first maximum wins ties, like llama.cpp's greedy
  return static_cast<int32_t>(best);
}

}  // namespace

double UniformFromSeed(uint64_t seed, uint64_t counter) {
  const uint64_t r = Mix(Mix(seed) ^ (counter * 0xd1b54a32d192ed03ULL));
  return static_cast<double>(r >> 11) * (1.0 / 9007199254740992.0);
}

float LogProbOf(const float* logits, int64_t vocab, int32_t token) {
  return static_cast<float>(logits[token] - LogSumExp(logits, vocab));
}

const float* ProcessLogits(const float* logits, int64_t vocab, const SamplingParams& p,
                           int32_t sample_index, const TokenHistory* history,
                           SamplerScratch* scratch, const grammar::Matcher* matcher) {
  if (!p.has_logit_processors()) return logits;
  std::vector<float>& out = scratch->logits;
  out.assign(logits, logits + vocab);
  auto in_vocab = [vocab](int32_t t) { return t >= 0 && t < vocab; };
  if (history != nullptr) {
    if (p.repetition_penalty != 1.0f) {
      const float rp = p.repetition_penalty;
      for (int32_t t : history->seen) {
        if (!in_vocab(t)) continue;
        out[t] = out[t] > 0 ? out[t] / rp : out[t] * rp;
      }
    }
    if (p.presence_penalty != 0.0f || p.frequency_penalty != 0.0f) {
      for (auto [t, count] : history->output_counts) {
        if (!in_vocab(t)) continue;
        out[t] -= p.presence_penalty + p.frequency_penalty * static_cast<float>(count);
      }
    }
  }
  for (const TokenBias& b : p.logit_bias) {
    if (in_vocab(b.token)) out[b.token] += b.bias;
  }
  // A guide that allows nothing but end-of-sequence outranks min_tokens.
  const bool guide_done = matcher != nullptr && matcher->IsTerminated();
  if (sample_index < p.min_tokens && !guide_done) {
    for (int32_t t : p.stop_token_ids) {
      if (in_vocab(t)) out[t] = -std::numeric_limits<float>::infinity();
    }
  }
  if (matcher != nullptr) {
    // Last, so no bias can bring back a token the constraint rules out.
    std::vector<uint32_t>& mask = scratch->mask;
    matcher->FillNextTokenMask(&mask);
    // All zero only after an end-of-sequence token the request does not stop
    // on: the constraint is over, and masking everything would leave no token.
    const bool any = std::any_of(mask.begin(), mask.end(), [](uint32_t w) { return w != 0; });
    const int64_t covered = std::min<int64_t>(vocab, static_cast<int64_t>(mask.size()) * 32);
    const float kOff = -std::numeric_limits<float>::infinity();
    for (int64_t w = 0; any && w * 32 < covered; ++w) {
      const uint32_t bits = mask[w];
      if (bits == 0xffffffffu) continue;
      const int64_t end = std::min<int64_t>(covered, w * 32 + 32);
      for (int64_t t = w * 32; t < end; ++t) {
        if (!((bits >> (t & 31)) & 1u)) out[t] = kOff;
      }
    }
    for (int64_t t = covered; any && t < vocab; ++t) out[t] = kOff;
  }
  return out.data();
}

SampleResult SampleRow(const float* raw, int64_t vocab, const SamplingParams& p,
                       int32_t sample_index, const TokenHistory* history, SamplerScratch* scratch,
                       const grammar::Matcher* matcher) {
  SampleResult r;
  const double lse = LogSumExp(raw, vocab);
  const float* logits = ProcessLogits(raw, vocab, p, sample_index, history, scratch, matcher);
  const bool greedy = p.temperature <= 0.0f || p.top_k == 1;
  if (greedy) {
    r.token = ArgMax(logits, vocab);
  } else {
    // Candidates sorted by logit, cut by top-k, then probabilities at the
    // temperature, cut by min-p and top-p, then one draw.
    std::vector<int32_t>& idx = scratch->index;
    idx.resize(vocab);
    std::iota(idx.begin(), idx.end(), 0);
    int64_t keep = vocab;
    if (p.top_k > 0 && p.top_k < vocab) keep = p.top_k;
    auto by_logit = [&](int32_t a, int32_t b) {
      return logits[a] > logits[b] || (logits[a] == logits[b] && a < b);
    };
    std::partial_sort(idx.begin(), idx.begin() + keep, idx.end(), by_logit);
    idx.resize(keep);
    std::vector<float>& prob = scratch->prob;
    prob.resize(keep);
    const double inv_t = 1.0 / p.temperature;
    const double top = logits[idx[0]];
    double sum = 0.0;
    for (int64_t i = 0; i < keep; ++i) {
      prob[i] = static_cast<float>(std::exp((double{logits[idx[i]]} - top) * inv_t));
      sum += prob[i];
    }
    for (int64_t i = 0; i < keep; ++i) prob[i] = static_cast<float>(prob[i] / sum);
    int64_t n = keep;
    // Tokens a processor banned (-inf) are never candidates.
    while (n > 1 && prob[n - 1] <= 0.0f) --n;
    if (p.min_p > 0.0f) {
      const float cut = p.min_p * prob[0];
      while (n > 1 && prob[n - 1] < cut) --n;
    }
    if (p.top_p < 1.0f) {
      double cum = 0.0;
      int64_t i = 0;
      for (; i < n; ++i) {
        cum += prob[i];
        if (cum >= p.top_p) break;
      }
      n = std::min<int64_t>(n, i + 1);
    }
    double mass = 0.0;
    for (int64_t i = 0; i < n; ++i) mass += prob[i];
    const double u =
        UniformFromSeed(p.seed.value_or(0), static_cast<uint64_t>(sample_index)) * mass;
    double cum = 0.0;
    r.token = idx[n - 1];
    for (int64_t i = 0; i < n; ++i) {
      cum += prob[i];
      if (u < cum) {
        r.token = idx[i];
        break;
      }
    }
  }
  r.logprob = static_cast<float>(raw[r.token] - lse);
  if (p.logprobs > 0) {
    const int64_t n = std::min<int64_t>(std::min(p.logprobs, 20), vocab);
    std::vector<int32_t>& idx = scratch->index;
    idx.resize(vocab);
    std::iota(idx.begin(), idx.end(), 0);
    std::partial_sort(idx.begin(), idx.begin() + n, idx.end(), [&](int32_t a, int32_t b) {
      return raw[a] > raw[b] || (raw[a] == raw[b] && a < b);
    });
    for (int64_t i = 0; i < n; ++i)
      r.top.push_back({idx[i], static_cast<float>(raw[idx[i]] - lse)});
  }
  return r;
}

}  // namespace skipjoin
