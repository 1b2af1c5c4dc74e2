// Time sources for the scheduler. The Scheduler never reads the wall clock
// directly: the coordinator passes a SteadyClock, tests and the simulator pass a
// ManualClock they advance by hand (virtual time).
// Thread-compatible: a clock is read by the thread that owns the Scheduler.
#pragma once

#include <chrono>

namespace skipjoin::scheduler {

class Clock {
 public:
  virtual ~Clock() = default;
  // Seconds since an arbitrary, fixed epoch; never decreases.
  virtual double NowSeconds() const = 0;
};

class SteadyClock final : public Clock {
 public:
  double NowSeconds() const override {
    return std::chrono::duration<double>(std::chrono::steady_clock::now().time_since_epoch()).count();
  }
};

// Virtual time: starts at 0 and moves only when told to.
class ManualClock final : public Clock {
 public:
  double NowSeconds() const override { return now_; }
  void Set(double seconds) { now_ = seconds; }
  void Advance(double seconds) { now_ += seconds; }

 private:
  double now_ = 0.0;
};

}  // namespace skipjoin::scheduler
