#include "coordinator/server/admission.h"

#include <algorithm>
#include <cmath>

namespace skipjoin::server {

bool Admission::Reserve(int64_t requests, int64_t prompt_tokens) {
  int64_t r = requests_.load();
  do {
    if (r + requests > max_requests_) return false;
  } while (!requests_.compare_exchange_weak(r, r + requests));
  int64_t t = tokens_.load();
  do {
    if (t + prompt_tokens > max_tokens_) {
      requests_.fetch_sub(requests);
      return false;
    }
  } while (!tokens_.compare_exchange_weak(t, t + prompt_tokens));
  return true;
}

void Admission::Unreserve(int64_t requests, int64_t prompt_tokens) {
  requests_.fetch_sub(requests);
  tokens_.fetch_sub(prompt_tokens);
}

void Admission::Add(int64_t requests, int64_t prompt_tokens) {
  requests_.fetch_add(requests);
  tokens_.fetch_add(prompt_tokens);
}

void Admission::Release(int64_t prompt_tokens) {
  Unreserve(1, prompt_tokens);
  ++ended_in_window_;
}

void Admission::UpdateRate(double now) {
  if (window_start_ < 0) window_start_ = now;
  if (now - window_start_ < 1.0) return;
  const double rate = static_cast<double>(ended_in_window_) / (now - window_start_);
  const double old = completion_rate_.load();
  completion_rate_.store(old > 0 ? 0.7 * old + 0.3 * rate : rate);
  window_start_ = now;
  ended_in_window_ = 0;
}

int Admission::RetryAfterSeconds() const {
  const double rate = completion_rate_.load();
  if (!(rate > 0)) return 1;
  const double ahead = static_cast<double>(requests_.load() - max_requests_ + 1);
  return static_cast<int>(std::clamp(std::ceil(std::max(ahead, 1.0) / rate), 1.0, 60.0));
}

}  // namespace skipjoin::server
