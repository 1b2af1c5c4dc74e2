#include "monitoring/worker_metrics.h"

#include "monitoring/buckets.h"

namespace skipjoin::monitoring {
namespace {

using prometheus::BuildCounter;
using prometheus::BuildGauge;
using prometheus::BuildHistogram;

}  // namespace

WorkerMetrics::WorkerMetrics(prometheus::Registry& r)
    : info_family_(
          BuildGauge()
              .Name("skipjoin_worker_info")
              .Help("Constant 1; labels name the worker's node (cluster_node), device and role.")
              .Register(r)),
      step_execution_(BuildHistogram()
                          .Name("skipjoin_worker_step_execution_seconds")
                          .Help("Forward pass and sampling time of one step on this worker.")
                          .Register(r)
                          .Add({}, StepBuckets())),
      swap_(BuildHistogram()
                .Name("skipjoin_worker_swap_seconds")
                .Help("Time spent on the KV block copies of one step (steps with copies only).")
                .Register(r)
                .Add({}, StepBuckets())),
      steps_family_(BuildCounter()
                        .Name("skipjoin_worker_steps_total")
                        .Help("Steps executed, by outcome (ok or error).")
                        .Register(r)),
      steps_ok_(steps_family_.Add({{"outcome", "ok"}})),
      steps_failed_(steps_family_.Add({{"outcome", "error"}})),
      tokens_processed_(BuildCounter()
                            .Name("skipjoin_worker_tokens_processed_total")
                            .Help("Input tokens (prefill and decode) run through the model.")
                            .Register(r)
                            .Add({})),
      tokens_sampled_(BuildCounter()
                          .Name("skipjoin_worker_tokens_sampled_total")
                          .Help("Tokens sampled by this worker.")
                          .Register(r)
                          .Add({})),
      swap_blocks_family_(
          BuildCounter()
              .Name("skipjoin_worker_swap_blocks_total")
              .Help("KV blocks copied by this worker, by direction (out: device to host).")
              .Register(r)),
      kv_allocated_family_(BuildGauge()
                               .Name("skipjoin_worker_kv_blocks_allocated")
                               .Help("KV cache blocks allocated by this worker, per pool.")
                               .Register(r)),
      load_seconds_(BuildGauge()
                        .Name("skipjoin_worker_load_seconds")
                        .Help("Time to load the model and allocate the KV pools.")
                        .Register(r)
                        .Add({})),
      ready_(BuildGauge()
                 .Name("skipjoin_worker_ready")
                 .Help("1 once the model is loaded and the worker reported ready.")
                 .Register(r)
                 .Add({})),
      malformed_frames_(BuildCounter()
                            .Name("skipjoin_worker_malformed_frames_total")
                            .Help("Frames from the coordinator that failed to decode.")
                            .Register(r)
                            .Add({})),
      heartbeats_sent_(BuildCounter()
                           .Name("skipjoin_worker_heartbeats_sent_total")
                           .Help("Heartbeats sent to the coordinator.")
                           .Register(r)
                           .Add({})) {
  SwapBlocks(SwapDirection::kOut);
  SwapBlocks(SwapDirection::kIn);
  KvBlocksAllocated(KvPool::kDevice);
  KvBlocksAllocated(KvPool::kHost);
}

void WorkerMetrics::SetIdentity(const WorkerIdentity& id) {
  info_family_
      .Add({{"cluster_node", id.node},
            {"device", id.device},
            {"worker_id", id.worker_id},
            {"replica_id", id.replica_id},
            {"tp_rank", id.tp_rank},
            {"tp_size", id.tp_size}})
      .Set(1);
}

prometheus::Counter& WorkerMetrics::SwapBlocks(SwapDirection direction) {
  return swap_blocks_family_.Add({{"direction", SwapDirectionLabel(direction)}});
}

prometheus::Gauge& WorkerMetrics::KvBlocksAllocated(KvPool pool) {
  return kv_allocated_family_.Add({{"pool", KvPoolLabel(pool)}});
}

}  // namespace skipjoin::monitoring
