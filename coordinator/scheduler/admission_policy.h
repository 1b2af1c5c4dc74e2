// Admission of jobs that have not started, under the decode-stall bound, as
// pure functions of a replica's snapshot (docs/SCHEDULER.md, "Admission by
// swap-in debt").
//
// The model: every started job is owed a token every S seconds (the stall
// bound). A started job whose KV sits on the host must therefore be copied in
// (and, while the device stays full, another one copied out) every S: keeping
// H blocks of preempted KV on the host costs 2 * H * t_b / S of the replica's
// time in copies, where t_b is the measured copy time of one block. That
// share -- the swap-in debt, paid again every S -- is what turns a full
// device into a collapse when it approaches the replica's slack, and it is
// known *before* the copies happen. So a new job may push KV to the host
// (evict by swap) only while the debt after it stays within
// `copy_share` of the replica's time:
//
//   H_after <= debt_limit = copy_share * S / (2 * t_b)
//
// and no new job starts at all while the debt already exceeds the limit, the
// stall bound takes a quarter of the slots, or the started set is at its cap.
// The prediction counts only the KV already on the host; the started jobs'
// growth and the returns that evict others in turn add copies it cannot see.
// So the measured share of recent time in copies, c, shrinks what new jobs
// may push out: the budget is (debt_limit - H) * (1 - c / copy_share), none
// once the copies measured reach the share. Admission is then permissive
// while the replica copies little and closes as the copies approach the
// budget, before they eat the replica's slack.
// Free device memory is always open to new jobs (it costs no copies).
// Until t_b is measured, the limit is the fixed `fallback_fraction` of the
// device pool.
//
// Thread-compatible; stateless.
#pragma once

#include <cstdint>

namespace skipjoin::scheduler {

struct AdmissionOptions {
  // Share of the replica's time that the stall bound may spend bringing
  // preempted KV back (the swap-in debt). 0 disables admission by eviction.
  double copy_share = 0.05;
  // The debt limit, as a fraction of the device pool, while the block copy
  // time is not yet measured (or without a stall bound).
  double fallback_fraction = 0.01;
  // No new job starts while this many jobs have started and not finished.
  int64_t max_started = 1024;
};

struct AdmissionSnapshot {
  int32_t device_blocks = 0;      // D, the device pool
  int32_t host_debt_blocks = 0;   // H: host blocks holding preempted KV now
  double block_copy_seconds = 0;  // t_b, measured; <= 0: not yet known
  double stall_seconds = 0;       // S; <= 0: no stall bound
  int32_t slots = 0;              // sequences per step
  int32_t forced = 0;             // this step's jobs chosen by the stall bound
  int64_t started = 0;            // started and not finished
  // Measured share of the replica's recent time spent in blocking copies
  // (CopyShareMeter); the feedback that catches what the prediction misses
  // (growth of started jobs, returns that evict others in turn).
  double measured_copy_share = 0;
};

struct AdmissionDecision {
  bool admit = false;  // any new job may start this step
  // Host blocks that new jobs may hold after their evictions, in total (the
  // debt limit); a new job evicts only while the planned host use stays within it.
  int32_t debt_limit_blocks = 0;
  // What is left of the limit now: blocks that new jobs may push out this step.
  int32_t evict_budget_blocks = 0;
};

// Share of time in blocking copies, a time-weighted moving average over
// `window_seconds` (older steps weigh e^-age/window).
class CopyShareMeter {
 public:
  explicit CopyShareMeter(double window_seconds = 4.0) : window_(window_seconds) {}
  void Observe(double step_seconds, double copy_seconds);
  double share() const { return share_; }

 private:
  double window_;
  double share_ = 0;
};

// Host blocks of preempted KV whose stall-bound round trips cost `copy_share`
// of the time.
int32_t SwapDebtLimitBlocks(const AdmissionOptions& options, const AdmissionSnapshot& s);

AdmissionDecision DecideAdmission(const AdmissionOptions& options, const AdmissionSnapshot& s);

// Seconds of copies per second that holding `host_blocks` of preempted KV
// costs under the stall bound: 2 * host_blocks * t_b / S (0 when either is unknown).
double PredictedCopyShare(int32_t host_blocks, double block_copy_seconds, double stall_seconds);

}  // namespace skipjoin::scheduler
