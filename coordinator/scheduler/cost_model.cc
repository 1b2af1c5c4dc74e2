#include "coordinator/scheduler/cost_model.h"

#include <algorithm>
#include <cmath>

#include <nlohmann/json.hpp>

namespace skipjoin::scheduler {
namespace {
// Feature scales keep the covariance well conditioned: every scaled feature is
// O(1) for realistic steps.
constexpr std::array<double, 4> kScale = {1.0, 1e3, 1e2, 1e5};

std::array<double, 4> Scaled(const StepFeatures& f) {
  return {1.0, f.tokens / kScale[1], f.sequences / kScale[2], f.context / kScale[3]};
}
}  // namespace

CostCoefficients Gpu7bCostPrior() { return {0.012, 6e-5, 5e-5, 2.6e-7}; }

// Fitted by the coordinator from 557 steps of a real local-cpu cluster (one
// worker, one thread; bench/sim/validate_cluster.py, docs/SCHEDULER.md).
CostCoefficients CpuSmolLmCostPrior() { return {0.027, 0.0037, 0.002, 3.3e-5}; }

StepCostModel::StepCostModel(const CostCoefficients& prior, const CostModelOptions& options)
    : options_(options) {
  theta_ = {prior.a * kScale[0], prior.b * kScale[1], prior.c * kScale[2], prior.d * kScale[3]};
  p_.fill(0.0);
  for (int i = 0; i < 4; ++i) p_[i * 4 + i] = options_.prior_variance;
  SyncCoefficients();
}

void StepCostModel::SyncCoefficients() {
  coeff_ = {theta_[0] / kScale[0], theta_[1] / kScale[1], theta_[2] / kScale[2], theta_[3] / kScale[3]};
}

double StepCostModel::Predict(const StepFeatures& f) const {
  double t = coeff_.a + coeff_.b * f.tokens + coeff_.c * f.sequences + coeff_.d * f.context;
  return std::max(t, 1e-6);
}

double StepCostModel::PredictPrefill(int32_t tokens) const {
  return Predict({static_cast<double>(tokens), 1.0, static_cast<double>(tokens)});
}

void StepCostModel::Observe(const StepFeatures& f, double measured_seconds) {
  if (!(measured_seconds >= 0.0) || !std::isfinite(measured_seconds)) return;
  const std::array<double, 4> x = Scaled(f);
  const double lambda = options_.forgetting_factor;
  std::array<double, 4> px{};
  for (int i = 0; i < 4; ++i) {
    double s = 0;
    for (int j = 0; j < 4; ++j) s += p_[i * 4 + j] * x[j];
    px[i] = s;
  }
  double denom = lambda;
  for (int i = 0; i < 4; ++i) denom += x[i] * px[i];
  double err = measured_seconds;
  for (int i = 0; i < 4; ++i) err -= theta_[i] * x[i];
  for (int i = 0; i < 4; ++i) theta_[i] += px[i] / denom * err;
  for (int i = 0; i < 4; ++i) {
    for (int j = 0; j < 4; ++j) p_[i * 4 + j] = (p_[i * 4 + j] - px[i] * px[j] / denom) / lambda;
  }
  // With forgetting, directions the data never excites (e.g. tokens == sequences
  // in decode-only traffic) would grow without bound; cap them at the prior.
  for (int i = 0; i < 4; ++i) {
    double& v = p_[i * 4 + i];
    if (v > options_.prior_variance) {
      const double s = std::sqrt(options_.prior_variance / v);
      for (int j = 0; j < 4; ++j) {
        p_[i * 4 + j] *= s;
        p_[j * 4 + i] *= s;
      }
    }
  }
  ++observations_;
  SyncCoefficients();
}

int32_t StepCostModel::TokenBudgetFor(double target_seconds, int32_t sequences, double mean_context,
                                      int32_t align) const {
  align = std::max(align, 1);
  const double rest = target_seconds - coeff_.a - coeff_.c * sequences -
                      coeff_.d * sequences * mean_context;
  double budget = coeff_.b > 0 ? rest / coeff_.b : 16384.0;
  budget = std::clamp(budget, static_cast<double>(align), 16384.0);
  int32_t b = static_cast<int32_t>(budget);
  return std::max(align, b / align * align);
}

std::string StepCostModel::ToJson() const {
  nlohmann::json j;
  j["a"] = coeff_.a;
  j["b"] = coeff_.b;
  j["c"] = coeff_.c;
  j["d"] = coeff_.d;
  j["observations"] = observations_;
  j["forgetting_factor"] = options_.forgetting_factor;
  j["prior_variance"] = options_.prior_variance;
  j["covariance"] = p_;
  return j.dump();
}

Result<StepCostModel> StepCostModel::FromJson(std::string_view text) {
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
  for (double v : {c.a, c.b, c.c, c.d}) {
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
    if (!j["covariance"].is_array() || j["covariance"].size() != 16) {
      return InvalidArgument("cost model: covariance must be a list of 16 numbers");
    }
    for (int i = 0; i < 16; ++i) {
      if (!j["covariance"][i].is_number()) return InvalidArgument("cost model: covariance must be numbers");
      m.p_[i] = j["covariance"][i].get<double>();
      if (!std::isfinite(m.p_[i])) return InvalidArgument("cost model: covariance must be finite");
    }
  }
  return m;
}

}  // namespace skipjoin::scheduler
