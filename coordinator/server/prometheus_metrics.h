// PrometheusMetrics: the CoordinatorMetrics hooks of the core and the
// frontends, recorded into monitoring/'s Prometheus metric families
// (monitoring/coordinator_metrics.h; docs/METRICS.md lists the series).
//
// Owns the registry it records into (shared, so a MetricsServer on
// metrics.coordinator_port can serve the same registry) and renders it for
// GET /metrics on the HTTP port.
//
// Threading: every method may be called from any thread. prometheus-cpp's
// metrics are thread-safe; the only state of our own (the set of workers seen,
// to zero the ones that vanish) is guarded by workers_mu_.
#pragma once

#include <memory>
#include <mutex>
#include <set>
#include <string>
#include <utility>
#include <vector>

#include "coordinator/server/metrics.h"

namespace prometheus {
class Registry;
}  // namespace prometheus

namespace skipjoin::monitoring {
class CoordinatorMetrics;
}  // namespace skipjoin::monitoring

namespace skipjoin::server {

class PrometheusMetrics final : public CoordinatorMetrics {
 public:
  // replicas: the replica names from the config; their series start at zero
  // so dashboards see a replica before its first step.
  explicit PrometheusMetrics(const std::vector<std::string>& replicas);
  ~PrometheusMetrics() override;
  PrometheusMetrics(const PrometheusMetrics&) = delete;
  PrometheusMetrics& operator=(const PrometheusMetrics&) = delete;

  const std::shared_ptr<prometheus::Registry>& registry() const { return registry_; }

  void RequestReceived() override;
  void RequestDone(const std::string& outcome) override;
  void InterTokenLatency(double seconds) override;
  void RequestLatency(double e2e_seconds, double ttft_seconds, double queue_seconds,
                      double time_per_output_token_seconds) override;
  void RequestLengths(int64_t prompt_tokens, int64_t generation_tokens) override;
  void Tokens(int64_t prompt_tokens, int64_t generation_tokens) override;
  void Queue(int64_t running, int64_t waiting, int64_t swapped) override;
  void QueueLevels(const std::vector<uint32_t>& requests_per_level) override;
  void MlfqMoves(int64_t demotions, int64_t promotions) override;
  void KvBlocks(const std::string& replica, int64_t device_used, int64_t device_free,
                int64_t host_used, int64_t host_free) override;
  void Step(const std::string& replica, double seconds, int64_t tokens, int64_t sequences) override;
  void StepFailed(const std::string& replica) override;
  void StepSent(const std::string& replica, int64_t plan_bytes, int64_t frames,
                double host_seconds) override;
  void StepsInFlight(const std::string& replica, int64_t steps) override;
  void Swaps(const std::string& replica, int64_t blocks_out, int64_t blocks_in,
             int64_t bytes_per_block) override;
  void Preemptions(const std::string& replica, int64_t by_swap, int64_t by_recompute) override;
  void StepCostModel(double a, double b, double c, double d, double e, int64_t observations) override;
  void ReplicaAlive(const std::string& replica, bool alive) override;
  void Workers(const std::vector<WorkerLiveness>& workers) override;
  std::string Exposition() override;

 private:
  std::shared_ptr<prometheus::Registry> registry_;
  std::unique_ptr<monitoring::CoordinatorMetrics> m_;
  std::mutex workers_mu_;
  std::set<std::pair<std::string, std::string>>
      workers_seen_;  // (worker, replica); guarded by workers_mu_
};

}  // namespace skipjoin::server
