// Step cost model: t = a + b*tokens + c*sequences + d*sum(context), in seconds.
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
// cache after the step (start position + tokens fed), i.e. attention length.
struct StepFeatures {
  double tokens = 0;
  double sequences = 0;
  double context = 0;
};

struct CostCoefficients {
  double a = 0.0;  // seconds per step (launch, weight read when memory bound)
  double b = 0.0;  // seconds per token fed
  double c = 0.0;  // seconds per sequence (sampling, metadata)
  double d = 0.0;  // seconds per context token (attention KV reads)
};

// Starting points before any step is measured (docs/SCHEDULER.md, Cost models).
// A 7B-class fp16 model on one A100-class GPU: derived from bandwidth and FLOPs.
CostCoefficients Gpu7bCostPrior();
// SmolLM2-135M-Instruct (Q4_1) on one CPU thread of the reference machine:
// fitted from a real cluster's measured steps.
CostCoefficients CpuSmolLmCostPrior();

struct CostModelOptions {
  // Prior variance of each coefficient in scaled units (seconds per 1 step,
  // 1e3 tokens, 1e2 sequences, 1e5 context tokens), relative to the variance
  // of one measurement's noise (least squares weighs each sample by 1). With
  // ~1 ms noise, 1e4 means a prior std of ~0.1 s per scaled coefficient: a
  // few hundred steps override a wrong prior, a handful do not.
  double prior_variance = 1e4;
  // Recursive least squares forgetting factor in (0, 1]; 1 keeps every sample
  // (exact regularised least squares), 0.999 has an effective window of ~1000 steps.
  double forgetting_factor = 1.0;
};

class StepCostModel {
 public:
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

  // {"a":..,"b":..,"c":..,"d":..,"observations":..,"covariance":[16 numbers],
  //  "forgetting_factor":..}. The caller persists it per model+device.
  std::string ToJson() const;
  static Result<StepCostModel> FromJson(std::string_view json);

 private:
  void SyncCoefficients();

  CostModelOptions options_;
  std::array<double, 4> theta_{};   // scaled coefficients
  std::array<double, 16> p_{};      // covariance, row-major
  CostCoefficients coeff_;
  int64_t observations_ = 0;
};

}  // namespace skipjoin::scheduler
