#include "coordinator/scheduler/simulate_cli.h"

#include <cstdio>
#include <cstdlib>
#include <fstream>
#include <map>
#include <nlohmann/json.hpp>
#include <sstream>
#include <string>

#include "coordinator/scheduler/simulator.h"

namespace skipjoin::scheduler {
namespace {

constexpr const char* kUsage = R"(usage: skipjoin simulate [flags]

Runs the scheduler offline against simulated replicas (virtual clock, step
times from a cost model) and reports TTFT, TPOT, ITL, E2E/JCT, goodput and
preemption statistics.

Model / hardware:
  --model NAME            gpu7b (default): 7B-class model on one A100-80GB
                          cpu135m: SmolLM2-135M on one CPU thread (measured fit)
  --cost-model FILE.json  ground-truth coefficients {"a","b","c","d"} (seconds)
  --replicas N            replicas (default 1)
  --device-blocks N --host-blocks N --block-size N   KV pools per replica
  --kv-bytes-per-token X  bytes of K+V per token, all layers
  --swap-bandwidth X      host<->device copy bandwidth, bytes/s
  --noise CV              multiplicative noise on step times (default 0)
Scheduler:
  --policy mlfq|fcfs|srpt-oracle   (default mlfq; srpt-oracle: clairvoyant
                          shortest-remaining-output-first benchmark)
  --max-seqs N            sequences per step
  --token-budget N        tokens per step (default: from the cost model)
  --tbt-target S          step time target for the default budget, seconds
  --levels K --q0 S --ratio R --starvation S    MLFQ shape
  --reserve F             proactive free device fraction (default 0.03)
  --no-pingpong-steps N   (default 8)
  --prefetch-lookahead N  (default 8)
  --max-stall S           decode-stall bound, seconds (default 1 for gpu7b,
                          10 for cpu135m; 0 = off)
  --max-promotions N      aging promotions per step (default 1)
  --swap-admit F          the swap-in debt limit until the copy time is
                          measured: F x device blocks (default 0.01)
  --swap-debt-share F     new jobs may evict while the host KV's stall-bound
                          round trips cost at most F of the time (default 0.05;
                          0 = new jobs use free blocks only)
  --max-started-factor F  new jobs wait while F x max-seqs jobs have started
                          and not finished (default 4)
  --admit-into-free-memory 0|1  new jobs start in free device blocks or within
                          the swap-in debt limit (default 1); 0: eager
  --victim-order mlfq|enst  within a level, evict the latest arrival first
                          (mlfq, default) or the furthest stall deadline first
                          (enst)
  --evict-level-gap N     a job evicts a decoding job only N+ levels below it
                          (default 2)
  --max-recompute-tokens N  recompute only jobs with at most N cached tokens
                          when the host is full (default 0 = the token budget)
Workload:
  --num-requests N        (default 1000)
  --rate R                arrivals per second, or
  --load L                fraction of fcfs's saturated throughput, measured on
                          --capacity-requests requests of the same mix queued
                          at once (e.g. 0.8)
  --capacity-requests N   (default 20000)
  --capacity-only         print the saturated throughput (req/s) and exit
  --arrival poisson|gamma --cv X
  --prompt-dist D --prompt-len N --prompt-min N --prompt-max N --prompt-mean X
  --output-dist D --output-len N --output-min N --output-max N --output-mean X
                          D: fixed | uniform | sharegpt (log-normal) | pareto
                          (--output-alpha A, mean --output-mean) | bimodal
                          (--output-short-max N, --output-long-min N,
                          --output-long-frac F)
  --trace FILE.jsonl      {"arrival","prompt_len","output_len"[,"priority"]} per line
  --seed N                (default 1)
Report:
  --slo-ttft S --slo-tpot S   SLOs for goodput (TTFT and mean time per output token)
  --slo-itl S             per-token SLO: goodput_itl counts requests whose TTFT
                          and every inter-token gap meet their SLOs
  --json FILE             also write the result as JSON
  --no-progress           no progress bar
  --help
)";

struct Preset {
  CostCoefficients cost;
  KvPoolSpec pool;
  double kv_bytes_per_token;
  double swap_bandwidth;
  int32_t max_seqs;
  double tbt_target;
  double budget_context;
  double max_stall;
  SloOptions slo;
  MlfqOptions mlfq;
};

// gpu7b: Llama-2-7B-class (32 layers, 4096 hidden, MHA, fp16) on an
// A100-80GB. a: one pass over 13.5 GB of weights at ~2 TB/s plus launches
// (~12 ms, the measured batch-1 decode step of vLLM/Sarathi-Serve at this
// size); b: 2*7e9 FLOP per token at ~50% of 312 TFLOP/s (~0.06 ms); c: per
// sequence sampling and metadata (~0.05 ms); d: 512 KiB of KV per context
// token read at ~2 TB/s (0.26 us). 7000 device blocks of 16 tokens = 56 GiB of
// KV; 8000 host blocks = 64 GiB pinned; PCIe 4.0 x16 at 25 GB/s.
Preset Gpu7b() {
  Preset p;
  p.cost = Gpu7bCostPrior();
  p.pool = {7000, 8000, 16};
  p.kv_bytes_per_token = 524288;
  p.swap_bandwidth = 25e9;
  p.max_seqs = 256;
  p.tbt_target = 0.1;
  p.budget_context = 512;
  p.max_stall = 1.0;
  p.slo = {2.0, 0.1, 0.1};
  p.mlfq = MlfqOptions{};
  return p;
}

// cpu135m: SmolLM2-135M-Instruct (Q4_1 weights, 30 layers, 3 KV heads x 64,
// f32 KV = 45 KiB/token) on one CPU thread: the step cost model the
// coordinator fitted from a real cluster's steps (CpuSmolLmCostPrior). Quanta
// are scaled by the ~10x longer steps; the TBT target and SLO allow a full
// 32-sequence decode step (~0.3 s) with a prefill chunk.
Preset Cpu135m() {
  Preset p;
  p.cost = CpuSmolLmCostPrior();
  p.pool = {2048, 2048, 16};
  p.kv_bytes_per_token = 46080;
  p.swap_bandwidth = 5e9;
  p.max_seqs = 32;
  p.tbt_target = 1.0;
  p.budget_context = 256;
  p.max_stall = 10.0;
  p.slo = {10.0, 1.0, 1.0};
  p.mlfq = MlfqOptions{};
  p.mlfq.base_quantum_seconds *= 10;
  p.mlfq.starvation_seconds *= 10;
  return p;
}

class Flags {
 public:
  Status Parse(int argc, char** argv) {
    for (int i = 1; i < argc; ++i) {
      std::string a = argv[i];
      if (a.rfind("--", 0) != 0) return InvalidArgument("unexpected argument '" + a + "'");
      a = a.substr(2);
      if (a == "help" || a == "no-progress" || a == "capacity-only") {
        values_[a] = "1";
        continue;
      }
      const size_t eq = a.find('=');
      if (eq != std::string::npos) {
        values_[a.substr(0, eq)] = a.substr(eq + 1);
      } else if (i + 1 < argc) {
        values_[a] = argv[++i];
      } else {
        return InvalidArgument("flag --" + a + " needs a value");
      }
    }
    return Status::Ok();
  }
  bool Has(const std::string& k) const { return values_.count(k) > 0; }
  std::string Str(const std::string& k, const std::string& def) {
    used_[k] = true;
    auto it = values_.find(k);
    return it == values_.end() ? def : it->second;
  }
  template <typename T>
  T Num(const std::string& k, T def) {
    used_[k] = true;
    auto it = values_.find(k);
    if (it == values_.end()) return def;
    std::istringstream in(it->second);
    T v{};
    if (!(in >> v) || !in.eof()) {
      error_ = "flag --" + k + ": '" + it->second + "' is not a number";
      return def;
    }
    return v;
  }
  Status Check() const {
    if (!error_.empty()) return InvalidArgument(error_);
    for (const auto& [k, v] : values_) {
      if (!used_.count(k)) return InvalidArgument("unknown flag --" + k + " (see --help)");
    }
    return Status::Ok();
  }

 private:
  std::map<std::string, std::string> values_;
  std::map<std::string, bool> used_;
  std::string error_;
};

Status ReadCostFile(const std::string& path, CostCoefficients* out) {
  std::ifstream in(path);
  if (!in) return NotFound("cost model " + path + ": cannot open");
  std::stringstream ss;
  ss << in.rdbuf();
  SJ_ASSIGN_OR_RETURN(StepCostModel m, StepCostModel::FromJson(ss.str(), out->e));
  *out = m.coefficients();
  return Status::Ok();
}

Status Run(int argc, char** argv, bool* help) {
  Flags f;
  SJ_RETURN_IF_ERROR(f.Parse(argc, argv));
  if (f.Has("help")) {
    *help = true;
    return Status::Ok();
  }
  const std::string model = f.Str("model", "gpu7b");
  Preset p;
  if (model == "gpu7b") {
    p = Gpu7b();
  } else if (model == "cpu135m") {
    p = Cpu135m();
  } else {
    return InvalidArgument("unknown --model '" + model + "' (gpu7b, cpu135m)");
  }
  SimulatorOptions o;
  o.true_cost = p.cost;
  const std::string cost_file = f.Str("cost-model", "");
  if (!cost_file.empty()) SJ_RETURN_IF_ERROR(ReadCostFile(cost_file, &o.true_cost));
  o.num_replicas = f.Num<int32_t>("replicas", 1);
  o.pool.device_blocks = f.Num<int32_t>("device-blocks", p.pool.device_blocks);
  o.pool.host_blocks = f.Num<int32_t>("host-blocks", p.pool.host_blocks);
  o.pool.block_size = f.Num<int32_t>("block-size", p.pool.block_size);
  o.kv_bytes_per_token = f.Num<double>("kv-bytes-per-token", p.kv_bytes_per_token);
  o.swap_bandwidth_bytes_per_second = f.Num<double>("swap-bandwidth", p.swap_bandwidth);
  o.cost_noise_cv = f.Num<double>("noise", 0.0);
  o.seed = f.Num<uint64_t>("seed", 1);
  o.progress = !f.Has("no-progress");
  f.Str("no-progress", "");

  SchedulerOptions& s = o.scheduler;
  SJ_ASSIGN_OR_RETURN(s.policy, ParsePolicyKind(f.Str("policy", "mlfq")));
  s.cost_prior = o.true_cost;
  s.max_running_sequences = f.Num<int32_t>("max-seqs", p.max_seqs);
  s.token_budget = f.Num<int32_t>("token-budget", 0);
  s.tbt_target_seconds = f.Num<double>("tbt-target", p.tbt_target);
  s.budget_mean_context = p.budget_context;
  s.mlfq.num_levels = f.Num<int32_t>("levels", p.mlfq.num_levels);
  s.mlfq.base_quantum_seconds = f.Num<double>("q0", p.mlfq.base_quantum_seconds);
  s.mlfq.quantum_ratio = f.Num<double>("ratio", p.mlfq.quantum_ratio);
  s.mlfq.starvation_seconds = f.Num<double>("starvation", p.mlfq.starvation_seconds);
  s.reserve_fraction = f.Num<double>("reserve", s.reserve_fraction);
  s.no_pingpong_steps = f.Num<int32_t>("no-pingpong-steps", s.no_pingpong_steps);
  s.prefetch_lookahead = f.Num<int32_t>("prefetch-lookahead", s.prefetch_lookahead);
  s.max_stall_seconds = f.Num<double>("max-stall", p.max_stall);
  s.max_promotions_per_step = f.Num<int32_t>("max-promotions", s.max_promotions_per_step);
  s.swap_admit_fraction = f.Num<double>("swap-admit", s.swap_admit_fraction);
  s.max_started_factor = f.Num<double>("max-started-factor", s.max_started_factor);
  s.swap_debt_share = f.Num<double>("swap-debt-share", s.swap_debt_share);
  const std::string victim_order = f.Str("victim-order", VictimOrderName(s.victim_order));
  if (victim_order == "mlfq") {
    s.victim_order = VictimOrder::kMlfq;
  } else if (victim_order == "enst") {
    s.victim_order = VictimOrder::kEnst;
  } else {
    return InvalidArgument("unknown --victim-order '" + victim_order + "' (mlfq, enst)");
  }
  s.admit_into_free_memory =
      f.Num<int32_t>("admit-into-free-memory", s.admit_into_free_memory ? 1 : 0) != 0;
  s.evict_level_gap = f.Num<int32_t>("evict-level-gap", s.evict_level_gap);
  s.max_recompute_tokens = f.Num<int32_t>("max-recompute-tokens", s.max_recompute_tokens);
  o.slo.ttft_seconds = f.Num<double>("slo-ttft", p.slo.ttft_seconds);
  o.slo.tpot_seconds = f.Num<double>("slo-tpot", p.slo.tpot_seconds);
  o.slo.itl_seconds = f.Num<double>("slo-itl", p.slo.itl_seconds);
  if (s.mlfq.num_levels < 1 || s.mlfq.base_quantum_seconds <= 0 || s.mlfq.quantum_ratio < 1) {
    return InvalidArgument("MLFQ needs --levels >= 1, --q0 > 0, --ratio >= 1");
  }
  if (s.max_running_sequences < 1) return InvalidArgument("--max-seqs must be >= 1");

  WorkloadOptions w;
  w.num_requests = f.Num<int64_t>("num-requests", 1000);
  w.seed = o.seed;
  SJ_ASSIGN_OR_RETURN(w.arrival, ParseArrivalKind(f.Str("arrival", "poisson")));
  w.cv = f.Num<double>("cv", 1.0);
  SJ_ASSIGN_OR_RETURN(w.prompt.kind, ParseLengthKind(f.Str("prompt-dist", "sharegpt")));
  w.prompt.fixed = f.Num<int32_t>("prompt-len", w.prompt.fixed);
  w.prompt.min = f.Num<int32_t>("prompt-min", w.prompt.min);
  w.prompt.max = f.Num<int32_t>("prompt-max", w.prompt.max);
  w.prompt.mean = f.Num<double>("prompt-mean", w.prompt.mean);
  SJ_ASSIGN_OR_RETURN(w.output.kind, ParseLengthKind(f.Str("output-dist", "sharegpt")));
  w.output.fixed = f.Num<int32_t>("output-len", w.output.fixed);
  w.output.min = f.Num<int32_t>("output-min", w.output.min);
  w.output.max = f.Num<int32_t>("output-max", w.output.max);
  w.output.mean = f.Num<double>("output-mean", w.output.mean);
  w.output.alpha = f.Num<double>("output-alpha", w.output.alpha);
  w.output.short_max = f.Num<int32_t>("output-short-max", w.output.short_max);
  w.output.long_min = f.Num<int32_t>("output-long-min", w.output.long_min);
  w.output.long_fraction = f.Num<double>("output-long-frac", w.output.long_fraction);
  const std::string trace = f.Str("trace", "");
  const bool has_rate = f.Has("rate"), has_load = f.Has("load");
  w.rate = f.Num<double>("rate", 1.0);
  const double load = f.Num<double>("load", 0.0);
  const int64_t capacity_requests = f.Num<int64_t>("capacity-requests", 20000);
  const bool capacity_only = f.Has("capacity-only");
  f.Str("capacity-only", "");
  const std::string json_path = f.Str("json", "");
  SJ_RETURN_IF_ERROR(f.Check());
  if (has_rate && has_load) return InvalidArgument("give --rate or --load, not both");
  if (w.num_requests < 1) return InvalidArgument("--num-requests must be >= 1");

  std::vector<WorkloadRequest> workload;
  if (!trace.empty()) {
    SJ_ASSIGN_OR_RETURN(workload, LoadTrace(trace));
  } else {
    if (has_load || capacity_only) {
      WorkloadOptions probe = w;
      probe.num_requests = capacity_requests;
      probe.seed = w.seed + 7919;
      SJ_ASSIGN_OR_RETURN(double capacity, MeasureSaturatedThroughput(o, GenerateWorkload(probe)));
      if (capacity_only) {
        std::printf("%.6f\n", capacity);
        return Status::Ok();
      }
      w.rate = load * capacity;
      std::fprintf(stderr, "saturated throughput %.4f req/s, load %.2f -> rate %.4f req/s\n",
                   capacity, load, w.rate);
    }
    workload = GenerateWorkload(w);
  }
  SJ_ASSIGN_OR_RETURN(SimulationResult r, RunSimulation(o, workload));
  std::fputs(SimulationResultToTable(r).c_str(), stdout);
  std::fprintf(stdout, "wall time %.2fs\n", r.wall_seconds);
  if (!json_path.empty()) {
    std::ofstream out(json_path);
    if (!out) return Unavailable("cannot write " + json_path);
    nlohmann::json j = nlohmann::json::parse(SimulationResultToJson(r));
    j["rate_rps"] = w.rate;
    j["load"] = load;
    j["model"] = model;
    out << j.dump(2) << "\n";
  }
  return Status::Ok();
}

}  // namespace

int SimulateMain(int argc, char** argv) {
  bool help = false;
  Status st = Run(argc, argv, &help);
  if (help) {
    std::fputs(kUsage, stdout);
    return 0;
  }
  if (!st.ok()) {
    std::fprintf(stderr, "skipjoin simulate: %s\n", st.ToString().c_str());
    return st.code() == StatusCode::kInvalidArgument || st.code() == StatusCode::kNotFound ? 2 : 1;
  }
  return 0;
}

}  // namespace skipjoin::scheduler
