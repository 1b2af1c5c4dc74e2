// Reading /metrics back for `skipjoin top`: the exposition parser, rates, and
// histogram quantiles over the observations between two scrapes.
#include "client/metrics_text.h"

#include <gtest/gtest.h>

#include <cmath>

#include "monitoring/coordinator_metrics.h"
#include "monitoring/metrics_server.h"

namespace skipjoin::cli {
namespace {

const char* kBefore =
    "# TYPE x_seconds histogram\n"
    "x_seconds_bucket{replica=\"r0\",le=\"0.1\"} 0\n"
    "x_seconds_bucket{replica=\"r0\",le=\"0.2\"} 2\n"
    "x_seconds_bucket{replica=\"r0\",le=\"0.5\"} 2\n"
    "x_seconds_bucket{replica=\"r0\",le=\"+Inf\"} 2\n"
    "requests_total{outcome=\"stop\"} 10 1700000000000\n"
    "requests_total{outcome=\"error\"} 1\n";
// 10 more observations: 4 in (0.1, 0.2], 4 in (0.2, 0.5], 2 above 0.5.
const char* kAfter =
    "x_seconds_bucket{replica=\"r0\",le=\"0.1\"} 0\n"
    "x_seconds_bucket{replica=\"r0\",le=\"0.2\"} 6\n"
    "x_seconds_bucket{replica=\"r0\",le=\"0.5\"} 10\n"
    "x_seconds_bucket{replica=\"r0\",le=\"+Inf\"} 12\n"
    "x_seconds_bucket{replica=\"r1\",le=\"0.1\"} 0\n"
    "x_seconds_bucket{replica=\"r1\",le=\"+Inf\"} 0\n"
    "requests_total{outcome=\"stop\"} 16\n"
    "requests_total{outcome=\"error\"} 1\n"
    "odd{path=\"a\\\"b\\\\c\"} NaN\n";

TEST(MetricsTextTest, ParsesLabelsValuesAndTimestamps) {
  auto a = MetricsScrape::Parse(kAfter);
  ASSERT_TRUE(a.ok()) << a.status().ToString();
  EXPECT_EQ(a->samples().size(), 9u);
  EXPECT_EQ(a->Sum("requests_total"), 17);
  EXPECT_EQ(a->Sum("requests_total", {{"outcome", "stop"}}), 16);
  EXPECT_TRUE(a->Has("odd", {{"path", "a\"b\\c"}}));
  EXPECT_TRUE(std::isnan(a->samples().back().value));
  EXPECT_EQ(a->LabelValues("x_seconds_bucket", "replica"), (std::vector<std::string>{"r0", "r1"}));
  auto b = MetricsScrape::Parse(kBefore);
  ASSERT_TRUE(b.ok()) << b.status().ToString();
  EXPECT_EQ(b->Sum("requests_total", {{"outcome", "stop"}}), 10);  // timestamp ignored
}

TEST(MetricsTextTest, MalformedLinesAreErrorsNamingTheLine) {
  EXPECT_EQ(MetricsScrape::Parse("ok 1\nbad{l=\"x} 2\n").status().message(),
            "metrics line 2: bad labels");
  EXPECT_EQ(MetricsScrape::Parse("# c\nx one\n").status().message(), "metrics line 2: bad value");
  EXPECT_EQ(MetricsScrape::Parse("novalue\n").status().message(), "metrics line 1: no value");
}

TEST(MetricsTextTest, RatesAndQuantilesCoverOnlyTheInterval) {
  auto before = *MetricsScrape::Parse(kBefore);
  auto after = *MetricsScrape::Parse(kAfter);
  EXPECT_DOUBLE_EQ(RatePerSecond(before, after, "requests_total", 2.0, {{"outcome", "stop"}}), 3);
  EXPECT_DOUBLE_EQ(RatePerSecond(after, before, "requests_total", 2.0), 0);  // went down
  // 10 new observations: the 5th is 1/4 into (0.2, 0.5].
  EXPECT_NEAR(HistogramQuantile(before, after, "x_seconds", 0.5), 0.275, 1e-12);
  EXPECT_NEAR(HistogramQuantile(before, after, "x_seconds", 0.2), 0.15, 1e-12);
  // The 99th falls in +Inf: the largest finite bound, as PromQL does.
  EXPECT_DOUBLE_EQ(HistogramQuantile(before, after, "x_seconds", 0.99), 0.5);
  // No new observations (and no series): NaN.
  EXPECT_TRUE(std::isnan(HistogramQuantile(after, after, "x_seconds", 0.5)));
  EXPECT_TRUE(std::isnan(HistogramQuantile(before, after, "x_seconds", 0.5, {{"replica", "r1"}})));
  EXPECT_TRUE(std::isnan(HistogramQuantile(before, after, "missing", 0.5)));
}

// The real exporter's text reads back, histogram quantile included.
TEST(MetricsTextTest, ReadsTheCoordinatorsExposition) {
  prometheus::Registry registry;
  monitoring::CoordinatorMetrics m(registry);
  m.RegisterReplica("replica-0");
  auto empty = *MetricsScrape::Parse(monitoring::RenderText(registry));
  for (int i = 0; i < 100; ++i) m.time_to_first_token().Observe(0.2);
  m.generation_tokens().Increment(42);
  auto now = MetricsScrape::Parse(monitoring::RenderText(registry));
  ASSERT_TRUE(now.ok()) << now.status().ToString();
  EXPECT_EQ(now->Sum("skipjoin_generation_tokens_total"), 42);
  EXPECT_EQ(now->LabelValues("skipjoin_kv_blocks_used", "replica"),
            std::vector<std::string>{"replica-0"});
  const double p50 = HistogramQuantile(empty, *now, "skipjoin_time_to_first_token_seconds", 0.5);
  EXPECT_GT(p50, 0.1);
  EXPECT_LE(p50, 0.25);  // within the bucket that holds 0.2
}

}  // namespace
}  // namespace skipjoin::cli
