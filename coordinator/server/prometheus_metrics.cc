#include "coordinator/server/prometheus_metrics.h"

#include <prometheus/registry.h>

#include "common/logging.h"
#include "monitoring/coordinator_metrics.h"
#include "monitoring/metrics_server.h"

namespace skipjoin::server {

namespace {

using monitoring::KvPool;
using monitoring::PreemptionMode;
using monitoring::RequestOutcome;
using monitoring::SwapDirection;

// Counters only go up; a negative delta would be a caller bug, drop it.
void Add(prometheus::Counter& c, double v) {
  if (v > 0) c.Increment(v);
}

}  // namespace

PrometheusMetrics::PrometheusMetrics(const std::vector<std::string>& replicas)
    : registry_(std::make_shared<prometheus::Registry>()),
      m_(std::make_unique<monitoring::CoordinatorMetrics>(*registry_)) {
  for (const std::string& r : replicas) m_->RegisterReplica(r);
}

PrometheusMetrics::~PrometheusMetrics() = default;

void PrometheusMetrics::RequestReceived() { m_->requests_received().Increment(); }

void PrometheusMetrics::RequestDone(const std::string& outcome) {
  RequestOutcome o;
  if (outcome == "stop") {
    o = RequestOutcome::kStop;
  } else if (outcome == "length") {
    o = RequestOutcome::kLength;
  } else if (outcome == "abort") {
    o = RequestOutcome::kAbort;
  } else if (outcome == "rejected") {
    o = RequestOutcome::kRejected;
  } else {
    if (outcome != "error") {
      SJ_LOG(Warn) << "metrics: unknown request outcome '" << outcome << "', counted as error";
    }
    o = RequestOutcome::kError;
  }
  m_->RequestsFinished(o).Increment();
}

void PrometheusMetrics::InterTokenLatency(double seconds) {
  m_->inter_token_latency().Observe(seconds);
}

void PrometheusMetrics::RequestLatency(double e2e_seconds, double ttft_seconds,
                                       double queue_seconds, double time_per_output_token_seconds) {
  m_->e2e_request_latency().Observe(e2e_seconds);
  m_->time_to_first_token().Observe(ttft_seconds);
  m_->queue_time().Observe(queue_seconds);
  // A one-token request has no inter-token gap to report.
  if (time_per_output_token_seconds > 0)
    m_->time_per_output_token().Observe(time_per_output_token_seconds);
}

void PrometheusMetrics::RequestLengths(int64_t prompt_tokens, int64_t generation_tokens) {
  m_->request_prompt_tokens().Observe(static_cast<double>(prompt_tokens));
  m_->request_generation_tokens().Observe(static_cast<double>(generation_tokens));
}

void PrometheusMetrics::Tokens(int64_t prompt_tokens, int64_t generation_tokens) {
  Add(m_->prompt_tokens(), static_cast<double>(prompt_tokens));
  Add(m_->generation_tokens(), static_cast<double>(generation_tokens));
}

void PrometheusMetrics::Queue(int64_t running, int64_t waiting, int64_t swapped) {
  m_->requests_running().Set(static_cast<double>(running));
  m_->requests_waiting().Set(static_cast<double>(waiting));
  m_->requests_swapped().Set(static_cast<double>(swapped));
}

void PrometheusMetrics::QueueLevels(const std::vector<uint32_t>& requests_per_level) {
  for (size_t level = 0; level < requests_per_level.size(); ++level) {
    m_->QueueLevelRequests(static_cast<int>(level)).Set(requests_per_level[level]);
  }
}

// Running totals in, counters out: add what is new since the last report.
void PrometheusMetrics::MlfqMoves(int64_t demotions, int64_t promotions) {
  Add(m_->mlfq_demotions(), static_cast<double>(demotions) - m_->mlfq_demotions().Value());
  Add(m_->mlfq_promotions(), static_cast<double>(promotions) - m_->mlfq_promotions().Value());
}

void PrometheusMetrics::KvBlocks(const std::string& replica, int64_t device_used,
                                 int64_t device_free, int64_t host_used, int64_t host_free) {
  m_->KvBlocksUsed(replica, KvPool::kDevice).Set(static_cast<double>(device_used));
  m_->KvBlocksFree(replica, KvPool::kDevice).Set(static_cast<double>(device_free));
  m_->KvBlocksUsed(replica, KvPool::kHost).Set(static_cast<double>(host_used));
  m_->KvBlocksFree(replica, KvPool::kHost).Set(static_cast<double>(host_free));
}

void PrometheusMetrics::Step(const std::string& replica, double seconds, int64_t tokens,
                             int64_t sequences) {
  m_->StepDuration(replica).Observe(seconds);
  m_->StepTokens(replica).Observe(static_cast<double>(tokens));
  m_->StepSequences(replica).Observe(static_cast<double>(sequences));
}

void PrometheusMetrics::StepCostModel(double a, double b, double c, double d, double e, int64_t observations) {
  m_->StepCostCoefficient("a").Set(a);
  m_->StepCostCoefficient("b").Set(b);
  m_->StepCostCoefficient("c").Set(c);
  m_->StepCostCoefficient("d").Set(d);
  m_->StepCostCoefficient("e").Set(e);
  m_->step_cost_observations().Set(static_cast<double>(observations));
}

void PrometheusMetrics::StepSent(const std::string& replica, int64_t plan_bytes, int64_t frames,
                                 double host_seconds) {
  m_->StepPlanBytes(replica).Increment(static_cast<double>(plan_bytes));
  m_->StepPlanFrames(replica).Increment(static_cast<double>(frames));
  m_->StepHostSeconds(replica).Observe(host_seconds);
}

void PrometheusMetrics::StepsInFlight(const std::string& replica, int64_t steps) {
  m_->StepsInFlight(replica).Set(static_cast<double>(steps));
}

void PrometheusMetrics::StepFailed(const std::string& replica) {
  m_->StepFailures(replica).Increment();
}

void PrometheusMetrics::Swaps(const std::string& replica, int64_t blocks_out, int64_t blocks_in,
                              int64_t bytes_per_block) {
  Add(m_->SwapBlocks(replica, SwapDirection::kOut), static_cast<double>(blocks_out));
  Add(m_->SwapBlocks(replica, SwapDirection::kIn), static_cast<double>(blocks_in));
  Add(m_->SwapBytes(replica, SwapDirection::kOut),
      static_cast<double>(blocks_out * bytes_per_block));
  Add(m_->SwapBytes(replica, SwapDirection::kIn), static_cast<double>(blocks_in * bytes_per_block));
}

void PrometheusMetrics::Preemptions(const std::string& replica, int64_t by_swap,
                                    int64_t by_recompute) {
  Add(m_->Preemptions(replica, PreemptionMode::kSwap), static_cast<double>(by_swap));
  Add(m_->Preemptions(replica, PreemptionMode::kRecompute), static_cast<double>(by_recompute));
}

void PrometheusMetrics::ReplicaAlive(const std::string& replica, bool alive) {
  m_->ReplicaUp(replica).Set(alive ? 1 : 0);
}

void PrometheusMetrics::Workers(const std::vector<WorkerLiveness>& workers) {
  std::set<std::pair<std::string, std::string>> now;
  for (const WorkerLiveness& w : workers) {
    m_->WorkerUp(w.worker, w.replica).Set(w.up ? 1 : 0);
    now.emplace(w.worker, w.replica);
  }
  std::lock_guard<std::mutex> lock(workers_mu_);
  for (const auto& [worker, replica] : workers_seen_) {
    if (now.count({worker, replica}) == 0) m_->WorkerUp(worker, replica).Set(0);
  }
  workers_seen_.insert(now.begin(), now.end());
}

std::string PrometheusMetrics::Exposition() { return monitoring::RenderText(*registry_); }

}  // namespace skipjoin::server
