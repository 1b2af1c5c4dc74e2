#include "monitoring/coordinator_metrics.h"

#include "monitoring/buckets.h"

namespace skipjoin::monitoring {
namespace {

using prometheus::BuildCounter;
using prometheus::BuildGauge;
using prometheus::BuildHistogram;
using prometheus::Counter;
using prometheus::Family;
using prometheus::Gauge;
using prometheus::Histogram;

Family<Counter>& CounterFamily(prometheus::Registry& r, const char* name, const char* help) {
  return BuildCounter().Name(name).Help(help).Register(r);
}
Family<Gauge>& GaugeFamily(prometheus::Registry& r, const char* name, const char* help) {
  return BuildGauge().Name(name).Help(help).Register(r);
}
Family<Histogram>& HistogramFamily(prometheus::Registry& r, const char* name, const char* help) {
  return BuildHistogram().Name(name).Help(help).Register(r);
}

}  // namespace

const char* RequestOutcomeLabel(RequestOutcome outcome) {
  switch (outcome) {
    case RequestOutcome::kStop:
      return "stop";
    case RequestOutcome::kLength:
      return "length";
    case RequestOutcome::kAbort:
      return "abort";
    case RequestOutcome::kError:
      return "error";
    case RequestOutcome::kRejected:
      return "rejected";
  }
  return "unknown";
}

const char* KvPoolLabel(KvPool pool) {
  switch (pool) {
    case KvPool::kDevice:
      return "device";
    case KvPool::kHost:
      return "host";
  }
  return "unknown";
}

const char* SwapDirectionLabel(SwapDirection direction) {
  switch (direction) {
    case SwapDirection::kOut:
      return "out";
    case SwapDirection::kIn:
      return "in";
  }
  return "unknown";
}

const char* PreemptionModeLabel(PreemptionMode mode) {
  switch (mode) {
    case PreemptionMode::kSwap:
      return "swap";
    case PreemptionMode::kRecompute:
      return "recompute";
  }
  return "unknown";
}

CoordinatorMetrics::CoordinatorMetrics(prometheus::Registry& r)
    : requests_finished_family_(
          CounterFamily(r, "skipjoin_requests_total",
                        "Requests that ended, by outcome (stop, length, abort, error, rejected).")),
      requests_received_(
          CounterFamily(r, "skipjoin_requests_received_total",
                        "Requests received by the HTTP frontend or the native endpoint.")
              .Add({})),
      requests_running_(
          GaugeFamily(r, "skipjoin_requests_running", "Requests in a running batch, all replicas.")
              .Add({})),
      requests_waiting_(GaugeFamily(r, "skipjoin_requests_waiting",
                                    "Requests queued and not yet started, all replicas.")
                            .Add({})),
      requests_swapped_(GaugeFamily(r, "skipjoin_requests_swapped",
                                    "Requests preempted with their KV blocks in the host pool.")
                            .Add({})),
      queue_level_family_(
          GaugeFamily(r, "skipjoin_queue_level_requests",
                      "Requests in each MLFQ level (level 0 is the highest priority).")),
      ttft_(HistogramFamily(r, "skipjoin_time_to_first_token_seconds",
                            "Time from arrival to the first generated token.")
                .Add({}, FirstTokenBuckets())),
      tpot_(HistogramFamily(r, "skipjoin_time_per_output_token_seconds",
                            "Mean time between consecutive generated tokens, once per request.")
                .Add({}, PerTokenBuckets())),
      itl_(HistogramFamily(r, "skipjoin_inter_token_latency_seconds",
                           "Each gap between consecutive generated tokens of a request.")
               .Add({}, PerTokenBuckets())),
      e2e_(HistogramFamily(r, "skipjoin_e2e_request_latency_seconds",
                           "Time from arrival to the last token of a request.")
               .Add({}, RequestLatencyBuckets())),
      queue_time_(HistogramFamily(r, "skipjoin_request_queue_time_seconds",
                                  "Time from arrival to the first scheduled step of a request.")
                      .Add({}, FirstTokenBuckets())),
      prompt_tokens_(
          CounterFamily(r, "skipjoin_prompt_tokens_total", "Prompt tokens of admitted requests.")
              .Add({})),
      generation_tokens_(CounterFamily(r, "skipjoin_generation_tokens_total",
                                       "Tokens generated (sampled) for requests.")
                             .Add({})),
      request_prompt_tokens_(HistogramFamily(r, "skipjoin_request_prompt_tokens",
                                             "Prompt length of finished requests, tokens.")
                                 .Add({}, RequestTokenBuckets())),
      request_generation_tokens_(HistogramFamily(r, "skipjoin_request_generation_tokens",
                                                 "Generated length of finished requests, tokens.")
                                     .Add({}, RequestTokenBuckets())),
      kv_used_family_(
          GaugeFamily(r, "skipjoin_kv_blocks_used",
                      "KV cache blocks in use, per replica and pool (device or host).")),
      kv_free_family_(GaugeFamily(r, "skipjoin_kv_blocks_free",
                                  "KV cache blocks free, per replica and pool (device or host).")),
      step_duration_family_(
          HistogramFamily(r, "skipjoin_step_duration_seconds",
                          "Wall time of one step, plan sent to result received.")),
      step_tokens_family_(HistogramFamily(r, "skipjoin_step_tokens",
                                          "Tokens (prefill chunks plus decodes) in one step.")),
      step_sequences_family_(
          HistogramFamily(r, "skipjoin_step_sequences", "Sequences in one step.")),
      step_failures_family_(CounterFamily(r, "skipjoin_step_failures_total",
                                          "Steps that returned an error or lost a worker.")),
      step_host_family_(HistogramFamily(r, "skipjoin_step_host_seconds",
                                        "Coordinator time to plan, encode and send one step.")),
      step_plan_bytes_family_(CounterFamily(
          r, "skipjoin_step_plan_bytes_total",
          "Bytes of encoded step plans, each encoded once whatever the number of ranks.")),
      step_plan_frames_family_(CounterFamily(r, "skipjoin_step_plan_frames_total",
                                             "Step plan frames sent, one per rank.")),
      steps_in_flight_family_(GaugeFamily(r, "skipjoin_steps_in_flight",
                                          "Steps sent to the replica and not yet answered.")),
      swap_blocks_family_(CounterFamily(r, "skipjoin_swap_blocks_total",
                                        "KV blocks copied between the device and host pools.")),
      swap_bytes_family_(CounterFamily(r, "skipjoin_swap_bytes_total",
                                       "Bytes copied between the device and host KV pools.")),
      preemptions_family_(CounterFamily(r, "skipjoin_preemptions_total",
                                        "Requests preempted, by mode (swap or recompute).")),
      mlfq_demotions_(CounterFamily(r, "skipjoin_mlfq_demotions_total",
                                    "Jobs moved one MLFQ level down after using up their quantum.")
                          .Add({})),
      mlfq_promotions_(CounterFamily(r, "skipjoin_mlfq_promotions_total",
                                     "Jobs moved one MLFQ level up after starving.")
                           .Add({})),
      step_cost_family_(GaugeFamily(r, "skipjoin_step_cost_coefficient",
                                    "Fitted step cost model t = a + b*tokens + c*sequences + "
                                    "d*context + e*prefill_pairs, seconds per unit of term.")),
      step_cost_observations_(GaugeFamily(r, "skipjoin_step_cost_observations",
                                          "Measured steps behind the fitted step cost model.")
                                  .Add({})),
      replica_up_family_(GaugeFamily(r, "skipjoin_replica_up",
                                     "1 while every worker of the replica is ready and live.")),
      worker_up_family_(GaugeFamily(
          r, "skipjoin_worker_up", "1 while the worker is registered and its heartbeats arrive.")) {
  for (RequestOutcome o : {RequestOutcome::kStop, RequestOutcome::kLength, RequestOutcome::kAbort,
                           RequestOutcome::kError, RequestOutcome::kRejected}) {
    RequestsFinished(o);
  }
}

void CoordinatorMetrics::RegisterReplica(const std::string& replica) {
  for (KvPool pool : {KvPool::kDevice, KvPool::kHost}) {
    KvBlocksUsed(replica, pool);
    KvBlocksFree(replica, pool);
  }
  StepDuration(replica);
  StepTokens(replica);
  StepSequences(replica);
  StepFailures(replica);
  StepHostSeconds(replica);
  StepPlanBytes(replica);
  StepPlanFrames(replica);
  StepsInFlight(replica);
  for (SwapDirection d : {SwapDirection::kOut, SwapDirection::kIn}) {
    SwapBlocks(replica, d);
    SwapBytes(replica, d);
  }
  Preemptions(replica, PreemptionMode::kSwap);
  Preemptions(replica, PreemptionMode::kRecompute);
  ReplicaUp(replica);
}

prometheus::Counter& CoordinatorMetrics::RequestsFinished(RequestOutcome outcome) {
  return requests_finished_family_.Add({{"outcome", RequestOutcomeLabel(outcome)}});
}

prometheus::Gauge& CoordinatorMetrics::QueueLevelRequests(int level) {
  return queue_level_family_.Add({{"level", std::to_string(level)}});
}

prometheus::Gauge& CoordinatorMetrics::KvBlocksUsed(const std::string& replica, KvPool pool) {
  return kv_used_family_.Add({{"replica", replica}, {"pool", KvPoolLabel(pool)}});
}

prometheus::Gauge& CoordinatorMetrics::KvBlocksFree(const std::string& replica, KvPool pool) {
  return kv_free_family_.Add({{"replica", replica}, {"pool", KvPoolLabel(pool)}});
}

prometheus::Histogram& CoordinatorMetrics::StepDuration(const std::string& replica) {
  return step_duration_family_.Add({{"replica", replica}}, StepBuckets());
}

prometheus::Histogram& CoordinatorMetrics::StepTokens(const std::string& replica) {
  return step_tokens_family_.Add({{"replica", replica}}, StepTokenBuckets());
}

prometheus::Histogram& CoordinatorMetrics::StepSequences(const std::string& replica) {
  return step_sequences_family_.Add({{"replica", replica}}, StepTokenBuckets());
}

prometheus::Counter& CoordinatorMetrics::StepFailures(const std::string& replica) {
  return step_failures_family_.Add({{"replica", replica}});
}

prometheus::Histogram& CoordinatorMetrics::StepHostSeconds(const std::string& replica) {
  return step_host_family_.Add({{"replica", replica}}, HostOverheadBuckets());
}

prometheus::Counter& CoordinatorMetrics::StepPlanBytes(const std::string& replica) {
  return step_plan_bytes_family_.Add({{"replica", replica}});
}

prometheus::Counter& CoordinatorMetrics::StepPlanFrames(const std::string& replica) {
  return step_plan_frames_family_.Add({{"replica", replica}});
}

prometheus::Gauge& CoordinatorMetrics::StepsInFlight(const std::string& replica) {
  return steps_in_flight_family_.Add({{"replica", replica}});
}

prometheus::Counter& CoordinatorMetrics::SwapBlocks(const std::string& replica,
                                                    SwapDirection direction) {
  return swap_blocks_family_.Add(
      {{"replica", replica}, {"direction", SwapDirectionLabel(direction)}});
}

prometheus::Counter& CoordinatorMetrics::SwapBytes(const std::string& replica,
                                                   SwapDirection direction) {
  return swap_bytes_family_.Add(
      {{"replica", replica}, {"direction", SwapDirectionLabel(direction)}});
}

prometheus::Counter& CoordinatorMetrics::Preemptions(const std::string& replica,
                                                     PreemptionMode mode) {
  return preemptions_family_.Add({{"replica", replica}, {"mode", PreemptionModeLabel(mode)}});
}

prometheus::Gauge& CoordinatorMetrics::StepCostCoefficient(const std::string& term) {
  return step_cost_family_.Add({{"term", term}});
}

prometheus::Gauge& CoordinatorMetrics::ReplicaUp(const std::string& replica) {
  return replica_up_family_.Add({{"replica", replica}});
}

prometheus::Gauge& CoordinatorMetrics::WorkerUp(const std::string& worker,
                                                const std::string& replica) {
  return worker_up_family_.Add({{"worker", worker}, {"replica", replica}});
}

}  // namespace skipjoin::monitoring
