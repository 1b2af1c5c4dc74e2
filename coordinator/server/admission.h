// Admission: how many requests (each choice of n counts) and prompt tokens
// the coordinator holds, against coordinator.limits.max_pending_*. A request
// counts from Reserve (a frontend, after tokenizing) or Add (a Submit without
// a reservation) until Release (the core, when it leaves the request table).
// Also the smoothed completion rate behind Retry-After.
//
// Threading: HasRoom, Reserve, Unreserve, Add, RetryAfterSeconds and the
// getters from any thread (atomics); Release and UpdateRate from the core's
// thread.
#pragma once

#include <atomic>
#include <cstdint>

#include "common/config/cluster_config.h"

namespace skipjoin::server {

class Admission {
 public:
  explicit Admission(const config::RequestLimits& limits)
      : max_requests_(limits.max_pending_requests),
        max_tokens_(static_cast<int64_t>(limits.max_pending_tokens)) {}

  // The cheap check a frontend makes before tokenizing.
  bool HasRoom(int64_t requests) const { return requests_.load() + requests <= max_requests_; }
  // Takes room for `requests` with `prompt_tokens` tokens in all, or none
  // when either limit would be passed.
  bool Reserve(int64_t requests, int64_t prompt_tokens);
  // Gives back room taken by Reserve for requests that were never submitted.
  void Unreserve(int64_t requests, int64_t prompt_tokens);
  // Counts requests submitted without a reservation, past the limits if need be.
  void Add(int64_t requests, int64_t prompt_tokens);
  // One request of `prompt_tokens` ended; its room is free again.
  void Release(int64_t prompt_tokens);
  // Folds the requests ended since the last call into the completion rate;
  // call about every 100 ms (steady seconds).
  void UpdateRate(double now);
  // The time the completion rate needs to end the requests ahead of one
  // refused for room, 1..60 s (1 before any rate is known).
  int RetryAfterSeconds() const;

  int64_t pending_requests() const { return requests_.load(); }
  int64_t pending_tokens() const { return tokens_.load(); }

 private:
  const int64_t max_requests_;
  const int64_t max_tokens_;
  std::atomic<int64_t> requests_{0};
  std::atomic<int64_t> tokens_{0};
  std::atomic<double> completion_rate_{0};  // requests ended per second, smoothed
  // Core thread only.
  double window_start_ = -1;
  int64_t ended_in_window_ = 0;
};

}  // namespace skipjoin::server
