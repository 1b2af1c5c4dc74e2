// Skip-join multi-level feedback queue (FastServe), as pure functions of a
// job's (level, quantum used) and measured times. The Scheduler keeps one FIFO
// per level and applies these decisions.
//
//  - Level i has quantum q0 * r^i seconds of service.
//  - Skip-join: a new job starts at min{i : quantum_i >= estimated prefill
//    time}, so a long prompt does not sit in (and then fall through) levels
//    whose quantum its first step would exceed anyway. The request priority
//    moves that level up (positive) or down (negative).
//  - Every step's measured time is charged to each job in it; a job that has
//    used its quantum drops one level (and starts the new quantum afresh).
//  - A job that has not run for longer than the starvation threshold returns
//    to level 0 (ahead of the jobs already there), which bounds any job's wait
//    by the threshold plus one step.
// Thread-compatible, stateless beyond its options.
#pragma once

#include <cstdint>
#include <limits>

namespace skipjoin::scheduler {

struct MlfqOptions {
  int32_t num_levels = 6;               // K >= 1
  double base_quantum_seconds = 0.05;   // q0: level 0's quantum
  double quantum_ratio = 4.0;           // r: quantum_i = q0 * r^i
  double starvation_seconds = 20.0;     // promote to level 0 after this wait
};

class MlfqPolicy {
 public:
  explicit MlfqPolicy(const MlfqOptions& options);

  int32_t num_levels() const { return options_.num_levels; }
  // Seconds of service level `level` may use; the last level's is infinite.
  double Quantum(int32_t level) const;
  // The level a new job joins.
  int32_t SkipJoinLevel(double estimated_prefill_seconds, int32_t priority) const;

  struct Charge {
    int32_t level = 0;
    double used = 0;  // seconds used of the (new) level's quantum
    bool demoted = false;
  };
  // Charges `seconds` of service to a job at `level` that has used `used`.
  Charge ChargeService(int32_t level, double used, double seconds) const;

  bool IsStarved(double waiting_seconds) const { return waiting_seconds > options_.starvation_seconds; }

  // A single-level queue that never demotes or promotes: first come first served.
  static MlfqOptions FcfsOptions() {
    return {1, std::numeric_limits<double>::infinity(), 1.0, std::numeric_limits<double>::infinity()};
  }

 private:
  MlfqOptions options_;
};

}  // namespace skipjoin::scheduler
