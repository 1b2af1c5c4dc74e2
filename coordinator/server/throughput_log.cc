#include "coordinator/server/throughput_log.h"

#include <cstdio>

#include "common/logging.h"

namespace skipjoin::server {

bool ThroughputLog::Due(double now) {
  if (interval_s_ <= 0) return false;
  if (since_ < 0) since_ = now;
  return now - since_ >= interval_s_;
}

void ThroughputLog::Log(double now, const std::vector<protocol::ReplicaStatus>& replicas) {
  const double span = now - since_;
  if (steps_ > 0 && span > 0) {
    int64_t running = 0, waiting = 0, swapped = 0, used = 0, total = 0;
    for (const protocol::ReplicaStatus& r : replicas) {
      running += r.running;
      waiting += r.waiting;
      swapped += r.swapped;
      used += r.kv_device_blocks_used;
      total += r.kv_device_blocks_used + r.kv_device_blocks_free;
    }
    char line[256];
    std::snprintf(line, sizeof line,
                  "stats: last %.0f s: %lld steps, computed %.1f tok/s, generated %.1f tok/s, %lld "
                  "finished; running %lld, waiting %lld, swapped %lld; device KV %.1f%% used",
                  span, static_cast<long long>(steps_), computed_tokens_ / span,
                  generated_tokens_ / span, static_cast<long long>(finished_),
                  static_cast<long long>(running), static_cast<long long>(waiting),
                  static_cast<long long>(swapped), total > 0 ? 100.0 * used / total : 0.0);
    SJ_LOG(Info) << line;
  }
  since_ = now;
  steps_ = computed_tokens_ = generated_tokens_ = finished_ = 0;
}

}  // namespace skipjoin::server
