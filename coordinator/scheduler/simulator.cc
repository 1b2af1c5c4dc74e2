#include "coordinator/scheduler/simulator.h"

#include <algorithm>
#include <chrono>
#include <cmath>
#include <cstdio>
#include <limits>
#include <nlohmann/json.hpp>
#include <random>

namespace skipjoin::scheduler {
namespace {

// Log-spaced histogram for the per-token gaps (too many to keep): 1% buckets
// from 1 us to ~1e4 s. Mean and max are exact.
class GapHistogram {
 public:
  GapHistogram() : counts_(kBuckets, 0) {}
  void Add(double x) {
    ++n_;
    sum_ += x;
    max_ = std::max(max_, x);
    int64_t b = x <= kMin ? 0 : static_cast<int64_t>(std::log(x / kMin) / kLogStep) + 1;
    ++counts_[std::min<int64_t>(b, kBuckets - 1)];
  }
  LatencySummary Summary() const {
    LatencySummary s;
    s.count = n_;
    if (n_ == 0) return s;
    s.mean = sum_ / n_;
    s.max = max_;
    s.p50 = Quantile(0.50);
    s.p90 = Quantile(0.90);
    s.p99 = Quantile(0.99);
    s.p999 = Quantile(0.999);
    return s;
  }

 private:
  static constexpr double kMin = 1e-6;
  static constexpr int64_t kBuckets = 2400;
  static constexpr double kLogStep = 0.00995033;  // ln(1.01)
  double Quantile(double q) const {
    const int64_t rank = static_cast<int64_t>(std::ceil(q * n_));
    int64_t seen = 0;
    for (int64_t b = 0; b < kBuckets; ++b) {
      seen += counts_[b];
      if (seen >= rank) return b == 0 ? kMin : std::min(max_, kMin * std::exp(kLogStep * b));
    }
    return max_;
  }
  std::vector<int64_t> counts_;
  int64_t n_ = 0;
  double sum_ = 0;
  double max_ = 0;
};

LatencySummary Summarize(std::vector<double>* v) {
  LatencySummary s;
  s.count = static_cast<int64_t>(v->size());
  if (v->empty()) return s;
  std::sort(v->begin(), v->end());
  double sum = 0;
  for (double x : *v) sum += x;
  s.mean = sum / v->size();
  auto q = [&](double p) {
    return (*v)[std::min(v->size() - 1, static_cast<size_t>(std::ceil(p * v->size())) - 1)];
  };
  s.p50 = q(0.5);
  s.p90 = q(0.9);
  s.p99 = q(0.99);
  s.p999 = q(0.999);
  s.max = v->back();
  return s;
}

struct RequestTrack {
  double arrival = 0;
  double first_token = -1;
  double last_token = 0;
  double max_gap = 0;
  int32_t generated = 0;
  bool done = false;
};

struct SimReplica {
  bool busy = false;
  double done_at = 0;
  StepPlan plan;
  StepOutcome outcome;
};

void DrawProgress(int64_t done, int64_t total, double sim_t) {
  const int width = 40;
  const int filled = total > 0 ? static_cast<int>(width * done / total) : width;
  std::fprintf(stderr, "\r[%-*.*s] %3d%% %lld/%lld  t=%.0fs", width, filled,
               "########################################",
               total > 0 ? static_cast<int>(100 * done / total) : 100, static_cast<long long>(done),
               static_cast<long long>(total), sim_t);
  if (done == total) std::fputc('\n', stderr);
}

}  // namespace

Result<SimulationResult> RunSimulation(const SimulatorOptions& options,
                                       const std::vector<WorkloadRequest>& workload,
                                       std::vector<double>* completion_times) {
  const auto wall_start = std::chrono::steady_clock::now();
  if (options.num_replicas < 1) return InvalidArgument("simulator: num_replicas must be >= 1");
  ManualClock clock;
  Scheduler sched(options.scheduler, &clock);
  for (int32_t i = 0; i < options.num_replicas; ++i)
    SJ_RETURN_IF_ERROR(sched.AddReplica(i, options.pool));
  const StepCostModel truth(options.true_cost);
  std::mt19937_64 rng(options.seed);
  std::normal_distribution<double> noise(0.0, 1.0);
  const double block_bytes = options.kv_bytes_per_token * options.pool.block_size;
  const double bandwidth = std::max(options.swap_bandwidth_bytes_per_second, 1.0);

  const int64_t n = static_cast<int64_t>(workload.size());
  std::vector<RequestTrack> track(n);
  std::vector<SimReplica> replicas(options.num_replicas);
  std::vector<SchedulerEvent> events;
  std::vector<double> ttft, tpot, e2e;
  ttft.reserve(n);
  tpot.reserve(n);
  e2e.reserve(n);
  GapHistogram itl;
  SimulationResult res;
  res.policy = PolicyKindName(options.scheduler.policy);
  res.num_requests = n;
  res.token_budget = sched.token_budget();
  int64_t next = 0;
  int64_t finished = 0;
  int64_t good = 0;
  int64_t good_itl = 0;
  int64_t output_tokens = 0;
  double step_tokens = 0, step_seqs = 0;
  const int64_t progress_every = std::max<int64_t>(1, n / 100);

  while (true) {
    double t = std::numeric_limits<double>::infinity();
    if (next < n) t = workload[next].arrival;
    for (const SimReplica& r : replicas) {
      if (r.busy) t = std::min(t, r.done_at);
    }
    if (!std::isfinite(t)) break;
    clock.Set(std::max(t, clock.NowSeconds()));
    const double now = clock.NowSeconds();
    for (int32_t ri = 0; ri < options.num_replicas; ++ri) {
      SimReplica& r = replicas[ri];
      if (!r.busy || r.done_at > now) continue;
      r.busy = false;
      r.outcome.sampled_token_ids.clear();
      for (const StepSequence& s : r.plan.sequences)
        r.outcome.sampled_token_ids.push_back(s.samples ? 0 : kNoToken);
      events.clear();
      SJ_RETURN_IF_ERROR(sched.OnStepDone(ri, r.outcome, &events));
      for (const SchedulerEvent& e : events) {
        RequestTrack& tr = track[e.request_id];
        switch (e.kind) {
          case EventKind::kToken:
            ++output_tokens;
            if (tr.first_token < 0) {
              tr.first_token = now;
            } else {
              itl.Add(now - tr.last_token);
              tr.max_gap = std::max(tr.max_gap, now - tr.last_token);
            }
            tr.last_token = now;
            ++tr.generated;
            break;
          case EventKind::kFinished:
          case EventKind::kFailed: {
            tr.done = true;
            ++finished;
            if (completion_times) completion_times->push_back(now);
            const double first = tr.first_token - tr.arrival;
            const double per_token =
                tr.generated > 1 ? (now - tr.first_token) / (tr.generated - 1) : 0.0;
            ttft.push_back(first);
            tpot.push_back(per_token);
            e2e.push_back(now - tr.arrival);
            if (first <= options.slo.ttft_seconds && per_token <= options.slo.tpot_seconds) ++good;
            if (first <= options.slo.ttft_seconds && tr.max_gap <= options.slo.itl_seconds)
              ++good_itl;
            if (options.progress && (finished % progress_every == 0 || finished == n)) {
              DrawProgress(finished, n, now);
            }
            break;
          }
        }
      }
      if (options.after_step) options.after_step(sched);
    }
    while (next < n && workload[next].arrival <= now) {
      const WorkloadRequest& w = workload[next];
      RequestSpec spec;
      spec.id = static_cast<RequestId>(next);
      spec.prompt_token_ids.assign(w.prompt_len, 0);
      spec.max_new_tokens = w.output_len;
      spec.priority = w.priority;
      spec.arrival_seconds = w.arrival;
      track[next].arrival = w.arrival;
      if (!sched.Submit(std::move(spec)).ok()) {
        ++res.rejected;
        ++finished;
      }
      ++next;
    }
    for (int32_t ri = 0; ri < options.num_replicas; ++ri) {
      SimReplica& r = replicas[ri];
      if (r.busy || !sched.BuildNextStep(ri, &r.plan)) continue;
      StepFeatures f;
      for (const StepSequence& s : r.plan.sequences)
        AddSequence(&f, s.start_position, s.num_tokens);
      step_tokens += f.tokens;
      step_seqs += f.sequences;
      double compute = f.sequences > 0 ? truth.Predict(f) : 0.0;
      if (options.cost_noise_cv > 0)
        compute *= std::max(0.5, 1.0 + options.cost_noise_cv * noise(rng));
      const double blocking_blocks = static_cast<double>(r.plan.swap_out.size()) +
                                     static_cast<double>(r.plan.num_blocking_swap_in);
      const double prefetch_blocks =
          static_cast<double>(r.plan.swap_in.size()) - r.plan.num_blocking_swap_in;
      res.swapped_bytes += (r.plan.swap_out.size() + r.plan.swap_in.size()) * block_bytes;
      const double dt = blocking_blocks * block_bytes / bandwidth +
                        std::max(compute, prefetch_blocks * block_bytes / bandwidth);
      r.outcome.measured_seconds = dt;
      r.outcome.compute_seconds = compute;
      r.busy = true;
      r.done_at = now + std::max(dt, 1e-9);
    }
    bool any_busy = false;
    for (const SimReplica& r : replicas) any_busy |= r.busy;
    if (!any_busy && next >= n) {
      if (sched.num_requests() > 0) {
        return Internal("simulator: " + std::to_string(sched.num_requests()) +
                        " requests left but nothing runs");
      }
      break;
    }
  }
  res.completed = static_cast<int64_t>(e2e.size());
  res.makespan_seconds = clock.NowSeconds() - (workload.empty() ? 0.0 : workload.front().arrival);
  if (res.makespan_seconds > 0) {
    res.throughput_rps = res.completed / res.makespan_seconds;
    res.output_tokens_per_second = output_tokens / res.makespan_seconds;
    res.goodput_rps = good / res.makespan_seconds;
    res.goodput_itl_rps = good_itl / res.makespan_seconds;
  }
  res.slo_attainment = n > 0 ? static_cast<double>(good) / n : 0.0;
  res.ttft = Summarize(&ttft);
  res.tpot = Summarize(&tpot);
  res.itl = itl.Summary();
  res.e2e = Summarize(&e2e);
  res.jct = res.e2e;
  if (!workload.empty()) {
    double solo = 0;
    for (const WorkloadRequest& w : workload) {
      solo += SoloSeconds(options.true_cost, w.prompt_len, w.output_len, sched.token_budget());
    }
    res.jct_lower_bound_mean = solo / static_cast<double>(workload.size());
  }
  res.stats = sched.stats();
  res.steps = res.stats.steps;
  if (res.steps > 0) {
    res.mean_step_tokens = step_tokens / res.steps;
    res.mean_step_sequences = step_seqs / res.steps;
  }
  res.fitted_cost = sched.cost_model().coefficients();
  res.wall_seconds =
      std::chrono::duration<double>(std::chrono::steady_clock::now() - wall_start).count();
  return res;
}

Result<double> MeasureSaturatedThroughput(const SimulatorOptions& options,
                                          std::vector<WorkloadRequest> lengths) {
  if (lengths.size() < 1000)
    return InvalidArgument("saturated throughput needs at least 1000 requests");
  for (WorkloadRequest& w : lengths) w.arrival = 0;
  SimulatorOptions sat = options;
  sat.scheduler.policy = PolicyKind::kFcfs;
  sat.progress = false;
  sat.after_step = nullptr;
  std::vector<double> done;
  SJ_ASSIGN_OR_RETURN(SimulationResult r, RunSimulation(sat, lengths, &done));
  (void)r;
  const size_t lo = done.size() / 4, hi = done.size() * 13 / 20;
  if (hi <= lo || done[hi] <= done[lo])
    return Internal("saturated run: degenerate completion times");
  return static_cast<double>(hi - lo) / (done[hi] - done[lo]);
}

double SoloSeconds(const CostCoefficients& c, int32_t prompt_len, int32_t output_len,
                   int32_t token_budget) {
  const int32_t budget = std::max(1, token_budget);
  double t = 0;
  double context = 0;
  for (int32_t left = prompt_len; left > 0;) {
    const int32_t chunk = std::min(left, budget);
    t += c.a + c.b * chunk + c.c + c.d * (context + chunk) + c.e * PrefillPairs(context, chunk);
    context += chunk;
    left -= chunk;
  }
  for (int32_t i = 1; i < output_len; ++i) {
    context += 1;
    t += c.a + c.b + c.c + c.d * context;
  }
  return t;
}

namespace {
nlohmann::json SummaryJson(const LatencySummary& s) {
  return {{"count", s.count}, {"mean", s.mean}, {"p50", s.p50}, {"p90", s.p90},
          {"p99", s.p99},     {"p999", s.p999}, {"max", s.max}};
}
}  // namespace

std::string SimulationResultToJson(const SimulationResult& r) {
  nlohmann::json j;
  j["policy"] = r.policy;
  j["num_requests"] = r.num_requests;
  j["completed"] = r.completed;
  j["rejected"] = r.rejected;
  j["makespan_seconds"] = r.makespan_seconds;
  j["throughput_rps"] = r.throughput_rps;
  j["output_tokens_per_second"] = r.output_tokens_per_second;
  j["ttft_seconds"] = SummaryJson(r.ttft);
  j["tpot_seconds"] = SummaryJson(r.tpot);
  j["itl_seconds"] = SummaryJson(r.itl);
  j["e2e_seconds"] = SummaryJson(r.e2e);
  j["jct_seconds"] = SummaryJson(r.jct);
  j["jct_lower_bound_mean_seconds"] = r.jct_lower_bound_mean;
  j["goodput_rps"] = r.goodput_rps;
  j["goodput_itl_rps"] = r.goodput_itl_rps;
  j["slo_attainment"] = r.slo_attainment;
  j["token_budget"] = r.token_budget;
  j["steps"] = r.steps;
  j["mean_step_tokens"] = r.mean_step_tokens;
  j["mean_step_sequences"] = r.mean_step_sequences;
  j["swapped_bytes"] = r.swapped_bytes;
  const SchedulerStats& s = r.stats;
  j["preemptions"] = {{"slot", s.preemptions_slot},
                      {"swap", s.preemptions_swap},
                      {"recompute", s.preemptions_recompute},
                      {"proactive_swap_outs", s.proactive_swap_outs},
                      {"prefetch_swap_ins", s.prefetch_swap_ins}};
  j["recomputed_tokens"] = s.recomputed_tokens;
  j["demotions"] = s.demotions;
  j["starvation_promotions"] = s.starvation_promotions;
  j["stall_forced"] = s.stall_forced;
  j["admission_deferrals"] = s.admission_deferrals;
  j["recompute_refusals"] = s.recompute_refusals;
  j["admitted_per_level"] = s.admitted_per_level;
  j["fitted_cost"] = {{"a", r.fitted_cost.a},
                      {"b", r.fitted_cost.b},
                      {"c", r.fitted_cost.c},
                      {"d", r.fitted_cost.d},
                      {"e", r.fitted_cost.e}};
  j["wall_seconds"] = r.wall_seconds;
  return j.dump(2);
}

std::string SimulationResultToTable(const SimulationResult& r) {
  std::string out;
  char line[256];
  std::snprintf(
      line, sizeof line,
      "policy %s: %lld/%lld completed (%lld rejected), makespan %.1fs, %.2f req/s, %.0f tok/s\n",
      r.policy.c_str(), static_cast<long long>(r.completed), static_cast<long long>(r.num_requests),
      static_cast<long long>(r.rejected), r.makespan_seconds, r.throughput_rps,
      r.output_tokens_per_second);
  out += line;
  std::snprintf(line, sizeof line, "%-8s %10s %10s %10s %10s %10s\n", "metric", "mean", "p50",
                "p90", "p99", "max");
  out += line;
  auto row = [&](const char* name, const LatencySummary& s) {
    std::snprintf(line, sizeof line, "%-8s %10.4f %10.4f %10.4f %10.4f %10.4f\n", name, s.mean,
                  s.p50, s.p90, s.p99, s.max);
    out += line;
  };
  row("TTFT s", r.ttft);
  row("TPOT s", r.tpot);
  row("ITL s", r.itl);
  row("E2E s", r.e2e);
  row("JCT s", r.jct);
  std::snprintf(line, sizeof line,
                "JCT lower bound (every request alone, no queueing): mean %.4f s\n",
                r.jct_lower_bound_mean);
  out += line;
  const SchedulerStats& s = r.stats;
  std::snprintf(line, sizeof line,
                "goodput %.3f req/s (SLO attainment %.1f%%), token budget %d, %lld steps (%.1f "
                "tok, %.1f seq each)\n",
                r.goodput_rps, 100 * r.slo_attainment, r.token_budget,
                static_cast<long long>(r.steps), r.mean_step_tokens, r.mean_step_sequences);
  out += line;
  std::snprintf(
      line, sizeof line,
      "preemptions: slot %lld, swap %lld (proactive %lld), recompute %lld; prefetch swap-ins %lld; "
      "swapped %.2f GiB; recomputed %lld tokens\n",
      static_cast<long long>(s.preemptions_slot), static_cast<long long>(s.preemptions_swap),
      static_cast<long long>(s.proactive_swap_outs),
      static_cast<long long>(s.preemptions_recompute), static_cast<long long>(s.prefetch_swap_ins),
      r.swapped_bytes / (1024.0 * 1024 * 1024), static_cast<long long>(s.recomputed_tokens));
  out += line;
  out += "admitted per level:";
  for (size_t i = 0; i < s.admitted_per_level.size(); ++i) {
    out += " L" + std::to_string(i) + "=" + std::to_string(s.admitted_per_level[i]);
  }
  std::snprintf(line, sizeof line, "; demotions %lld, starvation promotions %lld\n",
                static_cast<long long>(s.demotions),
                static_cast<long long>(s.starvation_promotions));
  out += line;
  std::snprintf(line, sizeof line,
                "ITL p99.9 %.4f s, max %.4f s; stall-bound turns %lld, admission deferrals %lld, "
                "recompute refusals %lld; goodput with every token gap in its SLO %.3f req/s\n",
                r.itl.p999, r.itl.max, static_cast<long long>(s.stall_forced),
                static_cast<long long>(s.admission_deferrals),
                static_cast<long long>(s.recompute_refusals), r.goodput_itl_rps);
  out += line;
  return out;
}

}  // namespace skipjoin::scheduler
