#include "client/bench/arrivals.h"

#include <algorithm>
#include <cmath>

#include "client/bench/rng.h"

namespace skipjoin::bench {

namespace {
// Keeps the arrival stream apart from the dataset's streams of the same seed.
constexpr uint64_t kArrivalStream = 0xd1b54a32d192ed03ull;
}  // namespace

Status ValidateArrivalOptions(const ArrivalOptions& o) {
  if (std::isnan(o.request_rate) || o.request_rate <= 0.0) {
    return InvalidArgument("--request-rate must be a positive number of requests/s or inf");
  }
  if (!std::isfinite(o.burstiness) || o.burstiness <= 0.0) {
    return InvalidArgument("--burstiness must be a positive number (1 = Poisson)");
  }
  return Status::Ok();
}

std::vector<double> ArrivalOffsets(int64_t n, const ArrivalOptions& o) {
  std::vector<double> times(static_cast<size_t>(std::max<int64_t>(n, 0)), 0.0);
  if (std::isinf(o.request_rate)) return times;
  Rng rng(o.seed ^ kArrivalStream);
  const double scale = 1.0 / (o.request_rate * o.burstiness);
  for (size_t i = 1; i < times.size(); ++i)
    times[i] = times[i - 1] + rng.Gamma(o.burstiness, scale);
  return times;
}

}  // namespace skipjoin::bench
