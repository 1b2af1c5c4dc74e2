// CoordinatorMetrics: what the coordinator reports about itself. The core and
// the frontends call this interface; the Prometheus implementation
// (PrometheusMetrics in prometheus_metrics.h, over monitoring/'s registry)
// plugs in behind it, and NullMetrics drops everything. Units: seconds,
// tokens, blocks, bytes.
//
// Who calls what:
//   frontends (HTTP, native endpoint): RequestReceived for every generation
//     request that arrives, RequestDone("rejected") for one refused before it
//     reaches the core (invalid input, context too long).
//   core thread: every other outcome (stop, length, abort, error, rejected by
//     the scheduler), exactly once per scheduler request; latencies, tokens,
//     steps, swaps and preemptions as they happen; the gauges (queue, KV
//     blocks, liveness) on its periodic tick.
//
// Threading: implementations must be thread-safe (the core's thread, the HTTP
// threads and the native endpoint's thread call it).
#pragma once

#include <cstdint>
#include <string>
#include <vector>

namespace skipjoin::server {

struct WorkerLiveness {
  std::string worker;   // the worker's device, "node:kind:index"
  std::string replica;  // the replica's name from the config
  bool up = false;      // registered, ready and heartbeating
};

class CoordinatorMetrics {
 public:
  virtual ~CoordinatorMetrics() = default;
  // A generation request arrived (before validation).
  virtual void RequestReceived() {}
  // outcome: "stop", "length", "abort", "error", "rejected".
  virtual void RequestDone(const std::string& outcome) {}
  // A request that finished normally (stop or length). queue_seconds: arrival
  // to its first scheduled step.
  virtual void RequestLatency(double e2e_seconds, double ttft_seconds, double queue_seconds,
                              double time_per_output_token_seconds) {}
  // The gap between two consecutive tokens of one request, as the client
  // sees them leave the scheduler (every gap, so a decode stall shows).
  virtual void InterTokenLatency(double seconds) {}
  // Lengths of a finished request, tokens.
  virtual void RequestLengths(int64_t prompt_tokens, int64_t generation_tokens) {}
  // Token counters: prompt tokens of admitted requests, sampled tokens.
  virtual void Tokens(int64_t prompt_tokens, int64_t generation_tokens) {}
  // Current request counts over all replicas.
  virtual void Queue(int64_t running, int64_t waiting, int64_t swapped) {}
  // Requests per MLFQ level, level 0 first.
  virtual void QueueLevels(const std::vector<uint32_t>& requests_per_level) {}
  // MLFQ level moves since the scheduler started, all replicas (running totals).
  virtual void MlfqMoves(int64_t demotions, int64_t promotions) {}
  virtual void KvBlocks(const std::string& replica, int64_t device_used, int64_t device_free,
                        int64_t host_used, int64_t host_free) {}
  // One step that completed: plan sent to result received.
  virtual void Step(const std::string& replica, double seconds, int64_t tokens, int64_t sequences) {
  }
  virtual void StepFailed(const std::string& replica) {}
  // A step plan went out: its encoded size (encoded once), the frames sent (one
  // per rank), and the coordinator's time to plan, encode and send it.
  virtual void StepSent(const std::string& replica, int64_t plan_bytes, int64_t frames,
                        double host_seconds) {}
  // Steps sent to the replica and not yet answered.
  virtual void StepsInFlight(const std::string& replica, int64_t steps) {}
  // Block copies planned in one step.
  virtual void Swaps(const std::string& replica, int64_t blocks_out, int64_t blocks_in,
                     int64_t bytes_per_block) {}
  // Requests preempted in one step, by mode.
  virtual void Preemptions(const std::string& replica, int64_t by_swap, int64_t by_recompute) {}
  virtual void ReplicaAlive(const std::string& replica, bool alive) {}
  // The scheduler's step cost model t = a + b*tokens + c*sequences + d*context.
  virtual void StepCostModel(double a, double b, double c, double d, double e, int64_t observations) {}
  // Every worker the hub knows of now; one that disappears from the list is down.
  virtual void Workers(const std::vector<WorkerLiveness>& workers) {}
  // The text served on GET /metrics (Prometheus exposition format).
  virtual std::string Exposition() { return ""; }
};

class NullMetrics final : public CoordinatorMetrics {};

}  // namespace skipjoin::server
