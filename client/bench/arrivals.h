// When each benchmark request is sent: gamma-distributed gaps between
// arrivals, as `vllm bench serve` draws them. Free functions; any thread.
#pragma once

#include <cstdint>
#include <vector>

#include "common/status.h"

namespace skipjoin::bench {

struct ArrivalOptions {
  // Mean requests per second; +infinity sends every request at time 0.
  double request_rate = 0.0;
  // Gamma shape of the gaps: 1 is a Poisson process, < 1 burstier, > 1 more
  // regular. The gaps' coefficient of variation is 1 / sqrt(burstiness).
  double burstiness = 1.0;
  uint64_t seed = 0;
};

// Errors name --request-rate / --burstiness.
Status ValidateArrivalOptions(const ArrivalOptions& options);

// n send times in seconds after the start, non-decreasing; the first is 0.
// Gaps are Gamma(shape = burstiness, scale = 1 / (rate * burstiness)), so
// their mean is 1 / rate whatever the burstiness. Same seed, same times.
std::vector<double> ArrivalOffsets(int64_t n, const ArrivalOptions& options);

}  // namespace skipjoin::bench
