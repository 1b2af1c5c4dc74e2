// ThroughputLog: the coordinator's periodic throughput line
// (coordinator.stats_log_interval_s): work counted since the last line, and
// one log line per interval in which steps ran.
// Thread-compatible; the core thread owns it.
#pragma once

#include <cstdint>
#include <vector>

#include "protocol/messages.h"

namespace skipjoin::server {

class ThroughputLog {
 public:
  // interval_s <= 0: never logs.
  explicit ThroughputLog(double interval_s) : interval_s_(interval_s) {}

  void Step(int64_t computed_tokens) {
    ++steps_;
    computed_tokens_ += computed_tokens;
  }
  void Generated(int64_t tokens) { generated_tokens_ += tokens; }
  void Finished() { ++finished_; }

  // Whether a line is due at `now` (seconds); opens the first window.
  bool Due(double now);
  // Logs the line for the window ending at `now` with the replicas' queue
  // and KV state, and opens the next window. Call when Due(now).
  void Log(double now, const std::vector<protocol::ReplicaStatus>& replicas);

 private:
  const double interval_s_;
  double since_ = -1;  // < 0: no window open yet
  int64_t steps_ = 0, computed_tokens_ = 0, generated_tokens_ = 0, finished_ = 0;
};

}  // namespace skipjoin::server
