#include "client/bench/report.h"

#include <algorithm>
#include <chrono>
#include <cmath>
#include <cstdio>
#include <ctime>
#include <map>

namespace skipjoin::bench {

namespace {

using nlohmann::json;

constexpr int kWidth = 50;

std::string Banner(const std::string& title, char fill) {
  const std::string t = title.empty() ? "" : " " + title + " ";
  const size_t left = (kWidth - std::min<size_t>(t.size(), kWidth)) / 2;
  const size_t right = kWidth - std::min<size_t>(t.size() + left, kWidth);
  return std::string(left, fill) + t + std::string(right, fill) + "\n";
}

std::string Row(const std::string& label, const std::string& value) {
  char line[160];
  std::snprintf(line, sizeof(line), "%-40s %s\n", label.c_str(), value.c_str());
  return line;
}
std::string Row(const std::string& label, double value) {
  char text[64];
  std::snprintf(text, sizeof(text), "%.2f", value);
  return Row(label, std::string(text));
}
std::string Row(const std::string& label, int64_t value) {
  return Row(label, std::to_string(value));
}

std::string MetricBlock(const std::string& title, const std::string& name, const Summary& s,
                        bool tail) {
  std::string out = Banner(title, '-');
  out += Row("Mean " + name + " (ms):", s.mean);
  out += Row("Median " + name + " (ms):", s.median);
  out += Row("P99 " + name + " (ms):", s.p99);
  if (tail) {
    out += Row("P99.9 " + name + " (ms):", s.p999);
    out += Row("Max " + name + " (ms):", s.max);
  }
  return out;
}

void PutSummary(json& j, const std::string& name, const Summary& s) {
  j["mean_" + name + "_ms"] = s.mean;
  j["median_" + name + "_ms"] = s.median;
  j["std_" + name + "_ms"] = s.std;
  j["p99_" + name + "_ms"] = s.p99;
  j["p99.9_" + name + "_ms"] = s.p999;
  j["max_" + name + "_ms"] = s.max;
}

std::string Now() {
  const std::time_t t = std::time(nullptr);
  std::tm tm{};
  localtime_r(&t, &tm);
  char text[32];
  std::strftime(text, sizeof(text), "%Y%m%d-%H%M%S", &tm);
  return text;
}

// JSON has no infinity: inf becomes the string "inf".
json Rate(double rate) { return std::isinf(rate) ? json("inf") : json(rate); }

}  // namespace

std::string FormatReport(const BenchMetrics& m, const BenchServeOptions& o) {
  std::string out = Banner("Serving Benchmark Result", '=');
  out += Row("Successful requests:", m.completed);
  out += Row("Failed requests:", m.failed);
  if (o.max_concurrency > 0) out += Row("Maximum request concurrency:", o.max_concurrency);
  if (!std::isinf(o.arrivals.request_rate)) {
    out += Row("Request rate configured (RPS):", o.arrivals.request_rate);
  }
  out += Row("Benchmark duration (s):", m.duration_s);
  out += Row("Total input tokens:", m.total_input_tokens);
  out += Row("Total generated tokens:", m.total_output_tokens);
  out += Row("Request throughput (req/s):", m.request_throughput);
  if (m.has_goodput) out += Row("Request goodput (req/s):", m.goodput);
  out += Row("Output token throughput (tok/s):", m.output_throughput);
  out += Row("Total token throughput (tok/s):", m.total_token_throughput);
  out += Row("Peak concurrent requests:", m.peak_concurrency);
  out += MetricBlock("Time to First Token", "TTFT", m.ttft_ms, false);
  out += MetricBlock("Time per Output Token (excl. 1st token)", "TPOT", m.tpot_ms, false);
  out += MetricBlock("Inter-token Latency", "ITL", m.itl_ms, true);
  out += MetricBlock("End-to-end Latency", "E2EL", m.e2el_ms, false);
  out += std::string(kWidth, '=') + "\n";
  return out;
}

std::string FormatErrors(const std::vector<RequestRecord>& records, size_t max_kinds) {
  std::map<std::string, int64_t> counts;
  for (const RequestRecord& r : records) {
    if (!r.success) ++counts[r.error];
  }
  if (counts.empty()) return "";
  std::vector<std::pair<int64_t, std::string>> sorted;
  for (auto& [error, n] : counts) sorted.emplace_back(n, error);
  std::stable_sort(sorted.begin(), sorted.end(),
                   [](const auto& a, const auto& b) { return a.first > b.first; });
  std::string out = "Errors:\n";
  for (size_t i = 0; i < sorted.size() && i < max_kinds; ++i) {
    out += "  " + std::to_string(sorted[i].first) + " x " + sorted[i].second + "\n";
  }
  if (sorted.size() > max_kinds) {
    out += "  ... and " + std::to_string(sorted.size() - max_kinds) + " other kinds (see --json)\n";
  }
  return out;
}

json ResultJson(const BenchMetrics& m, const BenchServeOptions& o, const std::string& model,
                const std::vector<RequestRecord>& records) {
  json j;
  j["date"] = Now();
  j["backend"] = o.flavor == ApiFlavor::kChat ? "openai-chat" : "openai";
  j["base_url"] = o.url.ToString();
  j["endpoint"] = o.endpoint;
  j["model_id"] = model;
  j["num_prompts"] = o.dataset.num_prompts;
  j["dataset"] = {
      {"name", DatasetKindName(o.dataset.kind)},
      {"input_len", o.dataset.input_len},
      {"output_len", o.dataset.output_len},
      {"range_ratio", o.dataset.range_ratio},
      {"pareto_alpha", o.dataset.pareto_alpha},
      {"max_output_len", o.dataset.max_output_len},
      {"prompt_format", o.dataset.prompt_format == PromptFormat::kTokenIds ? "ids" : "text"},
      {"vocab_low", o.dataset.vocab_low},
      {"vocab_high", o.dataset.vocab_high}};
  j["seed"] = o.dataset.seed;
  j["request_rate"] = Rate(o.arrivals.request_rate);
  j["burstiness"] = o.arrivals.burstiness;
  j["max_concurrency"] = o.max_concurrency > 0 ? json(o.max_concurrency) : json(nullptr);
  j["ignore_eos"] = o.ignore_eos;
  json slo = json::object();
  if (o.goodput.ttft_ms) slo["ttft"] = *o.goodput.ttft_ms;
  if (o.goodput.tpot_ms) slo["tpot"] = *o.goodput.tpot_ms;
  if (o.goodput.e2el_ms) slo["e2el"] = *o.goodput.e2el_ms;
  j["goodput_slo_ms"] = slo;

  j["completed"] = m.completed;
  j["failed"] = m.failed;
  j["duration"] = m.duration_s;
  j["total_input_tokens"] = m.total_input_tokens;
  j["total_output_tokens"] = m.total_output_tokens;
  j["request_throughput"] = m.request_throughput;
  j["request_goodput"] = m.has_goodput ? json(m.goodput) : json(nullptr);
  j["output_throughput"] = m.output_throughput;
  j["total_token_throughput"] = m.total_token_throughput;
  j["peak_concurrent_requests"] = m.peak_concurrency;
  PutSummary(j, "ttft", m.ttft_ms);
  PutSummary(j, "tpot", m.tpot_ms);
  PutSummary(j, "itl", m.itl_ms);
  PutSummary(j, "e2el", m.e2el_ms);

  json requests = json::array();
  for (const RequestRecord& r : records) {
    json itl = json::array();
    for (double gap : r.itl_s) itl.push_back(gap * 1e3);
    requests.push_back({{"index", r.index},
                        {"success", r.success},
                        {"http_status", r.http_status},
                        {"error", r.error},
                        {"input_len", r.input_len},
                        {"output_len_asked", r.output_len_asked},
                        {"output_tokens", r.output_tokens},
                        {"start_s", r.start_s},
                        {"ttft_ms", r.success ? json(r.ttft_s * 1e3) : json(nullptr)},
                        {"tpot_ms", r.success ? json(RequestTpotSeconds(r) * 1e3) : json(nullptr)},
                        {"e2el_ms", r.e2el_s * 1e3},
                        {"itl_ms", itl}});
  }
  j["requests"] = std::move(requests);
  return j;
}

}  // namespace skipjoin::bench
