#include "coordinator/scheduler/admission_policy.h"

#include <algorithm>
#include <cmath>

namespace skipjoin::scheduler {

double PredictedCopyShare(int32_t host_blocks, double block_copy_seconds, double stall_seconds) {
  if (block_copy_seconds <= 0 || stall_seconds <= 0) return 0;
  return 2.0 * host_blocks * block_copy_seconds / stall_seconds;
}

void CopyShareMeter::Observe(double step_seconds, double copy_seconds) {
  if (step_seconds <= 0) return;
  const double keep = window_ > 0 ? std::exp(-step_seconds / window_) : 0.0;
  share_ = keep * share_ + (1 - keep) * std::clamp(copy_seconds / step_seconds, 0.0, 1.0);
}

int32_t SwapDebtLimitBlocks(const AdmissionOptions& o, const AdmissionSnapshot& s) {
  if (s.block_copy_seconds <= 0 || s.stall_seconds <= 0)
    return static_cast<int32_t>(std::ceil(o.fallback_fraction * s.device_blocks));
  const double blocks = o.copy_share * s.stall_seconds / (2.0 * s.block_copy_seconds);
  return static_cast<int32_t>(std::min(blocks, 1e9));
}

AdmissionDecision DecideAdmission(const AdmissionOptions& o, const AdmissionSnapshot& s) {
  AdmissionDecision d;
  d.debt_limit_blocks = SwapDebtLimitBlocks(o, s);
  d.admit = s.host_debt_blocks <= d.debt_limit_blocks && s.forced * 4 <= s.slots &&
            s.started < o.max_started;
  if (d.admit && o.copy_share > 0) {
    const double headroom = std::max(0.0, 1.0 - s.measured_copy_share / o.copy_share);
    d.evict_budget_blocks =
        static_cast<int32_t>(std::max(0, d.debt_limit_blocks - s.host_debt_blocks) * headroom);
  }
  return d;
}

}  // namespace skipjoin::scheduler
