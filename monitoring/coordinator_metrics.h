// The coordinator's Prometheus metrics: requests, latencies, tokens, KV blocks,
// steps, swaps, preemptions and worker liveness (docs/METRICS.md lists them).
//
// Usage: the coordinator creates one prometheus::Registry, builds one
// CoordinatorMetrics on it, and serves the registry with MetricsServer (or
// RenderText on its HTTP port). No globals: whoever owns the registry owns the
// metrics, and the registry must outlive this object.
//
// Threading: prometheus-cpp counters, gauges and histograms are lock-free and
// thread-safe, and Family::Add is internally locked, so any thread may call any
// method. The label accessors (Kv*, Step*, Swap*, ...) look up or create the
// series for their labels on each call; hot paths may keep the returned
// reference, which stays valid as long as the registry lives.
#pragma once

#include <prometheus/counter.h>
#include <prometheus/family.h>
#include <prometheus/gauge.h>
#include <prometheus/histogram.h>
#include <prometheus/registry.h>

#include <string>

namespace skipjoin::monitoring {

// How a request ended; the `outcome` label of skipjoin_requests_total.
enum class RequestOutcome {
  kStop,      // "stop": EOS or a stop string
  kLength,    // "length": max_tokens or the context window
  kAbort,     // "abort": cancelled by the client or a disconnect
  kError,     // "error": a step or a replica failed
  kRejected,  // "rejected": refused at admission (invalid, too long, queue full)
};
const char* RequestOutcomeLabel(RequestOutcome outcome);

// The `pool` label of the KV gauges.
enum class KvPool { kDevice, kHost };  // "device", "host"
const char* KvPoolLabel(KvPool pool);

// The `direction` label of the swap counters.
enum class SwapDirection { kOut, kIn };  // "out" (device -> host), "in" (host -> device)
const char* SwapDirectionLabel(SwapDirection direction);

// The `mode` label of skipjoin_preemptions_total.
enum class PreemptionMode { kSwap, kRecompute };  // "swap", "recompute"
const char* PreemptionModeLabel(PreemptionMode mode);

class CoordinatorMetrics {
 public:
  explicit CoordinatorMetrics(prometheus::Registry& registry);

  CoordinatorMetrics(const CoordinatorMetrics&) = delete;
  CoordinatorMetrics& operator=(const CoordinatorMetrics&) = delete;

  // Creates every per-replica series at zero so dashboards and alerts see the
  // replica before its first step. replica: the replica's name from the config.
  void RegisterReplica(const std::string& replica);

  // skipjoin_requests_total{outcome}: requests that ended, by outcome.
  prometheus::Counter& RequestsFinished(RequestOutcome outcome);
  // skipjoin_requests_received_total: requests accepted for validation.
  prometheus::Counter& requests_received() { return requests_received_; }
  // skipjoin_requests_running / _waiting / _swapped: current counts, all replicas.
  prometheus::Gauge& requests_running() { return requests_running_; }
  prometheus::Gauge& requests_waiting() { return requests_waiting_; }
  prometheus::Gauge& requests_swapped() { return requests_swapped_; }
  // skipjoin_queue_level_requests{level}: requests in one MLFQ level (0 = highest).
  prometheus::Gauge& QueueLevelRequests(int level);
  // skipjoin_mlfq_demotions_total / _promotions_total: MLFQ level moves, all
  // replicas: one level down when a job used up its quantum, one level up when
  // it waited past the starvation threshold.
  prometheus::Counter& mlfq_demotions() { return mlfq_demotions_; }
  prometheus::Counter& mlfq_promotions() { return mlfq_promotions_; }

  // Latency histograms, seconds.
  prometheus::Histogram& time_to_first_token() { return ttft_; }
  prometheus::Histogram& time_per_output_token() { return tpot_; }
  prometheus::Histogram& inter_token_latency() { return itl_; }
  prometheus::Histogram& e2e_request_latency() { return e2e_; }
  prometheus::Histogram& queue_time() { return queue_time_; }

  // Token counters and per-request token histograms.
  prometheus::Counter& prompt_tokens() { return prompt_tokens_; }
  prometheus::Counter& generation_tokens() { return generation_tokens_; }
  prometheus::Histogram& request_prompt_tokens() { return request_prompt_tokens_; }
  prometheus::Histogram& request_generation_tokens() { return request_generation_tokens_; }

  // skipjoin_kv_blocks_used / _free{replica, pool}.
  prometheus::Gauge& KvBlocksUsed(const std::string& replica, KvPool pool);
  prometheus::Gauge& KvBlocksFree(const std::string& replica, KvPool pool);

  // skipjoin_step_duration_seconds / skipjoin_step_tokens / skipjoin_step_sequences{replica}.
  prometheus::Histogram& StepDuration(const std::string& replica);
  prometheus::Histogram& StepTokens(const std::string& replica);
  prometheus::Histogram& StepSequences(const std::string& replica);
  // skipjoin_step_failures_total{replica}.
  prometheus::Counter& StepFailures(const std::string& replica);
  // skipjoin_step_host_seconds{replica}: the coordinator's time to plan,
  // encode and send one step.
  prometheus::Histogram& StepHostSeconds(const std::string& replica);
  // skipjoin_step_plan_bytes_total{replica}: encoded step plans (each encoded
  // once, whatever the number of ranks); skipjoin_step_plan_frames_total: plan
  // frames sent, one per rank.
  prometheus::Counter& StepPlanBytes(const std::string& replica);
  prometheus::Counter& StepPlanFrames(const std::string& replica);
  // skipjoin_steps_in_flight{replica}: steps sent and not yet answered.
  prometheus::Gauge& StepsInFlight(const std::string& replica);

  // skipjoin_swap_blocks_total / skipjoin_swap_bytes_total{replica, direction}.
  prometheus::Counter& SwapBlocks(const std::string& replica, SwapDirection direction);
  prometheus::Counter& SwapBytes(const std::string& replica, SwapDirection direction);
  // skipjoin_preemptions_total{replica, mode}.
  prometheus::Counter& Preemptions(const std::string& replica, PreemptionMode mode);

  // skipjoin_step_cost_coefficient{term}: the scheduler's fitted step cost
  // model t = a + b*tokens + c*sequences + d*context; term "a" (seconds per
  // step), "b" (per token fed), "c" (per sequence), "d" (per context token).
  prometheus::Gauge& StepCostCoefficient(const std::string& term);
  // skipjoin_step_cost_observations: measured steps behind that fit (including
  // those of earlier runs loaded from scheduler.cost_model_dir).
  prometheus::Gauge& step_cost_observations() { return step_cost_observations_; }

  // skipjoin_replica_up{replica}: 1 while every worker of the replica is live.
  prometheus::Gauge& ReplicaUp(const std::string& replica);
  // skipjoin_worker_up{worker, replica}: 1 while the worker's heartbeats arrive.
  // worker: the device reference "node:kind:index" ("local:cpu:0").
  prometheus::Gauge& WorkerUp(const std::string& worker, const std::string& replica);

 private:
  prometheus::Family<prometheus::Counter>& requests_finished_family_;
  prometheus::Counter& requests_received_;
  prometheus::Gauge& requests_running_;
  prometheus::Gauge& requests_waiting_;
  prometheus::Gauge& requests_swapped_;
  prometheus::Family<prometheus::Gauge>& queue_level_family_;
  prometheus::Histogram& ttft_;
  prometheus::Histogram& tpot_;
  prometheus::Histogram& itl_;
  prometheus::Histogram& e2e_;
  prometheus::Histogram& queue_time_;
  prometheus::Counter& prompt_tokens_;
  prometheus::Counter& generation_tokens_;
  prometheus::Histogram& request_prompt_tokens_;
  prometheus::Histogram& request_generation_tokens_;
  prometheus::Family<prometheus::Gauge>& kv_used_family_;
  prometheus::Family<prometheus::Gauge>& kv_free_family_;
  prometheus::Family<prometheus::Histogram>& step_duration_family_;
  prometheus::Family<prometheus::Histogram>& step_tokens_family_;
  prometheus::Family<prometheus::Histogram>& step_sequences_family_;
  prometheus::Family<prometheus::Counter>& step_failures_family_;
  prometheus::Family<prometheus::Histogram>& step_host_family_;
  prometheus::Family<prometheus::Counter>& step_plan_bytes_family_;
  prometheus::Family<prometheus::Counter>& step_plan_frames_family_;
  prometheus::Family<prometheus::Gauge>& steps_in_flight_family_;
  prometheus::Family<prometheus::Counter>& swap_blocks_family_;
  prometheus::Family<prometheus::Counter>& swap_bytes_family_;
  prometheus::Family<prometheus::Counter>& preemptions_family_;
  prometheus::Counter& mlfq_demotions_;
  prometheus::Counter& mlfq_promotions_;
  prometheus::Family<prometheus::Gauge>& step_cost_family_;
  prometheus::Gauge& step_cost_observations_;
  prometheus::Family<prometheus::Gauge>& replica_up_family_;
  prometheus::Family<prometheus::Gauge>& worker_up_family_;
};

}  // namespace skipjoin::monitoring
