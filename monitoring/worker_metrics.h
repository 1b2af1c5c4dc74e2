// The worker process's Prometheus metrics: step execution, swaps, tokens,
// KV pools, model load, link health (docs/METRICS.md lists them).
//
// The worker creates one prometheus::Registry, builds WorkerMetrics on it and
// serves it with MetricsServer on its metrics port. The registry must outlive
// this object. Threading: every method may be called from any thread (the
// prometheus-cpp types are thread-safe); the worker's Executor is the writer.
#pragma once

#include <prometheus/counter.h>
#include <prometheus/family.h>
#include <prometheus/gauge.h>
#include <prometheus/histogram.h>
#include <prometheus/registry.h>

#include <string>

#include "monitoring/coordinator_metrics.h"  // KvPool, SwapDirection

namespace skipjoin::monitoring {

// Identity of the worker, known once the coordinator assigned it a role.
struct WorkerIdentity {
  // Node name from the cluster config; label `cluster_node`, since Prometheus
  // targets carry their own `node` label (it would rename ours exported_node).
  std::string node;

  std::string device;  // "cpu:0", "cuda:1"
  std::string worker_id;
  std::string replica_id;
  std::string tp_rank;
  std::string tp_size;
};

class WorkerMetrics {
 public:
  explicit WorkerMetrics(prometheus::Registry& registry);

  WorkerMetrics(const WorkerMetrics&) = delete;
  WorkerMetrics& operator=(const WorkerMetrics&) = delete;

  // skipjoin_worker_info{node, device, worker_id, replica_id, tp_rank, tp_size} = 1.
  // Call once after the assignment arrives.
  void SetIdentity(const WorkerIdentity& identity);

  // skipjoin_worker_step_execution_seconds: forward pass + sampling of one step.
  prometheus::Histogram& step_execution() { return step_execution_; }
  // skipjoin_worker_swap_seconds: the block copies of one step (steps with copies only).
  prometheus::Histogram& swap() { return swap_; }
  // skipjoin_worker_steps_total{outcome="ok"|"error"}.
  prometheus::Counter& steps_ok() { return steps_ok_; }
  prometheus::Counter& steps_failed() { return steps_failed_; }
  // skipjoin_worker_tokens_processed_total: input tokens run through the model.
  prometheus::Counter& tokens_processed() { return tokens_processed_; }
  // skipjoin_worker_tokens_sampled_total: tokens sampled (rank 0 reports them).
  prometheus::Counter& tokens_sampled() { return tokens_sampled_; }
  // skipjoin_worker_swap_blocks_total{direction}.
  prometheus::Counter& SwapBlocks(SwapDirection direction);
  // skipjoin_worker_kv_blocks_allocated{pool}: blocks in the pool allocated at load.
  prometheus::Gauge& KvBlocksAllocated(KvPool pool);
  // skipjoin_worker_load_seconds: model load + KV allocation time.
  prometheus::Gauge& load_seconds() { return load_seconds_; }
  // skipjoin_worker_ready: 1 once the model is loaded and WorkerReady was sent.
  prometheus::Gauge& ready() { return ready_; }
  // skipjoin_worker_malformed_frames_total: frames from the coordinator that did not decode.
  prometheus::Counter& malformed_frames() { return malformed_frames_; }
  // skipjoin_worker_heartbeats_sent_total.
  prometheus::Counter& heartbeats_sent() { return heartbeats_sent_; }

 private:
  prometheus::Family<prometheus::Gauge>& info_family_;
  prometheus::Histogram& step_execution_;
  prometheus::Histogram& swap_;
  prometheus::Family<prometheus::Counter>& steps_family_;
  prometheus::Counter& steps_ok_;
  prometheus::Counter& steps_failed_;
  prometheus::Counter& tokens_processed_;
  prometheus::Counter& tokens_sampled_;
  prometheus::Family<prometheus::Counter>& swap_blocks_family_;
  prometheus::Family<prometheus::Gauge>& kv_allocated_family_;
  prometheus::Gauge& load_seconds_;
  prometheus::Gauge& ready_;
  prometheus::Counter& malformed_frames_;
  prometheus::Counter& heartbeats_sent_;
};

}  // namespace skipjoin::monitoring
