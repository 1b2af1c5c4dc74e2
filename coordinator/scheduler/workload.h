// Synthetic and trace workloads for the simulator.
//
// Arrivals: Poisson at `rate` requests/s, or gamma inter-arrival times with
// coefficient of variation `cv` (cv > 1 is burstier than Poisson).
// Lengths: fixed, uniform in [min, max], or "sharegpt": a heavy-tailed
// synthetic mix shaped like ShareGPT conversations -- log-normal prompts with
// mean ~200 tokens (median ~120) and log-normal outputs with mean ~250 tokens
// (median ~140, p99 ~1500), both clamped to [min, max]. See docs/SCHEDULER.md.
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
enum class LengthKind { kFixed, kUniform, kShareGpt };

struct LengthDistribution {
  LengthKind kind = LengthKind::kShareGpt;
  int32_t fixed = 128;
  int32_t min = 1;
  int32_t max = 2048;
  double mean = 200;   // sharegpt: mean before clamping
  double sigma = 1.0;  // sharegpt: log-normal shape
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
// "poisson", "gamma"; "fixed", "uniform", "sharegpt".
Result<ArrivalKind> ParseArrivalKind(std::string_view name);
Result<LengthKind> ParseLengthKind(std::string_view name);

}  // namespace skipjoin::scheduler
