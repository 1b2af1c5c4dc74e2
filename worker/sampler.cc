#include "worker/sampler.h"

#include <algorithm>
#include <cmath>
#include <cstring>
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

// The loops below are written in eight independent lanes so the compiler
// vectorizes them without fast-math (a vocabulary row is ~50k floats, and
// the sampler runs once per sequence per step).
constexpr int kLanes = 8;

float Max(const float* x, int64_t n) {
  float lane[kLanes];
  for (int j = 0; j < kLanes; ++j) lane[j] = -std::numeric_limits<float>::infinity();
  int64_t i = 0;
  for (; i + kLanes <= n; i += kLanes) {
    for (int j = 0; j < kLanes; ++j) lane[j] = x[i + j] > lane[j] ? x[i + j] : lane[j];
  }
  float mx = lane[0];
  for (int j = 1; j < kLanes; ++j) mx = std::max(mx, lane[j]);
  for (; i < n; ++i) mx = std::max(mx, x[i]);
  return mx;
}

// exp(x) for x <= 0 (Cody-Waite range reduction and a degree-6 polynomial,
// relative error ~2e-7); exactly 0 below -87.3, so -inf (a banned token) is 0.
inline float ExpNonPositive(float x) {
  const bool tiny = x < -87.3f;
  const float xc = tiny ? -87.3f : x;
  const float t = xc * 1.44269504f;
  const float fn = (t - 0.5f) + 12582912.0f - 12582912.0f;  // round(t) for t <= 0
  const float r = xc - fn * 0.693359375f + fn * 2.12194440e-4f;
  float p = 1.9875691500e-4f;
  p = p * r + 1.3981999507e-3f;
  p = p * r + 8.3334519073e-3f;
  p = p * r + 4.1665795894e-2f;
  p = p * r + 1.6666665459e-1f;
  p = p * r + 5.0000001201e-1f;
  const float y = p * r * r + r + 1.0f;
  const int32_t bits = (static_cast<int32_t>(fn) + 127) << 23;
  float scale;
  std::memcpy(&scale, &bits, sizeof scale);
  return tiny ? 0.0f : y * scale;
}

// w[i] = exp((x[i] - mx) * k), k > 0, mx >= every x[i]; returns the sum.
double ExpShifted(const float* x, int64_t n, float mx, float k, float* w) {
  for (int64_t i = 0; i < n; ++i) w[i] = ExpNonPositive((x[i] - mx) * k);
  double lane[kLanes] = {};
  int64_t i = 0;
  for (; i + kLanes <= n; i += kLanes) {
    for (int j = 0; j < kLanes; ++j) lane[j] += w[i + j];
  }
  double s = 0.0;
  for (int j = 0; j < kLanes; ++j) s += lane[j];
  for (; i < n; ++i) s += w[i];
  return s;
}

// log(sum(exp(x))); `tmp` is scratch of n floats.
double LogSumExp(const float* x, int64_t n, std::vector<float>* tmp) {
  const float mx = Max(x, n);
  if (mx == -std::numeric_limits<float>::infinity()) return mx;
  tmp->resize(n);
  return mx + std::log(ExpShifted(x, n, mx, 1.0f, tmp->data()));
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
  thread_local std::vector<float> tmp;
  return static_cast<float>(logits[token] - LogSumExp(logits, vocab, &tmp));
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
  if (history != nullptr) {
    for (const std::vector<int32_t>& word : p.bad_words) {
      // Ban the word's last token when the output ends with the rest of it.
      const std::vector<int32_t>& out_tokens = history->output;
      if (word.empty() || !in_vocab(word.back()) || word.size() - 1 > out_tokens.size()) continue;
      if (std::equal(word.begin(), word.end() - 1, out_tokens.end() - (word.size() - 1))) {
        out[word.back()] = -std::numeric_limits<float>::infinity();
      }
    }
  }
  if (!p.allowed_token_ids.empty()) {
    // Everything else is -inf: keep the allowed logits, fill, put them back.
    std::vector<float>& kept = scratch->kept;
    kept.clear();
    for (int32_t t : p.allowed_token_ids) kept.push_back(in_vocab(t) ? out[t] : 0.0f);
    std::fill(out.begin(), out.end(), -std::numeric_limits<float>::infinity());
    for (size_t i = 0; i < kept.size(); ++i) {
      if (in_vocab(p.allowed_token_ids[i])) out[p.allowed_token_ids[i]] = kept[i];
    }
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

namespace {

// Candidate order: higher logit first, lower id among equals.
struct ByLogit {
  const float* l;
  bool operator()(int32_t a, int32_t b) const { return l[a] > l[b] || (l[a] == l[b] && a < b); }
};

// The `n` largest of x (n <= 64) as (id, value), best first, lower id among
// equals: one pass keeping a small sorted list.
void TopN(const float* x, int64_t vocab, int64_t n, std::vector<TokenLogprob>* out) {
  out->clear();
  if (n <= 0) return;
  for (int64_t i = 0; i < vocab; ++i) {
    if (static_cast<int64_t>(out->size()) == n && !(x[i] > out->back().logprob)) continue;
    if (static_cast<int64_t>(out->size()) == n) out->pop_back();
    auto at = std::upper_bound(out->begin(), out->end(), x[i],
                               [](float v, const TokenLogprob& e) { return v > e.logprob; });
    out->insert(at, {static_cast<int32_t>(i), x[i]});
  }
}

// Draws from the candidates ids[0..n) (ascending ids) with weights w[id],
// or from every token when ids is null; u in [0, 1).
int32_t Draw(const float* w, int64_t vocab, const int32_t* ids, int64_t n, double mass, double u) {
  const double target = u * mass;
  double cum = 0.0;
  if (ids == nullptr) {
    int32_t last = 0;
    for (int64_t i = 0; i < vocab; ++i) {
      if (w[i] <= 0.0f) continue;
      cum += w[i];
      last = static_cast<int32_t>(i);
      if (target < cum) return last;
    }
    return last;  // rounding: the last candidate
  }
  for (int64_t i = 0; i < n; ++i) {
    cum += w[ids[i]];
    if (target < cum) return ids[i];
  }
  return ids[n - 1];
}

}  // namespace

SampleResult SampleRow(const float* raw, int64_t vocab, const SamplingParams& p,
                       int32_t sample_index, const TokenHistory* history, SamplerScratch* scratch,
                       const grammar::Matcher* matcher) {
  SampleResult r;
  const double lse = LogSumExp(raw, vocab, &scratch->prob);
  const float* logits = ProcessLogits(raw, vocab, p, sample_index, history, scratch, matcher);
  const bool greedy = p.temperature <= 0.0f || p.top_k == 1;
  const float top = Max(logits, vocab);
  if (greedy || top == -std::numeric_limits<float>::infinity()) {
    r.token = ArgMax(logits, vocab);
  } else {
    // Weights exp((logit - max) / temperature), 0 for banned tokens. The
    // candidates: the top_k by logit (all when unset), then those within
    // min_p of the most likely, then the smallest prefix by logit holding
    // top_p of the top_k set's probability; one draw over what is left, in
    // id order. No sort of the whole vocabulary: top_k selects in linear
    // time, and the top_p prefix is found among the likely tokens first.
    std::vector<float>& w = scratch->prob;
    w.resize(vocab);
    double total =
        ExpShifted(logits, vocab, top, static_cast<float>(1.0 / p.temperature), w.data());
    std::vector<int32_t>& idx = scratch->index;
    const ByLogit by_logit{logits};
    bool all = true;  // candidates: every token with a weight, or idx
    if (p.top_k > 0 && p.top_k < vocab) {
      if (p.top_k <= 64) {
        std::vector<TokenLogprob>& best = scratch->best;
        TopN(logits, vocab, p.top_k, &best);
        idx.clear();
        for (const TokenLogprob& e : best) idx.push_back(e.token);
      } else {
        idx.resize(vocab);
        std::iota(idx.begin(), idx.end(), 0);
        std::nth_element(idx.begin(), idx.begin() + (p.top_k - 1), idx.end(), by_logit);
        idx.resize(p.top_k);
      }
      total = 0.0;
      for (int32_t t : idx) total += w[t];
      all = false;
    }
    if (p.min_p > 0.0f || p.top_p < 1.0f) {
      // The most likely token has weight 1, so min_p keeps weights >= min_p.
      // The top_p prefix (by logit) is first looked for among the tokens
      // within a factor 1e-4 of the most likely, and among all candidates
      // only when those hold less than top_p.
      const float min_w = std::max(p.min_p, 0.0f);
      std::vector<int32_t>& cand = scratch->candidates;
      const bool nucleus = p.top_p < 1.0f;
      for (int pass = nucleus ? 0 : 1; pass < 2; ++pass) {
        const float floor_logit = pass == 0 ? top + p.temperature * std::log(1e-4f)
                                            : -std::numeric_limits<float>::infinity();
        cand.clear();
        auto consider = [&](int32_t t) {
          if (w[t] > 0.0f && w[t] >= min_w && logits[t] >= floor_logit) cand.push_back(t);
        };
        if (all) {
          for (int64_t t = 0; t < vocab; ++t) consider(static_cast<int32_t>(t));
        } else {
          for (int32_t t : idx) consider(t);
        }
        if (!nucleus) break;
        std::sort(cand.begin(), cand.end(), by_logit);
        double cum = 0.0;
        size_t n = 0;
        while (n < cand.size() && cum < p.top_p * total) cum += w[cand[n++]];
        if (cum < p.top_p * total && pass == 0) continue;  // look among all
        cand.resize(std::max<size_t>(n, 1));
        break;
      }
      if (cand.empty()) cand.push_back(ArgMax(logits, vocab));
      idx.assign(cand.begin(), cand.end());
      all = false;
    }
    if (!all) std::sort(idx.begin(), idx.end());
    double mass = 0.0;
    if (all) {
      mass = total;
    } else {
      for (int32_t t : idx) mass += w[t];
    }
    const double u = UniformFromSeed(p.seed.value_or(0), static_cast<uint64_t>(sample_index));
    r.token = mass > 0.0 ? Draw(w.data(), vocab, all ? nullptr : idx.data(),
                                static_cast<int64_t>(idx.size()), mass, u)
                         : ArgMax(logits, vocab);
  }
  r.logprob = static_cast<float>(raw[r.token] - lse);
  if (p.logprobs > 0) {
    TopN(raw, vocab, std::min<int64_t>(std::min(p.logprobs, 20), vocab), &r.top);
    for (TokenLogprob& e : r.top) e.logprob = static_cast<float>(e.logprob - lse);
  }
  return r;
}

}  // namespace skipjoin
