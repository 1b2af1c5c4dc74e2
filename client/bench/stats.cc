#include "client/bench/stats.h"

#include <algorithm>
#include <cmath>
#include <numeric>
#include <utility>

namespace skipjoin::bench {

double RequestTpotSeconds(const RequestRecord& r) {
  if (r.output_tokens <= 1) return 0.0;
  return (r.e2el_s - r.ttft_s) / static_cast<double>(r.output_tokens - 1);
}

double Percentile(const std::vector<double>& sorted, double p) {
  if (sorted.empty()) return 0.0;
  const double rank = std::clamp(p, 0.0, 100.0) / 100.0 * static_cast<double>(sorted.size() - 1);
  const auto lo = static_cast<size_t>(std::floor(rank));
  const size_t hi = std::min(lo + 1, sorted.size() - 1);
  const double frac = rank - static_cast<double>(lo);
  return sorted[lo] + (sorted[hi] - sorted[lo]) * frac;
}

Summary Summarize(std::vector<double> values) {
  Summary s;
  if (values.empty()) return s;
  std::sort(values.begin(), values.end());
  const double n = static_cast<double>(values.size());
  s.count = static_cast<int64_t>(values.size());
  s.mean = std::accumulate(values.begin(), values.end(), 0.0) / n;
  double sq = 0;
  for (double v : values) sq += (v - s.mean) * (v - s.mean);
  s.std = std::sqrt(sq / n);  // population std, as numpy's default
  s.median = Percentile(values, 50);
  s.p99 = Percentile(values, 99);
  s.p999 = Percentile(values, 99.9);
  s.max = values.back();
  return s;
}

namespace {

// The most requests whose [start, start + e2el] intervals overlap.
int64_t PeakConcurrency(const std::vector<RequestRecord>& records) {
  std::vector<std::pair<double, int>> edges;
  edges.reserve(records.size() * 2);
  for (const RequestRecord& r : records) {
    edges.emplace_back(r.start_s, +1);
    edges.emplace_back(r.start_s + r.e2el_s, -1);
  }
  // At equal times ends sort before starts: a request that ends exactly when
  // another starts does not overlap it.
  std::sort(edges.begin(), edges.end());
  int64_t now = 0, peak = 0;
  for (const auto& [t, delta] : edges) {
    now += delta;
    peak = std::max(peak, now);
  }
  return peak;
}

}  // namespace

BenchMetrics ComputeMetrics(const std::vector<RequestRecord>& records, double duration_s,
                            const GoodputSlo* slo) {
  BenchMetrics m;
  m.duration_s = duration_s;
  m.has_goodput = slo != nullptr && !slo->empty();
  std::vector<double> ttft, tpot, itl, e2el;
  for (const RequestRecord& r : records) {
    if (!r.success) {
      ++m.failed;
      continue;
    }
    ++m.completed;
    m.total_input_tokens += r.input_len;
    m.total_output_tokens += r.output_tokens;
    const double tpot_s = RequestTpotSeconds(r);
    ttft.push_back(r.ttft_s * 1e3);
    e2el.push_back(r.e2el_s * 1e3);
    if (r.output_tokens > 1) tpot.push_back(tpot_s * 1e3);
    for (double gap : r.itl_s) itl.push_back(gap * 1e3);
    if (m.has_goodput && MeetsSlo(*slo, r.ttft_s * 1e3, tpot_s * 1e3, r.e2el_s * 1e3)) {
      ++m.good_requests;
    }
  }
  if (duration_s > 0) {
    m.request_throughput = static_cast<double>(m.completed) / duration_s;
    m.output_throughput = static_cast<double>(m.total_output_tokens) / duration_s;
    m.total_token_throughput =
        static_cast<double>(m.total_input_tokens + m.total_output_tokens) / duration_s;
    m.goodput = static_cast<double>(m.good_requests) / duration_s;
  }
  m.peak_concurrency = PeakConcurrency(records);
  m.ttft_ms = Summarize(std::move(ttft));
  m.tpot_ms = Summarize(std::move(tpot));
  m.itl_ms = Summarize(std::move(itl));
  m.e2el_ms = Summarize(std::move(e2el));
  return m;
}

}  // namespace skipjoin::bench
