#include "coordinator/scheduler/mlfq_policy.h"

#include <algorithm>
#include <cmath>

#include "common/status.h"

namespace skipjoin::scheduler {

MlfqPolicy::MlfqPolicy(const MlfqOptions& options) : options_(options) {
  SJ_CHECK(options.num_levels >= 1) << "num_levels=" << options.num_levels;
  SJ_CHECK(options.base_quantum_seconds > 0 && options.quantum_ratio >= 1)
      << "q0=" << options.base_quantum_seconds << " r=" << options.quantum_ratio;
}

double MlfqPolicy::Quantum(int32_t level) const {
  if (level >= options_.num_levels - 1) return std::numeric_limits<double>::infinity();
  return options_.base_quantum_seconds * std::pow(options_.quantum_ratio, level);
}

int32_t MlfqPolicy::SkipJoinLevel(double estimated_prefill_seconds, int32_t priority) const {
  int32_t level = options_.num_levels - 1;
  for (int32_t i = 0; i < options_.num_levels; ++i) {
    if (Quantum(i) >= estimated_prefill_seconds) {
      level = i;
      break;
    }
  }
  return std::clamp<int64_t>(static_cast<int64_t>(level) - priority, 0, options_.num_levels - 1);
}

MlfqPolicy::Charge MlfqPolicy::ChargeService(int32_t level, double used, double seconds) const {
  Charge c{level, used + seconds, false};
  if (c.used >= Quantum(level) && level < options_.num_levels - 1) {
    c.level = level + 1;
    c.used = 0;
    c.demoted = true;
  }
  return c;
}

}  // namespace skipjoin::scheduler
