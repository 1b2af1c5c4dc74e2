#include "coordinator/server/core.h"

#include <algorithm>
#include <cerrno>
#include <chrono>
#include <cmath>
#include <cstdio>
#include <cstring>
#include <nlohmann/json.hpp>
#include <optional>
#include <unordered_map>

#include "common/logging.h"
#include "coordinator/scheduler/clock.h"
#include "coordinator/scheduler/scheduler.h"
#include "coordinator/server/cost_model_store.h"
#include "coordinator/server/replica_driver.h"
#include "coordinator/server/scheduler_config.h"
#include "coordinator/server/throughput_log.h"

namespace skipjoin::server {

namespace {

double SteadySeconds() {
  return std::chrono::duration<double>(std::chrono::steady_clock::now().time_since_epoch()).count();
}

}  // namespace

// Everything the core thread owns. Only CoordinatorCore's thread touches it.
class CoordinatorCore::Impl final : public hub::WorkerHub::Listener {
 public:
  Impl(CoordinatorCore* owner, CoreOptions options, protocol::RouterChannel channel,
       zmq::socket_t monitor, CoordinatorMetrics* metrics)
      : owner_(owner),
        options_(std::move(options)),
        metrics_(metrics),
        scheduler_(SchedulerOptionsFrom(options_.config), &clock_),
        hub_(options_.config, options_.geometry, std::move(channel), this,
             hub::WorkerHub::Options{.require_node_keys = options_.worker_curve.enabled()}) {
    hub_.SetMonitor(std::move(monitor));
    for (size_t r = 0; r < options_.config.replicas.size(); ++r) {
      runs_.emplace_back(static_cast<uint32_t>(r),
                         static_cast<int32_t>(options_.config.scheduler.steps_in_flight));
    }
    info_fn_ = [this](RequestId id) -> const SequenceInfo* {
      auto it = entries_.find(id);
      return it == entries_.end() ? nullptr : &it->second.info;
    };
    LoadCostModel();
    OpenStepTrace();
  }
  ~Impl() {
    if (step_trace_ != nullptr) std::fclose(step_trace_);
  }
  Impl(const Impl&) = delete;
  Impl& operator=(const Impl&) = delete;

  void Run();
  void Submit(std::vector<SubmitItem> items, std::shared_ptr<EventSink> sink);
  void End(const std::vector<RequestId>& ids, bool cancelled);
  protocol::StatusReply Snapshot() const;
  // Every rank of every replica with its place in the config and whether a
  // worker holds it (StatusReply::workers).
  std::vector<protocol::WorkerStatus> WorkerSlots() const;

  // WorkerHub::Listener
  void OnReplicaReady(int replica, const scheduler::KvPoolSpec& pool) override;
  void OnReplicaLost(int replica, const std::string& reason) override;
  void OnStepResult(int replica, protocol::StepResult result) override;

 private:
  struct Entry {
    std::shared_ptr<EventSink> sink;
    SequenceInfo info;  // sampling, echo, prompt length
    std::vector<float> prompt_logprobs;
    bool first_token_sent = false;
    double arrival = 0;
    double first_scheduled_at = -1;  // < 0: not in any step yet
    double first_token_at = 0;
    double last_token_at = 0;
    int64_t generated = 0;
  };
  struct ReplicaRun {
    ReplicaRun(uint32_t index, int32_t max_in_flight) : driver(index, max_in_flight) {}
    scheduler::ReplicaId sched_id = -1;
    bool live = false;
    double last_result_at = -1;  // < 0: no step finished yet
    scheduler::KvPoolSpec pool;
    ReplicaDriver driver;  // wire plans, epochs, steps in flight
  };

  void Emit(const std::shared_ptr<EventSink>& sink, SequenceEvent e);
  // Every request leaves the table here: its admission room is given back.
  void EraseEntry(std::unordered_map<RequestId, Entry>::iterator it);
  // coordinator.limits.max_queue_seconds: fails requests that waited longer
  // without being scheduled.
  void ExpireQueued(double now);
  // Ends the request with an error event; `outcome` is its metrics outcome.
  void Fail(RequestId id, const Status& status, const char* outcome = "error");
  void ReportGauges();
  // Latencies and lengths of a request that ended normally at `now`.
  void ObserveFinished(const Entry& entry, double now);
  void FlushOutbox();
  // The persisted step cost model (scheduler.cost_model_dir), if any: loaded
  // at start, saved every few seconds while new steps refine it and at exit.
  void LoadCostModel();
  void MaybeSaveCostModel(double now, bool force);
  void ScheduleSteps();
  // scheduler.step_trace: one JSON line per finished step.
  void OpenStepTrace();
  // `f` is the step's cost-model features, `predicted` the model's time for
  // them before this step refined it.
  void TraceStep(int replica, const ReplicaDriver::InFlight& step,
                 const protocol::StepResult& result, double measured,
                 const scheduler::StepFeatures& f, double predicted);
  void FailStep(int replica, const Status& status);
  void HandleLoss(const scheduler::ReplicaLoss& loss, const std::string& reason);
  int RunIndexOf(scheduler::ReplicaId sched_id) const {
    for (size_t i = 0; i < runs_.size(); ++i) {
      if (runs_[i].sched_id == sched_id) return static_cast<int>(i);
    }
    return -1;
  }

  CoordinatorCore* owner_;
  CoreOptions options_;
  // coordinator.stats_log_interval_s (after options_, which it reads).
  ThroughputLog throughput_{options_.config.coordinator.stats_log_interval_s};
  CoordinatorMetrics* metrics_;
  scheduler::SteadyClock clock_;
  scheduler::Scheduler scheduler_;
  hub::WorkerHub hub_;
  std::vector<ReplicaRun> runs_;
  ReplicaDriver::InfoFn info_fn_;
  protocol::StepPlan wire_plan_;  // reused per step
  scheduler::ReplicaId next_sched_id_ = 0;
  std::unordered_map<RequestId, Entry> entries_;
  std::unordered_map<EventSink*, std::pair<std::shared_ptr<EventSink>, std::vector<SequenceEvent>>>
      outbox_;
  std::optional<CostModelStore> cost_store_;
  int64_t saved_observations_ = 0;
  double last_cost_save_ = 0;
  std::FILE* step_trace_ = nullptr;
};

void CoordinatorCore::Impl::OpenStepTrace() {
  const std::string& path = options_.config.scheduler.step_trace;
  if (path.empty()) return;
  step_trace_ = std::fopen(path.c_str(), "a");
  if (step_trace_ == nullptr) {
    SJ_LOG(Error) << "scheduler.step_trace: cannot open '" << path
                  << "' for appending: " << std::strerror(errno) << "; steps are not traced";
  }
}

void CoordinatorCore::Impl::TraceStep(int replica, const ReplicaDriver::InFlight& step,
                                      const protocol::StepResult& result, double measured,
                                      const scheduler::StepFeatures& f, double predicted) {
  const ReplicaRun& run = runs_[replica];
  const scheduler::StepPlan& plan = step.plan;
  int64_t prefill_tokens = 0, decode_sequences = 0;
  for (const scheduler::StepSequence& s : plan.sequences) {
    if (s.num_tokens == 1 && s.samples && s.start_position > 0) {
      ++decode_sequences;
    } else {
      prefill_tokens += s.num_tokens;
    }
  }
  const double gap = run.last_result_at < 0 ? -1.0 : step.sent_at - run.last_result_at;
  nlohmann::json line = {{"t", step.sent_at},
                         {"replica", options_.config.replicas[replica].name},
                         {"step", result.step_id},
                         {"tokens", plan.num_tokens()},
                         {"sequences", plan.sequences.size()},
                         {"prefill_tokens", prefill_tokens},
                         {"decode_sequences", decode_sequences},
                         {"context", f.context},
                         {"prefill_pairs", f.prefill_pairs},
                         {"swap_out", plan.swap_out.size()},
                         {"swap_in", plan.swap_in.size()},
                         {"seconds", measured},
                         {"worker_total", result.timings.total_seconds},
                         {"worker_compute", result.timings.compute_seconds},
                         {"worker_swap", result.timings.swap_seconds},
                         {"worker_idle", result.timings.idle_seconds},
                         {"gap", gap},
                         {"in_flight", run.driver.num_in_flight()},
                         {"predicted", predicted}};
  const std::string text = line.dump() + "\n";
  std::fwrite(text.data(), 1, text.size(), step_trace_);
  std::fflush(step_trace_);
}

void CoordinatorCore::Impl::LoadCostModel() {
  if (options_.config.scheduler.cost_model_dir == "none") return;
  cost_store_.emplace(CostModelStore::PathFor(options_.config), CostPriorFor(options_.config).e);
  auto model = cost_store_->Load();
  if (model.ok()) {
    const scheduler::CostCoefficients& c = model->coefficients();
    SJ_LOG(Info) << "step cost model from " << cost_store_->path() << " ("
                 << model->num_observations() << " steps): a=" << c.a << " s, b=" << c.b
                 << " s/token, c=" << c.c << " s/seq, d=" << c.d << " s/context token, e=" << c.e
                 << " s/prefill pair";
    saved_observations_ = model->num_observations();
    scheduler_.ReplaceCostModel(*std::move(model));
  } else if (model.status().code() == StatusCode::kNotFound) {
    SJ_LOG(Info) << "no saved step cost model at " << cost_store_->path()
                 << "; starting from the prior";
  } else {
    SJ_LOG(Warn) << "ignoring the saved step cost model: " << model.status().message()
                 << " (it is overwritten once steps are measured)";
  }
}

void CoordinatorCore::Impl::MaybeSaveCostModel(double now, bool force) {
  if (!cost_store_) return;
  const scheduler::StepCostModel& m = scheduler_.cost_model();
  if (m.num_observations() == saved_observations_) return;
  if (!force && (now - last_cost_save_ < 10.0 || m.num_observations() - saved_observations_ < 20))
    return;
  last_cost_save_ = now;
  Status st = cost_store_->Save(m);
  if (!st.ok()) {
    SJ_LOG(Warn) << "cannot save the step cost model: " << st.message();
    cost_store_.reset();  // say it once
    return;
  }
  saved_observations_ = m.num_observations();
}

void CoordinatorCore::Impl::Emit(const std::shared_ptr<EventSink>& sink, SequenceEvent e) {
  auto& slot = outbox_[sink.get()];
  if (!slot.first) slot.first = sink;
  slot.second.push_back(std::move(e));
}

void CoordinatorCore::Impl::EraseEntry(std::unordered_map<RequestId, Entry>::iterator it) {
  owner_->admission_->Release(it->second.info.prompt_len);
  entries_.erase(it);
}

void CoordinatorCore::Impl::ExpireQueued(double now) {
  const auto& limit = options_.config.coordinator.limits.max_queue_seconds;
  if (!limit) return;
  std::vector<RequestId> expired;
  for (const auto& [id, e] : entries_) {
    if (e.first_scheduled_at < 0 && now - e.arrival > *limit) expired.push_back(id);
  }
  for (RequestId id : expired) {
    (void)scheduler_.Cancel(id);
    char waited[32];
    std::snprintf(waited, sizeof waited, "%.1f s", now - entries_.at(id).arrival);
    Fail(id,
         ResourceExhausted(std::string("the request waited ") + waited +
                           " without being scheduled (coordinator.limits.max_queue_seconds)"),
         "rejected");
  }
}

void CoordinatorCore::Impl::FlushOutbox() {
  for (auto& [ptr, slot] : outbox_) slot.first->Deliver(std::move(slot.second));
  outbox_.clear();
}

void CoordinatorCore::Impl::Fail(RequestId id, const Status& status, const char* outcome) {
  auto it = entries_.find(id);
  if (it == entries_.end()) return;
  SequenceEvent e;
  e.kind = SequenceEvent::Kind::kError;
  e.id = id;
  e.finish = protocol::FinishReason::kError;
  e.error = status;
  Emit(it->second.sink, std::move(e));
  EraseEntry(it);
  metrics_->RequestDone(outcome);
}

void CoordinatorCore::Impl::Submit(std::vector<SubmitItem> items, std::shared_ptr<EventSink> sink) {
  const double now = clock_.NowSeconds();
  for (SubmitItem& item : items) {
    scheduler::RequestSpec spec;
    spec.id = item.id;
    spec.prompt_token_ids = std::move(item.prompt);
    spec.max_new_tokens = item.max_new_tokens;
    spec.priority = item.priority;
    spec.stop_token_ids = item.sampling.stop_token_ids;
    spec.arrival_seconds = now;
    Entry entry;
    entry.sink = sink;
    entry.info.sampling = item.sampling;
    entry.info.echo = item.echo;
    entry.info.prompt_len = static_cast<int32_t>(spec.prompt_token_ids.size());
    entry.arrival = now;
    const int64_t prompt_len = entry.info.prompt_len;
    entries_[item.id] = std::move(entry);
    Status st = scheduler_.Submit(std::move(spec));
    if (!st.ok()) {
      if (st.code() == StatusCode::kUnavailable)
        st = Unavailable("no replica is live: " + st.message());
      // Larger than any replica: no retry helps, so not an overload (429).
      if (st.code() == StatusCode::kResourceExhausted) st = OutOfRange(st.message());
      Fail(item.id, st, "rejected");
      continue;
    }
    metrics_->Tokens(prompt_len, 0);
  }
}

void CoordinatorCore::Impl::End(const std::vector<RequestId>& ids, bool cancelled) {
  for (RequestId id : ids) {
    if (auto info = scheduler_.GetRequestInfo(id)) {
      const int r = RunIndexOf(info->replica);
      if (r >= 0) runs_[r].driver.Forget(id);
    }
    Status st = cancelled ? scheduler_.Cancel(id) : scheduler_.Finish(id);
    auto it = entries_.find(id);
    if (it != entries_.end()) {
      if (!cancelled) ObserveFinished(it->second, clock_.NowSeconds());  // a stop string
      EraseEntry(it);
      metrics_->RequestDone(cancelled ? "abort" : "stop");
    }
    if (!st.ok() && st.code() != StatusCode::kNotFound)
      SJ_LOG(Warn) << "ending request " << id << ": " << st.ToString();
  }
}

void CoordinatorCore::Impl::OnReplicaReady(int replica, const scheduler::KvPoolSpec& pool) {
  ReplicaRun& run = runs_[replica];
  run.sched_id = next_sched_id_++;
  run.pool = pool;
  run.last_result_at = -1;
  run.driver.NewEpoch();
  Status st = scheduler_.AddReplica(run.sched_id, pool);
  if (!st.ok()) {
    SJ_LOG(Error) << "cannot add replica " << replica << " to the scheduler: " << st.ToString();
    return;
  }
  run.live = true;
  metrics_->ReplicaAlive(options_.config.replicas[replica].name, true);
  // Gauges first, then the replica counts as live: once /health says ready, a
  // scrape already shows the replica's workers and KV pools.
  ReportGauges();
  owner_->live_replicas_.fetch_add(1);
}

void CoordinatorCore::Impl::HandleLoss(const scheduler::ReplicaLoss& loss,
                                       const std::string& reason) {
  for (RequestId id : loss.requeued) {
    auto it = entries_.find(id);
    if (it != entries_.end() && !it->second.first_token_sent) it->second.prompt_logprobs.clear();
  }
  for (RequestId id : loss.failed) {
    Fail(id, Unavailable("the replica running this request was lost (" + reason +
                         ") and no live replica can take it"));
  }
}

void CoordinatorCore::Impl::OnReplicaLost(int replica, const std::string& reason) {
  ReplicaRun& run = runs_[replica];
  if (!run.live) return;
  run.live = false;
  run.driver.NewEpoch();
  owner_->live_replicas_.fetch_sub(1);
  metrics_->ReplicaAlive(options_.config.replicas[replica].name, false);
  HandleLoss(scheduler_.MarkReplicaDead(run.sched_id), reason);
  ReportGauges();
}

void CoordinatorCore::Impl::FailStep(int replica, const Status& status) {
  ReplicaRun& run = runs_[replica];
  metrics_->StepFailed(options_.config.replicas[replica].name);
  const ReplicaDriver::InFlight* failed = run.driver.front();
  SJ_LOG(Error) << "step " << (failed ? failed->wire_step : 0) << " of replica "
                << options_.config.replicas[replica].name << " failed: " << status.ToString();
  // The step's requests end with the error (retrying could repeat a
  // deterministic failure forever); the rest restart on a fresh scheduler
  // replica over the same workers, in a new epoch (the workers drop what
  // they held, and the results of later steps in flight are stale).
  if (failed != nullptr) {
    for (const scheduler::StepSequence& s : failed->plan.sequences) {
      Fail(s.request_id, Internal("step failed on the worker: " + status.message()));
      (void)scheduler_.Cancel(s.request_id);
    }
  }
  run.driver.NewEpoch();
  run.last_result_at = -1;
  const scheduler::ReplicaId old_id = run.sched_id;
  run.sched_id = next_sched_id_++;
  Status st = scheduler_.AddReplica(run.sched_id, run.pool);
  if (!st.ok()) SJ_LOG(Error) << "re-adding replica: " << st.ToString();
  HandleLoss(scheduler_.MarkReplicaDead(old_id), "step failure");
}

void CoordinatorCore::Impl::OnStepResult(int replica, protocol::StepResult result) {
  ReplicaRun& run = runs_[replica];
  const ReplicaDriver::InFlight* step = run.driver.front();
  if (!run.live || step == nullptr || result.step_id != step->wire_step) {
    SJ_LOG(Debug) << "stale StepResult " << result.step_id << " from replica " << replica
                  << "; dropped";
    return;
  }
  if (result.error) return FailStep(replica, result.error->ToStatus());
  const double now = clock_.NowSeconds();
  const scheduler::StepPlan& plan = step->plan;
  const size_t n = plan.sequences.size();
  // The worker answers in plan order; a result in another order is looked up.
  std::vector<const protocol::SequenceOutput*> outputs(n, nullptr);
  bool in_order = result.sequences.size() == n;
  for (size_t i = 0; in_order && i < n; ++i) {
    in_order = result.sequences[i].seq_id == plan.sequences[i].request_id;
    outputs[i] = &result.sequences[i];
  }
  if (!in_order) {
    std::unordered_map<uint64_t, const protocol::SequenceOutput*> by_id;
    for (const protocol::SequenceOutput& o : result.sequences) by_id[o.seq_id] = &o;
    for (size_t i = 0; i < n; ++i) {
      auto it = by_id.find(plan.sequences[i].request_id);
      outputs[i] = it == by_id.end() ? nullptr : it->second;
    }
  }
  scheduler::StepOutcome outcome;
  // The step began when it was sent or when the step before it finished,
  // whichever is later (with steps queued on the worker, the round trip is
  // not part of any one step); results read in one batch are not apart by
  // their steps' time, so it is never less than the worker's own time.
  // compute_seconds stays 0: the cost model is fitted on this time,
  // transport and swaps included.
  outcome.measured_seconds =
      std::max(result.timings.total_seconds, now - std::max(step->sent_at, run.last_result_at));
  outcome.sampled_token_ids.reserve(n);
  for (size_t i = 0; i < n; ++i) {
    const scheduler::StepSequence& s = plan.sequences[i];
    const protocol::SequenceOutput* o = outputs[i];
    int32_t token = scheduler::kNoToken;
    auto e = entries_.find(s.request_id);
    if (o != nullptr) {
      token = o->sampled_token;
      if (e != entries_.end() && e->second.info.echo && !e->second.first_token_sent) {
        const auto& lp = o->prompt_logprobs;
        e->second.prompt_logprobs.insert(e->second.prompt_logprobs.end(), lp.begin(), lp.end());
      }
    }
    if (s.samples && token < 0 && e != entries_.end()) {
      return FailStep(replica, DataLoss("StepResult lacks the sampled token of request " +
                                        std::to_string(s.request_id)));
    }
    outcome.sampled_token_ids.push_back(s.samples ? token : scheduler::kNoToken);
  }
  scheduler::StepFeatures features;
  double predicted = 0;
  if (step_trace_ != nullptr) {
    for (const scheduler::StepSequence& s : plan.sequences) {
      scheduler::AddSequence(&features, s.start_position, s.num_tokens);
    }
    predicted = scheduler_.cost_model().Predict(features);
  }
  std::vector<scheduler::SchedulerEvent> events;
  Status st = scheduler_.OnStepDone(run.sched_id, outcome, &events);
  if (!st.ok()) return FailStep(replica, st);
  metrics_->Step(options_.config.replicas[replica].name, outcome.measured_seconds,
                 plan.num_tokens(), static_cast<int64_t>(n));
  throughput_.Step(plan.num_tokens());
  if (step_trace_ != nullptr)
    TraceStep(replica, *step, result, outcome.measured_seconds, features, predicted);
  run.last_result_at = now;
  // Logprobs of each request's token, before the step's storage is recycled.
  std::unordered_map<RequestId, const protocol::SequenceOutput*> sampled;
  for (size_t i = 0; i < n; ++i) {
    if (outputs[i] != nullptr && outputs[i]->sampled_token >= 0)
      sampled[plan.sequences[i].request_id] = outputs[i];
  }
  int64_t generated = 0;
  for (const scheduler::SchedulerEvent& ev : events) {
    auto it = entries_.find(ev.request_id);
    if (it == entries_.end()) continue;
    Entry& entry = it->second;
    SequenceEvent out;
    out.id = ev.request_id;
    switch (ev.kind) {
      case scheduler::EventKind::kToken: {
        out.kind = SequenceEvent::Kind::kToken;
        out.token = ev.token_id;
        if (auto o = sampled.find(ev.request_id); o != sampled.end()) {
          out.logprob = o->second->logprob;
          out.top = o->second->top_logprobs;
        }
        if (!entry.first_token_sent) {
          entry.first_token_sent = true;
          entry.first_token_at = now;
          if (entry.info.echo) out.prompt_logprobs = std::move(entry.prompt_logprobs);
        } else {
          metrics_->InterTokenLatency(now - entry.last_token_at);
        }
        entry.last_token_at = now;
        ++entry.generated;
        ++generated;
        Emit(entry.sink, std::move(out));
        break;
      }
      case scheduler::EventKind::kFinished: {
        out.kind = SequenceEvent::Kind::kFinished;
        out.finish = ev.reason;  // kStop or kLength
        ObserveFinished(entry, now);
        metrics_->RequestDone(FinishReasonName(out.finish));
        throughput_.Finished();
        run.driver.Forget(ev.request_id);
        Emit(entry.sink, std::move(out));
        EraseEntry(it);
        break;
      }
      case scheduler::EventKind::kFailed:
        Fail(ev.request_id, Unavailable("request dropped: no live replica can hold it"));
        break;
    }
  }
  metrics_->Tokens(0, generated);
  throughput_.Generated(generated);
  run.driver.PopFront();
  metrics_->StepsInFlight(options_.config.replicas[replica].name, run.driver.num_in_flight());
}

void CoordinatorCore::Impl::ScheduleSteps() {
  for (size_t r = 0; r < runs_.size(); ++r) {
    ReplicaRun& run = runs_[r];
    while (run.live && run.driver.can_send()) {
      const double start = clock_.NowSeconds();
      scheduler::StepPlan* plan = run.driver.NextPlanStorage();
      if (!scheduler_.BuildNextStep(run.sched_id, plan)) break;
      const double now = clock_.NowSeconds();
      for (const scheduler::StepSequence& s : plan->sequences) {
        auto it = entries_.find(s.request_id);
        if (it != entries_.end() && it->second.first_scheduled_at < 0)
          it->second.first_scheduled_at = now;
      }
      const std::string& name = options_.config.replicas[r].name;
      if (!plan->swap_out.empty() || !plan->swap_in.empty()) {
        metrics_->Swaps(name, static_cast<int64_t>(plan->swap_out.size()),
                        static_cast<int64_t>(plan->swap_in.size()),
                        options_.geometry.bytes_per_block);
      }
      if (!plan->swapped_out_requests.empty() || !plan->recomputed.empty()) {
        metrics_->Preemptions(name, static_cast<int64_t>(plan->swapped_out_requests.size()),
                              static_cast<int64_t>(plan->recomputed.size()));
      }
      run.driver.Prepare(info_fn_, now, &wire_plan_);
      const uint64_t frames_before = hub_.stats().plans_sent;
      Status st = hub_.SendPlan(static_cast<int>(r), wire_plan_);
      if (!st.ok()) {
        // The hub declared the replica lost (OnReplicaLost already ran).
        SJ_LOG(Warn) << "step plan not delivered: " << st.ToString();
        break;
      }
      metrics_->StepSent(name, static_cast<int64_t>(hub_.stats().last_plan_bytes),
                         static_cast<int64_t>(hub_.stats().plans_sent - frames_before),
                         clock_.NowSeconds() - start);
      metrics_->StepsInFlight(name, run.driver.num_in_flight());
    }
  }
}

std::vector<protocol::WorkerStatus> CoordinatorCore::Impl::WorkerSlots() const {
  const config::ClusterConfig& cfg = options_.config;
  std::vector<protocol::WorkerStatus> out;
  for (size_t r = 0; r < cfg.replicas.size(); ++r) {
    const config::ReplicaConfig& rc = cfg.replicas[r];
    for (size_t k = 0; k < rc.devices.size(); ++k) {
      const config::DeviceRef& d = rc.devices[k];
      protocol::WorkerStatus w;
      w.replica_id = static_cast<uint32_t>(r);
      w.rank = static_cast<uint32_t>(k);
      w.node = d.node;
      const config::NodeConfig* node = cfg.FindNode(d.node);
      w.host = node != nullptr ? node->host : "";
      w.device = std::string(DeviceKindName(d.kind)) + ":" + std::to_string(d.index);
      out.push_back(std::move(w));
    }
  }
  // out is in replica, rank order: the index of (r, k) is the ranks before r plus k.
  std::vector<size_t> first(cfg.replicas.size() + 1, 0);
  for (size_t r = 0; r < cfg.replicas.size(); ++r)
    first[r + 1] = first[r] + cfg.replicas[r].devices.size();
  for (const hub::WorkerHub::WorkerView& v : hub_.Workers()) {
    const size_t at = first[static_cast<size_t>(v.replica)] + v.rank;
    if (at >= first[static_cast<size_t>(v.replica) + 1]) continue;
    out[at].registered = true;
    out[at].ready = v.ready;
  }
  return out;
}

protocol::StatusReply CoordinatorCore::Impl::Snapshot() const {
  protocol::StatusReply reply;
  reply.queue_levels.assign(std::max(1, scheduler_.policy().num_levels()), 0);
  auto views = hub_.Replicas();
  for (size_t r = 0; r < runs_.size(); ++r) {
    protocol::ReplicaStatus s;
    s.replica_id = static_cast<uint32_t>(r);
    s.name = views[r].name;
    s.alive = runs_[r].live;
    s.workers = views[r].workers_ready;
    if (runs_[r].live) {
      const int32_t dfree = scheduler_.device_free(runs_[r].sched_id);
      const int32_t hfree = scheduler_.host_free(runs_[r].sched_id);
      s.kv_device_blocks_free = static_cast<uint32_t>(std::max(dfree, 0));
      s.kv_device_blocks_used =
          static_cast<uint32_t>(std::max(runs_[r].pool.device_blocks - dfree, 0));
      s.kv_host_blocks_free = static_cast<uint32_t>(std::max(hfree, 0));
      s.kv_host_blocks_used = static_cast<uint32_t>(std::max(runs_[r].pool.host_blocks - hfree, 0));
    }
    reply.replicas.push_back(s);
  }
  reply.workers = WorkerSlots();
  for (const auto& [id, entry] : entries_) {
    auto info = scheduler_.GetRequestInfo(id);
    if (!info) continue;
    const int r = RunIndexOf(info->replica);
    if (info->level >= 0 && info->level < static_cast<int32_t>(reply.queue_levels.size())) {
      ++reply.queue_levels[info->level];
    }
    if (r < 0) continue;
    protocol::ReplicaStatus& s = reply.replicas[r];
    if (info->swapped) {
      ++s.swapped;
    } else if (info->resident) {
      ++s.running;
    } else {
      ++s.waiting;
    }
  }
  return reply;
}

void CoordinatorCore::Impl::ObserveFinished(const Entry& entry, double now) {
  if (!entry.first_token_sent) return;
  const double e2e = now - entry.arrival;
  const double ttft = entry.first_token_at - entry.arrival;
  const double tpot =
      entry.generated > 1 ? (now - entry.first_token_at) / (entry.generated - 1) : 0;
  const double queue =
      entry.first_scheduled_at >= 0 ? entry.first_scheduled_at - entry.arrival : ttft;
  metrics_->RequestLatency(e2e, ttft, queue, tpot);
  metrics_->RequestLengths(entry.info.prompt_len, entry.generated);
}

void CoordinatorCore::Impl::ReportGauges() {
  const protocol::StatusReply s = Snapshot();
  int64_t running = 0, waiting = 0, swapped = 0;
  for (const protocol::ReplicaStatus& r : s.replicas) {
    running += r.running;
    waiting += r.waiting;
    swapped += r.swapped;
    metrics_->KvBlocks(r.name, r.kv_device_blocks_used, r.kv_device_blocks_free,
                       r.kv_host_blocks_used, r.kv_host_blocks_free);
  }
  // Requests not yet placed on a replica are waiting too.
  int64_t placed = running + waiting + swapped;
  waiting += std::max<int64_t>(0, static_cast<int64_t>(entries_.size()) - placed);
  metrics_->Queue(running, waiting, swapped);
  metrics_->QueueLevels(s.queue_levels);
  metrics_->MlfqMoves(scheduler_.stats().demotions, scheduler_.stats().starvation_promotions);
  std::vector<WorkerLiveness> workers;
  for (const hub::WorkerHub::WorkerView& w : hub_.Workers()) {
    workers.push_back({w.device, options_.config.replicas[w.replica].name, w.ready});
  }
  metrics_->Workers(workers);
  const scheduler::StepCostModel& cm = scheduler_.cost_model();
  const scheduler::CostCoefficients& c = cm.coefficients();
  metrics_->StepCostModel(c.a, c.b, c.c, c.d, c.e, cm.num_observations());
}

void CoordinatorCore::Impl::Run() {
  double last_liveness = 0;
  while (!owner_->stopping_.load()) {
    zmq::pollitem_t items[3] = {{hub_.socket().handle(), 0, ZMQ_POLLIN, 0},
                                {nullptr, owner_->mailbox_.fd(), ZMQ_POLLIN, 0},
                                {hub_.monitor_handle(), 0, ZMQ_POLLIN, 0}};
    try {
      zmq::poll(items, hub_.monitor_handle() ? 3 : 2, std::chrono::milliseconds(50));
    } catch (const zmq::error_t& e) {
      if (e.num() != EINTR) SJ_LOG(Error) << "core poll: " << e.what();
    }
    for (auto& fn : owner_->mailbox_.PopAll()) fn(*this);
    const double now = SteadySeconds();
    hub_.Poll(now);
    if (now - last_liveness > 0.1) {
      hub_.CheckLiveness(now);
      last_liveness = now;
      ReportGauges();
      owner_->admission_->UpdateRate(clock_.NowSeconds());
      ExpireQueued(clock_.NowSeconds());
      MaybeSaveCostModel(now, /*force=*/false);
      if (throughput_.Due(now)) throughput_.Log(now, Snapshot().replicas);
    }
    ScheduleSteps();
    FlushOutbox();
  }
  MaybeSaveCostModel(SteadySeconds(), /*force=*/true);
  // Shutting down: every open request ends with an error, workers are told to exit.
  std::vector<RequestId> open;
  for (const auto& [id, e] : entries_) open.push_back(id);
  for (RequestId id : open) Fail(id, Unavailable("the coordinator is shutting down"));
  FlushOutbox();
  hub_.ShutdownAll("coordinator stopping");
}

Result<std::unique_ptr<CoordinatorCore>> CoordinatorCore::Start(CoreOptions options,
                                                                zmq::context_t* context,
                                                                CoordinatorMetrics* metrics) {
  protocol::ChannelOptions channel_options;
  channel_options.curve = options.worker_curve;
  SJ_ASSIGN_OR_RETURN(
      protocol::RouterChannel channel,
      protocol::RouterChannel::Bind(*context, options.worker_endpoint, channel_options));
  // Disconnects make the hub probe its workers: a killed worker is noticed
  // in well under a second instead of at the heartbeat timeout.
  SJ_ASSIGN_OR_RETURN(zmq::socket_t monitor, channel.Monitor(*context, ZMQ_EVENT_DISCONNECTED));
  std::unique_ptr<CoordinatorCore> core(new CoordinatorCore());
  core->worker_endpoint_ = channel.endpoint();
  core->cluster_id_ = config::ClusterId(options.config);
  core->admission_ = std::make_unique<Admission>(options.config.coordinator.limits);
  core->impl_ = std::make_unique<Impl>(core.get(), std::move(options), std::move(channel),
                                       std::move(monitor), metrics);
  // The channel moves to the core thread here; std::thread's start is the
  // memory barrier ZeroMQ asks for.
  core->thread_ = std::thread([c = core.get()] { c->impl_->Run(); });
  return core;
}

CoordinatorCore::~CoordinatorCore() { Stop(); }

void CoordinatorCore::Stop() {
  if (stopping_.exchange(true)) {
    if (thread_.joinable()) thread_.join();
    return;
  }
  mailbox_.Close();
  if (thread_.joinable()) thread_.join();
  impl_.reset();
}

void CoordinatorCore::Submit(std::vector<SubmitItem> items, std::shared_ptr<EventSink> sink,
                             bool reserved) {
  if (!reserved) {
    int64_t tokens = 0;
    for (const SubmitItem& item : items) tokens += static_cast<int64_t>(item.prompt.size());
    admission_->Add(static_cast<int64_t>(items.size()), tokens);
  }
  auto shared_items = std::make_shared<std::vector<SubmitItem>>(std::move(items));
  bool ok = mailbox_.Push(
      [shared_items, sink](Impl& impl) { impl.Submit(std::move(*shared_items), sink); });
  if (!ok) {
    std::vector<SequenceEvent> events;
    for (const SubmitItem& item : *shared_items) {
      admission_->Unreserve(1, static_cast<int64_t>(item.prompt.size()));
      SequenceEvent e;
      e.kind = SequenceEvent::Kind::kError;
      e.id = item.id;
      e.error = Unavailable("the coordinator is shutting down");
      events.push_back(std::move(e));
    }
    sink->Deliver(std::move(events));
  }
}

void CoordinatorCore::Cancel(std::vector<RequestId> ids) {
  mailbox_.Push([ids = std::move(ids)](Impl& impl) { impl.End(ids, /*cancelled=*/true); });
}

void CoordinatorCore::Finish(std::vector<RequestId> ids) {
  mailbox_.Push([ids = std::move(ids)](Impl& impl) { impl.End(ids, /*cancelled=*/false); });
}

void CoordinatorCore::GetStatus(std::function<void(protocol::StatusReply)> done) {
  mailbox_.Push([done = std::move(done)](Impl& impl) { done(impl.Snapshot()); });
}

}  // namespace skipjoin::server
