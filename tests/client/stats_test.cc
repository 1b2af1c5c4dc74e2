#include "client/bench/stats.h"

#include <gtest/gtest.h>

#include <cmath>

namespace skipjoin::bench {
namespace {

TEST(StatsTest, PercentileInterpolatesBetweenRanksLikeNumpy) {
  const std::vector<double> v = {1, 2, 3, 4};
  EXPECT_DOUBLE_EQ(Percentile(v, 0), 1);
  EXPECT_DOUBLE_EQ(Percentile(v, 50), 2.5);
  EXPECT_NEAR(Percentile(v, 99), 3.97, 1e-12);  // numpy.percentile([1,2,3,4], 99)
  EXPECT_DOUBLE_EQ(Percentile(v, 100), 4);
  EXPECT_DOUBLE_EQ(Percentile({7}, 99.9), 7);
  EXPECT_DOUBLE_EQ(Percentile({}, 50), 0);
  std::vector<double> hundred;
  for (int i = 1; i <= 101; ++i) hundred.push_back(i);
  EXPECT_DOUBLE_EQ(Percentile(hundred, 99), 100);
  EXPECT_NEAR(Percentile(hundred, 99.9), 100.9, 1e-9);
}

TEST(StatsTest, SummarizeSortsAndUsesPopulationStd) {
  const Summary s = Summarize({4, 1, 3, 2});
  EXPECT_EQ(s.count, 4);
  EXPECT_DOUBLE_EQ(s.mean, 2.5);
  EXPECT_DOUBLE_EQ(s.median, 2.5);
  EXPECT_DOUBLE_EQ(s.std, std::sqrt(1.25));
  EXPECT_DOUBLE_EQ(s.max, 4);
  const Summary none = Summarize({});
  EXPECT_EQ(none.count, 0);
  EXPECT_EQ(none.mean, 0);
}

RequestRecord Ok(int64_t index, double start, double ttft, double e2el, int64_t in, int64_t out,
                 std::vector<double> itl) {
  RequestRecord r;
  r.index = index;
  r.success = true;
  r.http_status = 200;
  r.start_s = start;
  r.ttft_s = ttft;
  r.e2el_s = e2el;
  r.input_len = in;
  r.output_tokens = out;
  r.output_len_asked = out;
  r.itl_s = std::move(itl);
  return r;
}

TEST(StatsTest, TpotExcludesTheFirstToken) {
  RequestRecord r = Ok(0, 0, 0.1, 1.0, 10, 10, {});
  EXPECT_DOUBLE_EQ(RequestTpotSeconds(r), 0.1);  // (1.0 - 0.1) / 9
  r.output_tokens = 1;
  EXPECT_DOUBLE_EQ(RequestTpotSeconds(r), 0.0);
}

TEST(StatsTest, MetricsCountSuccessesAndAggregateLatencies) {
  std::vector<RequestRecord> records = {
      Ok(0, 0.0, 0.1, 1.0, 100, 10, std::vector<double>(9, 0.1)),
      Ok(1, 0.5, 0.3, 0.5, 50, 1, {}),  // one token: no TPOT sample
      Ok(2, 2.0, 0.2, 2.0, 10, 4, {0.6, 0.6, 0.6}),
  };
  RequestRecord failed;
  failed.index = 3;
  failed.http_status = 400;
  failed.error = "HTTP 400: bad";
  failed.start_s = 0.6;
  failed.e2el_s = 0.1;
  records.push_back(failed);

  GoodputSlo slo;
  slo.ttft_ms = 250;  // request 1 (300 ms) misses it
  slo.tpot_ms = 150;  // request 2 (600 ms per token) misses it
  const BenchMetrics m = ComputeMetrics(records, 4.0, &slo);
  EXPECT_EQ(m.completed, 3);
  EXPECT_EQ(m.failed, 1);
  EXPECT_EQ(m.total_input_tokens, 160);
  EXPECT_EQ(m.total_output_tokens, 15);
  EXPECT_DOUBLE_EQ(m.request_throughput, 0.75);
  EXPECT_DOUBLE_EQ(m.output_throughput, 15 / 4.0);
  EXPECT_DOUBLE_EQ(m.total_token_throughput, 175 / 4.0);
  EXPECT_TRUE(m.has_goodput);
  EXPECT_EQ(m.good_requests, 1);
  EXPECT_DOUBLE_EQ(m.goodput, 0.25);
  EXPECT_EQ(m.ttft_ms.count, 3);
  EXPECT_NEAR(m.ttft_ms.mean, 200, 1e-9);
  EXPECT_EQ(m.tpot_ms.count, 2);
  EXPECT_NEAR(m.tpot_ms.mean, (100 + 600) / 2.0, 1e-9);
  EXPECT_EQ(m.itl_ms.count, 12);
  EXPECT_NEAR(m.itl_ms.max, 600, 1e-9);
  EXPECT_NEAR(m.e2el_ms.median, 1000, 1e-9);
  // [0, 1], [0.5, 1.0] and the failed [0.6, 0.7] overlap; [2, 4] is alone.
  EXPECT_EQ(m.peak_concurrency, 3);
}

TEST(StatsTest, NoGoodputWithoutAnSlo) {
  const BenchMetrics m = ComputeMetrics({Ok(0, 0, 0.1, 0.2, 1, 2, {0.1})}, 1.0, nullptr);
  EXPECT_FALSE(m.has_goodput);
  EXPECT_EQ(m.good_requests, 0);
  GoodputSlo empty;
  EXPECT_FALSE(ComputeMetrics({}, 1.0, &empty).has_goodput);
}

TEST(StatsTest, BackToBackRequestsDoNotOverlap) {
  const BenchMetrics m =
      ComputeMetrics({Ok(0, 0, 0.1, 1.0, 1, 2, {}), Ok(1, 1.0, 0.1, 1.0, 1, 2, {})}, 2.0, nullptr);
  EXPECT_EQ(m.peak_concurrency, 1);
}

}  // namespace
}  // namespace skipjoin::bench
