#include "coordinator/scheduler/cost_model.h"

#include <algorithm>
#include <cmath>

#include <nlohmann/json.hpp>

namespace skipjoin::scheduler {
namespace {
// Feature scales keep the covariance well conditioned: every scaled feature is
// O(1) for realistic steps.
constexpr int kN = StepCostModel::kTerms;
constexpr std::array<double, kN> kScale = {1.0, 1e3, 1e2, 1e5, 1e6};

std::array<double, kN> Scaled(const StepFeatures& f) {
  return {1.0, f.tokens / kScale[1], f.sequences / kScale[2], f.context / kScale[3], f.prefill_pairs / kScale[4]};
}
}  // namespace

// e: 32 layers x 32 heads x 128 x 4 flops per pair at ~300 Tflop/s.
CostCoefficients Gpu7bCostPrior() { return {0.012, 6e-5, 5e-5, 2.6e-7, 1.8e-9}; }

// Fitted by the coordinator from 653 steps of a real local-cpu cluster (one
// worker, one thread; the calibration of bench/sim/validate_cluster.py,
// docs/SCHEDULER.md).
CostCoefficients CpuSmolLmCostPrior() { return {0.0199, 0.00227, 0.0064, 1.4e-6, 6.6e-6}; }

StepCostModel::StepCostModel(const CostCoefficients& prior, const CostModelOptions& options)
    : options_(options) {
  theta_ = {prior.a * kScale[0], prior.b * kScale[1], prior.c * kScale[2], prior.d * kScale[3],
            prior.e * kScale[4]};
  p_.fill(0.0);
  for (int i = 0; i < kN; ++i) p_[i * kN + i] = options_.prior_variance;
  SyncCoefficients();
}

void StepCostModel::SyncCoefficients() {
  coeff_ = {theta_[0] / kScale[0], theta_[1] / kScale[1], theta_[2] / kScale[2], theta_[3] / kScale[3],
            theta_[4] / kScale[4]};
}

double StepCostModel::Predict(const StepFeatures& f) const {
  double t = coeff_.a + coeff_.b * f.tokens + coeff_.c * f.sequences + coeff_.d * f.context +
             coeff_.e * f.prefill_pairs;
  return std::max(t, 1e-6);
}

double StepCostModel::PredictPrefill(int32_t tokens) const {
  StepFeatures f;
  AddSequence(&f, 0, tokens);
  return Predict(f);
}

void StepCostModel::Observe(const StepFeatures& f, double measured_seconds) {
  if (!(measured_seconds >= 0.0) || !std::isfinite(measured_seconds)) return;
  // Relative least squares: each sample is weighted by 1/measured, so a 25 ms
  // decode step counts as much as a 1 s prefill step. Step-time noise grows
  // with the step, and with equal weights the few long steps decided the fit
  // and pushed small decode steps 40% off (docs/SCHEDULER.md).
  const double w = 1.0 / std::max(measured_seconds, 1e-4);
  std::array<double, kN> x = Scaled(f);
  for (double& v : x) v *= w;
  const double lambda = options_.forgetting_factor;
  std::array<double, kN> px{};
  for (int i = 0; i < kN; ++i) {
    double s = 0;
    for (int j = 0; j < kN; ++j) s += p_[i * kN + j] * x[j];
    px[i] = s;
  }
  double denom = lambda;
  for (int i = 0; i < kN; ++i) denom += x[i] * px[i];
  double err = measured_seconds * w;
  for (int i = 0; i < kN; ++i) err -= theta_[i] * x[i];
  for (int i = 0; i < kN; ++i) theta_[i] += px[i] / denom * err;
  for (int i = 0; i < kN; ++i) {
    for (int j = 0; j < kN; ++j) p_[i * kN + j] = (p_[i * kN + j] - px[i] * px[j] / denom) / lambda;
  }
  // With forgetting, directions the data never excites (e.g. tokens == sequences
  // in decode-only traffic) would grow without bound; cap them at the prior.
  for (int i = 0; i < kN; ++i) {
    double& v = p_[i * kN + i];
    if (v > options_.prior_variance) {
      const double s = std::sqrt(options_.prior_variance / v);
      for (int j = 0; j < kN; ++j) {
        p_[i * kN + j] *= s;
        p_[j * kN + i] *= s;
      }
    }
  }
  ++observations_;
  SyncCoefficients();
}

int32_t StepCostModel::TokenBudgetFor(double target_seconds, int32_t sequences, double mean_context,
                                      int32_t align) const {
  align = std::max(align, 1);
  // A full step: `budget` tokens over `sequences` sequences of mean context
  // `mean_context`, where all but one sequence decode and the last feeds the
  // rest of the budget as a fresh chunk, whose own attention pairs count
  // (with e > 0 the step time is quadratic in the chunk, hence the scan).
  int32_t best = align;
  for (int32_t budget = align; budget <= 16384; budget += align) {
    StepFeatures f;
    f.tokens = budget;
    f.sequences = sequences;
    f.context = static_cast<double>(sequences) * mean_context;
    f.prefill_pairs = PrefillPairs(0, std::max(0, budget - std::max(0, sequences - 1)));
    if (Predict(f) > target_seconds) break;
    best = budget;
  }
  return best;
}

std::string StepCostModel::ToJson() const {
  nlohmann::json j;
  j["a"] = coeff_.a;
  j["b"] = coeff_.b;
  j["c"] = coeff_.c;
  j["d"] = coeff_.d;
  j["e"] = coeff_.e;
  j["observations"] = observations_;
  j["forgetting_factor"] = options_.forgetting_factor;
  j["prior_variance"] = options_.prior_variance;
  j["covariance"] = p_;
  return j.dump();
}

Result<StepCostModel> StepCostModel::FromJson(std::string_view text, double e_prior) {
  nlohmann::json j = nlohmann::json::parse(text, nullptr, /*allow_exceptions=*/false);
  if (j.is_discarded() || !j.is_object()) return InvalidArgument("cost model: not a JSON object");
  CostCoefficients c;
  for (const char* key : {"a", "b", "c", "d"}) {
    if (!j.contains(key) || !j[key].is_number()) {
      return InvalidArgument(std::string("cost model: missing number field '") + key + "'");
    }
  }
  c.a = j["a"].get<double>();
  c.b = j["b"].get<double>();
  c.c = j["c"].get<double>();
  c.d = j["d"].get<double>();
  const bool has_e = j.contains("e");
  if (has_e && !j["e"].is_number()) return InvalidArgument("cost model: field 'e' must be a number");
  c.e = has_e ? j["e"].get<double>() : e_prior;
  for (double v : {c.a, c.b, c.c, c.d, c.e}) {
    if (!std::isfinite(v) || std::abs(v) > 1e6) return InvalidArgument("cost model: a coefficient is not a finite number of seconds");
  }
  CostModelOptions o;
  if (j.contains("forgetting_factor") && j["forgetting_factor"].is_number()) {
    o.forgetting_factor = j["forgetting_factor"].get<double>();
  }
  if (j.contains("prior_variance") && j["prior_variance"].is_number()) {
    o.prior_variance = j["prior_variance"].get<double>();
  }
  if (!(o.prior_variance > 0) || !std::isfinite(o.prior_variance)) {
    return InvalidArgument("cost model: prior_variance must be a positive number");
  }
  if (!(o.forgetting_factor > 0 && o.forgetting_factor <= 1)) {
    return InvalidArgument("cost model: forgetting_factor must be in (0, 1]");
  }
  StepCostModel m(c, o);
  if (j.contains("observations") && j["observations"].is_number_integer()) {
    m.observations_ = j["observations"].get<int64_t>();
  }
  if (j.contains("covariance")) {
    // 25 numbers, or 16 from a file written before the e term: those cover
    // a..d and e keeps its prior variance.
    const size_t want = has_e ? kN * kN : 16;
    if (!j["covariance"].is_array() || j["covariance"].size() != want) {
      return InvalidArgument("cost model: covariance must be a list of " + std::to_string(want) + " numbers");
    }
    const int n = has_e ? kN : 4;
    for (int i = 0; i < n * n; ++i) {
      if (!j["covariance"][i].is_number()) return InvalidArgument("cost model: covariance must be numbers");
      const double v = j["covariance"][i].get<double>();
      if (!std::isfinite(v)) return InvalidArgument("cost model: covariance must be finite");
      m.p_[(i / n) * kN + i % n] = v;
    }
  }
  return m;
}

}  // namespace skipjoin::scheduler
