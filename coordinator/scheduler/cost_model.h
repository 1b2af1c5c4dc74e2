// Step cost model: t = a + b*tokens + c*sequences + d*sum(context)
//                      + e*sum(prefill attention pairs), in seconds.
// Skip-join uses it to estimate a new job's prefill time, the batch policy to
// choose a token budget under the time-between-tokens target, and the simulator
// as its ground truth. Fitted online by recursive least squares that starts at a
// prior (so a fresh deployment behaves sanely before any step has run) and can
// forget old samples (forgetting factor) to follow drift.
// Thread-compatible: owned by the Scheduler's thread.
#pragma once

#include <array>
#include <cstdint>
#include <string>
#include <string_view>

#include "common/status.h"

namespace skipjoin::scheduler {

// What one step did. context = sum over its sequences of the tokens in the KV
// cache after the step (start position + tokens fed): the keys a decode reads.
// prefill_pairs = the query-key pairs a chunk adds beyond one query per
// sequence, PrefillPairs(start, tokens): attention work that grows with the
// square of a chunk (zero for decodes).
struct StepFeatures {
  double tokens = 0;
  double sequences = 0;
  double context = 0;
  double prefill_pairs = 0;
};

// Query-key pairs of feeding `tokens` tokens at position `start` (token i
// attends to start + i + 1 keys), minus the last token's start + tokens (the
// part the context term already counts).
inline double PrefillPairs(double start, double tokens) {
  return tokens <= 1 ? 0.0 : (tokens - 1) * start + (tokens - 1) * tokens / 2.0;
}

// Adds one sequence of a step: `tokens` fed after `start` cached tokens.
inline void AddSequence(StepFeatures* f, double start, double tokens) {
  f->tokens += tokens;
  f->sequences += 1;
  f->context += start + tokens;
  f->prefill_pairs += PrefillPairs(start, tokens);
}

struct CostCoefficients {
  double a = 0.0;  // seconds per step (launch, weight read when memory bound)
  double b = 0.0;  // seconds per token fed
  double c = 0.0;  // seconds per sequence (sampling, metadata)
  double d = 0.0;  // seconds per context token (attention KV reads)
  double e = 0.0;  // seconds per prefill query-key pair (attention compute)
};

// Starting points before any step is measured (docs/SCHEDULER.md, Cost models).
// A 7B-class fp16 model on one A100-class GPU: derived from bandwidth and FLOPs.
// Files saved before the e term load with e from the prior of their device.
CostCoefficients Gpu7bCostPrior();
// SmolLM2-135M-Instruct (Q4_1) on one CPU thread of the reference machine:
// fitted from a real cluster's measured steps.
CostCoefficients CpuSmolLmCostPrior();

struct CostModelOptions {
  // Prior variance of each coefficient in scaled units (seconds per 1 step,
  // 1e3 tokens, 1e2 sequences, 1e5 context tokens, 1e6 prefill pairs),
  // relative to the variance of one measurement's relative noise (each sample
  // is weighted by 1/measured: the fit minimizes relative error). With ~5%
  // noise, 1e4 means a prior std of ~5 s per scaled coefficient: a few
  // hundred steps override a wrong prior, a handful do not.
  double prior_variance = 1e4;
  // Recursive least squares forgetting factor in (0, 1]; 1 keeps every sample
  // (exact regularised least squares), 0.999 has an effective window of ~1000 steps.
  double forgetting_factor = 1.0;
};

class StepCostModel {
 public:
  static constexpr int kTerms = 5;  // a, b, c, d, e

  StepCostModel() : StepCostModel(CostCoefficients{}, CostModelOptions{}) {}
  explicit StepCostModel(const CostCoefficients& prior, const CostModelOptions& options = {});

  // Predicted step time in seconds (never below 1 microsecond).
  double Predict(const StepFeatures& f) const;
  // A prefill of `tokens` run alone in one step.
  double PredictPrefill(int32_t tokens) const;
  // Adds one measured step.
  void Observe(const StepFeatures& f, double measured_seconds);

  // The largest token count, a multiple of `align`, for which a step with
  // `sequences` sequences of mean context `mean_context` stays under
  // `target_seconds`; at least `align`, at most 16384.
  int32_t TokenBudgetFor(double target_seconds, int32_t sequences, double mean_context,
                         int32_t align) const;

  const CostCoefficients& coefficients() const { return coeff_; }
  int64_t num_observations() const { return observations_; }

  // {"a":..,"b":..,"c":..,"d":..,"e":..,"observations":..,"covariance":[25 numbers],
  //  "forgetting_factor":..}. The caller persists it per model+device. A file
  // without "e" (written before that term existed, with a 16-number
  // covariance) loads with e and its variance taken from `e_prior`.
  std::string ToJson() const;
  static Result<StepCostModel> FromJson(std::string_view json, double e_prior = 0.0);

 private:
  void SyncCoefficients();

  CostModelOptions options_;
  std::array<double, kTerms> theta_{};          // scaled coefficients
  std::array<double, kTerms * kTerms> p_{};     // covariance, row-major
  CostCoefficients coeff_;
  int64_t observations_ = 0;
};

}  // namespace skipjoin::scheduler
