#include "coordinator/scheduler/workload.h"

#include <algorithm>
#include <cmath>
#include <fstream>
#include <nlohmann/json.hpp>
#include <random>

namespace skipjoin::scheduler {
namespace {

int32_t DrawLength(const LengthDistribution& d, std::mt19937_64& rng) {
  switch (d.kind) {
    case LengthKind::kFixed:
      return d.fixed;
    case LengthKind::kUniform:
      return std::uniform_int_distribution<int32_t>(d.min, d.max)(rng);
    case LengthKind::kShareGpt: {
      // Log-normal with the requested mean: mu = ln(mean) - sigma^2 / 2.
      const double mu = std::log(d.mean) - d.sigma * d.sigma / 2;
      const double x = std::lognormal_distribution<double>(mu, d.sigma)(rng);
      return std::clamp(static_cast<int32_t>(std::lround(x)), d.min, d.max);
    }
    case LengthKind::kPareto: {
      // Inverse CDF: x_m / U^(1/alpha), mean alpha * x_m / (alpha - 1).
      const double alpha = std::max(d.alpha, 1.0001);
      const double xm = d.mean * (alpha - 1) / alpha;
      const double u = 1.0 - std::uniform_real_distribution<double>(0.0, 1.0)(rng);  // (0, 1]
      const double x = xm / std::pow(u, 1.0 / alpha);
      return static_cast<int32_t>(std::clamp<double>(std::round(x), d.min, d.max));
    }
    case LengthKind::kBimodal: {
      const bool long_mode =
          std::bernoulli_distribution(std::clamp(d.long_fraction, 0.0, 1.0))(rng);
      return long_mode
                 ? std::uniform_int_distribution<int32_t>(std::min(d.long_min, d.max), d.max)(rng)
                 : std::uniform_int_distribution<int32_t>(d.min, std::max(d.min, d.short_max))(rng);
    }
  }
  return d.fixed;
}

}  // namespace

std::vector<WorkloadRequest> GenerateWorkload(const WorkloadOptions& options) {
  std::mt19937_64 rng(options.seed);
  std::vector<WorkloadRequest> out;
  out.reserve(options.num_requests);
  double t = 0;
  const double rate = std::max(options.rate, 1e-12);
  std::exponential_distribution<double> expo(rate);
  const double shape = 1.0 / std::max(options.cv * options.cv, 1e-6);
  std::gamma_distribution<double> gamma(shape, 1.0 / (rate * shape));
  for (int64_t i = 0; i < options.num_requests; ++i) {
    WorkloadRequest r;
    r.arrival = t;
    r.prompt_len = std::max(1, DrawLength(options.prompt, rng));
    r.output_len = std::max(1, DrawLength(options.output, rng));
    out.push_back(r);
    switch (options.arrival) {
      case ArrivalKind::kPoisson:
        t += expo(rng);
        break;
      case ArrivalKind::kGamma:
        t += gamma(rng);
        break;
    }
  }
  return out;
}

Result<std::vector<WorkloadRequest>> LoadTrace(const std::string& path) {
  std::ifstream in(path);
  if (!in) return NotFound("trace " + path + ": cannot open");
  std::vector<WorkloadRequest> out;
  std::string line;
  int64_t line_no = 0;
  while (std::getline(in, line)) {
    ++line_no;
    if (line.find_first_not_of(" \t\r") == std::string::npos) continue;
    const std::string where = "trace " + path + ":" + std::to_string(line_no) + ": ";
    nlohmann::json j = nlohmann::json::parse(line, nullptr, /*allow_exceptions=*/false);
    if (j.is_discarded() || !j.is_object()) return InvalidArgument(where + "not a JSON object");
    if (!j.contains("arrival") || !j["arrival"].is_number() || !j.contains("prompt_len") ||
        !j["prompt_len"].is_number_integer() || !j.contains("output_len") ||
        !j["output_len"].is_number_integer()) {
      return InvalidArgument(where + "needs numeric arrival, integer prompt_len and output_len");
    }
    WorkloadRequest r;
    r.arrival = j["arrival"].get<double>();
    r.prompt_len = j["prompt_len"].get<int32_t>();
    r.output_len = j["output_len"].get<int32_t>();
    if (j.contains("priority") && j["priority"].is_number_integer())
      r.priority = j["priority"].get<int32_t>();
    if (r.prompt_len < 1 || r.output_len < 1 || r.arrival < 0) {
      return InvalidArgument(where + "lengths must be >= 1 and arrival >= 0");
    }
    out.push_back(r);
  }
  std::stable_sort(out.begin(), out.end(), [](const WorkloadRequest& a, const WorkloadRequest& b) {
    return a.arrival < b.arrival;
  });
  return out;
}

Result<ArrivalKind> ParseArrivalKind(std::string_view name) {
  if (name == "poisson") return ArrivalKind::kPoisson;
  if (name == "gamma") return ArrivalKind::kGamma;
  return InvalidArgument("unknown arrival process '" + std::string(name) + "' (poisson, gamma)");
}

Result<LengthKind> ParseLengthKind(std::string_view name) {
  if (name == "fixed") return LengthKind::kFixed;
  if (name == "uniform") return LengthKind::kUniform;
  if (name == "sharegpt") return LengthKind::kShareGpt;
  if (name == "pareto") return LengthKind::kPareto;
  if (name == "bimodal") return LengthKind::kBimodal;
  return InvalidArgument("unknown length distribution '" + std::string(name) +
                         "' (fixed, uniform, sharegpt, pareto, bimodal)");
}

}  // namespace skipjoin::scheduler
