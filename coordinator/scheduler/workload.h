// Synthetic and trace workloads for the simulator.
//
// Arrivals: Poisson at `rate` requests/s, or gamma inter-arrival times with
// coefficient of variation `cv` (cv > 1 is burstier than Poisson).
// Lengths: fixed, uniform in [min, max], or "sharegpt": a heavy-tailed
// synthetic mix shaped like ShareGPT conversations -- log-normal prompts with
// mean ~200 tokens (median ~120) and log-normal outputs with mean ~250 tokens
// (median ~140, p99 ~1500), both clamped to [min, max]; "pareto": Pareto with
// shape `alpha` and scale chosen so that the unclamped mean is `mean`, clamped
// to [min, max] (alpha ~1.3 is the heavy tail of FastServe's workloads);
// "bimodal": with probability `long_fraction` uniform in [long_min, max],
// else uniform in [min, short_max]. See docs/SCHEDULER.md.
// A JSONL trace has one object per line:
//   {"arrival": seconds, "prompt_len": n, "output_len": m, "priority": p}
// (priority optional), sorted by arrival or not (it is sorted on load).
// Deterministic for a given seed and standard library.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "common/status.h"

namespace skipjoin::scheduler {

enum class ArrivalKind { kPoisson, kGamma };
enum class LengthKind { kFixed, kUniform, kShareGpt, kPareto, kBimodal };

struct LengthDistribution {
  LengthKind kind = LengthKind::kShareGpt;
  int32_t fixed = 128;
  int32_t min = 1;
  int32_t max = 2048;
  double mean = 200;           // sharegpt: mean before clamping
  double sigma = 1.0;          // sharegpt: log-normal shape
  double alpha = 1.3;          // pareto: tail index (> 1 for a finite mean)
  int32_t short_max = 64;      // bimodal: the short mode is [min, short_max]
  int32_t long_min = 512;      // bimodal: the long mode is [long_min, max]
  double long_fraction = 0.1;  // bimodal: probability of the long mode
};

struct WorkloadOptions {
  int64_t num_requests = 1000;
  double rate = 1.0;  // requests per second
  ArrivalKind arrival = ArrivalKind::kPoisson;
  double cv = 1.0;  // gamma only
  LengthDistribution prompt{LengthKind::kShareGpt, 128, 4, 2048, 200, 1.0};
  LengthDistribution output{LengthKind::kShareGpt, 128, 1, 2048, 250, 1.1};
  uint64_t seed = 1;
};

struct WorkloadRequest {
  double arrival = 0;  // seconds from the start
  int32_t prompt_len = 0;
  int32_t output_len = 0;
  int32_t priority = 0;
};

std::vector<WorkloadRequest> GenerateWorkload(const WorkloadOptions& options);
Result<std::vector<WorkloadRequest>> LoadTrace(const std::string& path);
// "poisson", "gamma"; "fixed", "uniform", "sharegpt", "pareto", "bimodal".
Result<ArrivalKind> ParseArrivalKind(std::string_view name);
Result<LengthKind> ParseLengthKind(std::string_view name);

}  // namespace skipjoin::scheduler
