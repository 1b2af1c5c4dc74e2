// `skipjoin top`: a terminal view of a running cluster, refreshed every
// --interval-ms from the coordinator's /metrics: rates and latency
// percentiles over the last interval, queues, and per replica KV use and step
// figures; with --config also one row per worker from each worker's own
// /metrics. Needs no Prometheus.
#include <unistd.h>

#include <chrono>
#include <cmath>
#include <cstdio>
#include <ctime>
#include <string>
#include <thread>

#include "client/cluster_client.h"
#include "client/commands.h"
#include "client/metrics_text.h"
#include "client/prometheus_setup.h"
#include "common/config/cluster_config.h"
#include "common/flags.h"

namespace skipjoin::cli {
namespace {

constexpr const char* kUsage =
    "usage: skipjoin top [--config CONFIG | --metrics HOST:PORT] [--interval-ms N] "
    "[--iterations N]\n"
    "\n"
    "Shows the cluster's request rates, latency percentiles over the last\n"
    "interval, queues and per-replica KV and step figures, read from the\n"
    "coordinator's /metrics (metrics.coordinator_port of the config). With\n"
    "--config, also one row per worker from its own /metrics\n"
    "(metrics.worker_port_base + k on its node).";

std::string Fmt(const char* format, double v) {
  char buf[64];
  std::snprintf(buf, sizeof buf, format, v);
  return buf;
}

// Durations as µs, ms, s; "-" without observations.
std::string Seconds(double s) {
  if (!std::isfinite(s)) return "-";
  if (s < 1e-3) return Fmt("%.0f µs", s * 1e6);
  if (s < 1) return Fmt("%.0f ms", s * 1e3);
  return Fmt("%.2f s", s);
}

// Counts and rates without SI prefixes below 1000 (0.055, not 55m).
std::string Number(double v) {
  if (!std::isfinite(v)) return "-";
  if (std::fabs(v) >= 1e6) return Fmt("%.1fM", v / 1e6);
  if (std::fabs(v) >= 1e4) return Fmt("%.1fk", v / 1e3);
  if (v == std::floor(v)) return Fmt("%.0f", v);
  return Fmt("%.3g", v);
}

std::string Bytes(double b) {
  const char* units[] = {"B", "KiB", "MiB", "GiB", "TiB"};
  int i = 0;
  while (b >= 1024 && i < 4) b /= 1024, ++i;
  return Fmt(i == 0 ? "%.0f" : "%.1f", b) + " " + units[i];
}

Result<MetricsScrape> Scrape(const std::string& host, int port,
                             std::chrono::milliseconds timeout = std::chrono::milliseconds(5000)) {
  std::string body;
  auto code = HttpGet(host, port, "/metrics", timeout, &body);
  if (!code.ok()) return code.status();
  if (*code != 200) return Unavailable("GET /metrics answered HTTP " + std::to_string(*code));
  return MetricsScrape::Parse(body);
}

void Print(const std::string& where, double seconds, const MetricsScrape& a,
           const MetricsScrape& b) {
  auto rate = [&](const std::string& name, const LabelFilter& f = {}) {
    return RatePerSecond(a, b, name, seconds, f);
  };
  auto q = [&](const std::string& base, double quantile, const LabelFilter& f = {}) {
    return HistogramQuantile(a, b, base, quantile, f);
  };
  const std::time_t now = std::time(nullptr);
  char clock[16];
  std::strftime(clock, sizeof clock, "%H:%M:%S", std::localtime(&now));
  std::printf("skipjoin top  %s  over the last %.1f s  (%s)\n", where.c_str(), seconds, clock);
  std::printf("replicas up %s/%zu   workers up %s/%zu   running %s   waiting %s   swapped %s\n",
              Number(b.Sum("skipjoin_replica_up")).c_str(),
              b.LabelValues("skipjoin_replica_up", "replica").size(),
              Number(b.Sum("skipjoin_worker_up")).c_str(),
              b.LabelValues("skipjoin_worker_up", "worker").size(),
              Number(b.Sum("skipjoin_requests_running")).c_str(),
              Number(b.Sum("skipjoin_requests_waiting")).c_str(),
              Number(b.Sum("skipjoin_requests_swapped")).c_str());
  std::printf("requests/s %s   prompt tok/s %s   generated tok/s %s   errors/s %s\n",
              Number(rate("skipjoin_requests_received_total")).c_str(),
              Number(rate("skipjoin_prompt_tokens_total")).c_str(),
              Number(rate("skipjoin_generation_tokens_total")).c_str(),
              Number(rate("skipjoin_requests_total", {{"outcome", "error"}})).c_str());
  std::printf("TTFT p50 %s p99 %s   TPOT p50 %s p99 %s   ITL p99 %s   E2E p50 %s p99 %s\n",
              Seconds(q("skipjoin_time_to_first_token_seconds", 0.5)).c_str(),
              Seconds(q("skipjoin_time_to_first_token_seconds", 0.99)).c_str(),
              Seconds(q("skipjoin_time_per_output_token_seconds", 0.5)).c_str(),
              Seconds(q("skipjoin_time_per_output_token_seconds", 0.99)).c_str(),
              Seconds(q("skipjoin_inter_token_latency_seconds", 0.99)).c_str(),
              Seconds(q("skipjoin_e2e_request_latency_seconds", 0.5)).c_str(),
              Seconds(q("skipjoin_e2e_request_latency_seconds", 0.99)).c_str());
  std::printf("\n%-12s %-3s %-16s %-10s %-8s %-9s %-9s %-8s %s\n", "replica", "up", "KV device",
              "KV host", "steps/s", "step p50", "tok/step", "preempt", "swapped out");
  for (const std::string& r : b.LabelValues("skipjoin_replica_up", "replica")) {
    const LabelFilter at{{"replica", r}};
    LabelFilter device = at, host = at;
    device["pool"] = "device";
    host["pool"] = "host";
    const double dev_used = b.Sum("skipjoin_kv_blocks_used", device);
    const double dev_total = dev_used + b.Sum("skipjoin_kv_blocks_free", device);
    const double host_used = b.Sum("skipjoin_kv_blocks_used", host);
    const double host_total = host_used + b.Sum("skipjoin_kv_blocks_free", host);
    const double steps = rate("skipjoin_step_tokens_count", at);
    const double tokens_per_step = steps > 0 ? rate("skipjoin_step_tokens_sum", at) / steps : NAN;
    LabelFilter out = at;
    out["direction"] = "out";
    const std::string kv = Number(dev_used) + "/" + Number(dev_total) + " " +
                           Fmt("%.0f%%", dev_total > 0 ? 100 * dev_used / dev_total : 0);
    std::printf(
        "%-12s %-3s %-16s %-10s %-8s %-9s %-9s %-8s %s\n", r.c_str(),
        Number(b.Sum("skipjoin_replica_up", at)).c_str(), kv.c_str(),
        (Number(host_used) + "/" + Number(host_total)).c_str(), Number(steps).c_str(),
        Seconds(q("skipjoin_step_duration_seconds", 0.5, at)).c_str(),
        Number(tokens_per_step).c_str(),
        Number(b.Sum("skipjoin_preemptions_total", at) - a.Sum("skipjoin_preemptions_total", at))
            .c_str(),
        Bytes(b.Sum("skipjoin_swap_bytes_total", out) - a.Sum("skipjoin_swap_bytes_total", out))
            .c_str());
  }
  std::fflush(stdout);
}

// One worker's /metrics, this screen's and the last one's.
struct WorkerView {
  WorkerEndpoint endpoint;
  Result<MetricsScrape> before = Unavailable("not scraped yet");
  Result<MetricsScrape> now = Unavailable("not scraped yet");
};

void ScrapeWorkers(std::vector<WorkerView>* workers) {
  for (WorkerView& w : *workers) {
    w.before = std::move(w.now);
    w.now = Scrape(w.endpoint.host, w.endpoint.metrics_port, std::chrono::milliseconds(1000));
  }
}

// Worker rows: liveness as the coordinator sees it, then what the worker
// itself reports over the interval.
void PrintWorkers(double seconds, const MetricsScrape& coordinator,
                  const std::vector<WorkerView>& workers) {
  std::printf("\n%-18s %-3s %-8s %-9s %-10s %-10s %-10s %s\n", "worker", "up", "steps/s",
              "step p50", "tok in/s", "tok out/s", "swap blk/s", "KV pool (device + host blocks)");
  for (const WorkerView& w : workers) {
    const std::string up =
        Number(coordinator.Sum("skipjoin_worker_up", {{"worker", w.endpoint.worker}}));
    if (!w.now.ok() || !w.before.ok()) {
      const Status& why = !w.now.ok() ? w.now.status() : w.before.status();
      std::printf("%-18s %-3s %s:%d/metrics: %s\n", w.endpoint.worker.c_str(), up.c_str(),
                  w.endpoint.host.c_str(), w.endpoint.metrics_port, why.message().c_str());
      continue;
    }
    const MetricsScrape& a = *w.before;
    const MetricsScrape& b = *w.now;
    std::printf(
        "%-18s %-3s %-8s %-9s %-10s %-10s %-10s %s\n", w.endpoint.worker.c_str(), up.c_str(),
        Number(RatePerSecond(a, b, "skipjoin_worker_steps_total", seconds, {{"outcome", "ok"}}))
            .c_str(),
        Seconds(HistogramQuantile(a, b, "skipjoin_worker_step_execution_seconds", 0.5, {})).c_str(),
        Number(RatePerSecond(a, b, "skipjoin_worker_tokens_processed_total", seconds, {})).c_str(),
        Number(RatePerSecond(a, b, "skipjoin_worker_tokens_sampled_total", seconds, {})).c_str(),
        Number(RatePerSecond(a, b, "skipjoin_worker_swap_blocks_total", seconds, {})).c_str(),
        (Number(b.Sum("skipjoin_worker_kv_blocks_allocated", {{"pool", "device"}})) + " + " +
         Number(b.Sum("skipjoin_worker_kv_blocks_allocated", {{"pool", "host"}})))
            .c_str());
  }
  std::fflush(stdout);
}

}  // namespace

int TopMain(const std::vector<std::string>& args) {
  std::string config_path, metrics;
  int64_t interval_ms = 2000, iterations = 0;
  FlagSet flags(kUsage);
  flags.String("config", &config_path, "cluster config (its coordinator host and metrics port)");
  flags.String("metrics", &metrics, "HOST:PORT of the coordinator's /metrics instead");
  flags.Int("interval-ms", &interval_ms, "time between screens, ms");
  flags.Int("iterations", &iterations, "screens to show, then exit (0: until Ctrl-C)");
  if (Status st = flags.Parse(args); !st.ok()) {
    std::fprintf(stderr, "skipjoin top: %s\n", st.message().c_str());
    return 2;
  }
  if (flags.help_requested()) {
    std::printf("%s", flags.Help().c_str());
    return 0;
  }
  if (interval_ms < 100 || iterations < 0) {
    std::fprintf(stderr, "skipjoin top: --interval-ms must be >= 100 and --iterations >= 0\n");
    return 2;
  }
  std::string host = "127.0.0.1";
  int port = 9400;
  std::vector<WorkerView> workers;
  if (!metrics.empty()) {
    const size_t colon = metrics.rfind(':');
    const int p = colon == std::string::npos ? 0 : std::atoi(metrics.c_str() + colon + 1);
    if (p <= 0 || p > 65535) {
      std::fprintf(stderr, "skipjoin top: --metrics wants HOST:PORT, got '%s'\n", metrics.c_str());
      return 2;
    }
    host = metrics.substr(0, colon);
    port = p;
  } else if (!config_path.empty()) {
    auto cfg = config::LoadClusterConfig(config_path);
    if (!cfg.ok()) {
      std::fprintf(stderr, "skipjoin top: %s\n", cfg.status().message().c_str());
      return 2;
    }
    host = cfg->coordinator.host;
    port = cfg->metrics.coordinator_port;
    for (WorkerEndpoint& e : ServingWorkers(*cfg)) workers.push_back({std::move(e)});
  }
  const std::string where = host + ":" + std::to_string(port);
  auto before = Scrape(host, port);
  if (!before.ok()) {
    std::fprintf(stderr, "skipjoin top: %s/metrics: %s\n", where.c_str(),
                 before.status().message().c_str());
    return 1;
  }
  ScrapeWorkers(&workers);
  auto taken = std::chrono::steady_clock::now();
  const bool tty = isatty(STDOUT_FILENO) != 0;
  for (int64_t i = 0; iterations == 0 || i < iterations; ++i) {
    std::this_thread::sleep_for(std::chrono::milliseconds(interval_ms));
    auto now = Scrape(host, port);
    ScrapeWorkers(&workers);
    const auto at = std::chrono::steady_clock::now();
    if (!now.ok()) {
      std::fprintf(stderr, "skipjoin top: %s/metrics: %s\n", where.c_str(),
                   now.status().message().c_str());
      return 1;
    }
    if (tty) std::printf("\x1b[H\x1b[2J");
    if (!tty && i > 0) std::printf("\n");
    const double seconds = std::chrono::duration<double>(at - taken).count();
    Print(where, seconds, *before, *now);
    if (!workers.empty()) PrintWorkers(seconds, *now, workers);
    before = std::move(now);
    taken = at;
  }
  return 0;
}

}  // namespace skipjoin::cli
