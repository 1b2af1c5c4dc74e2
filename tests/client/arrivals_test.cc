#include "client/bench/arrivals.h"

#include <gtest/gtest.h>

#include <cmath>
#include <limits>

namespace skipjoin::bench {
namespace {

struct GapStats {
  double mean = 0, cv = 0;
};

GapStats Gaps(const std::vector<double>& t) {
  std::vector<double> gaps;
  for (size_t i = 1; i < t.size(); ++i) gaps.push_back(t[i] - t[i - 1]);
  GapStats s;
  for (double g : gaps) s.mean += g;
  s.mean /= static_cast<double>(gaps.size());
  double var = 0;
  for (double g : gaps) var += (g - s.mean) * (g - s.mean);
  s.cv = std::sqrt(var / static_cast<double>(gaps.size())) / s.mean;
  return s;
}

TEST(ArrivalsTest, PoissonArrivalsHaveTheRateAndUnitCv) {
  const auto t = ArrivalOffsets(40001, {.request_rate = 10.0, .burstiness = 1.0, .seed = 1});
  ASSERT_EQ(t.size(), 40001u);
  EXPECT_EQ(t[0], 0.0);
  for (size_t i = 1; i < t.size(); ++i) ASSERT_GE(t[i], t[i - 1]);
  const GapStats s = Gaps(t);
  EXPECT_NEAR(s.mean, 0.1, 0.1 * 0.02);
  EXPECT_NEAR(s.cv, 1.0, 0.03);
  // 40000 gaps of mean 0.1 s: the run lasts about 4000 s.
  EXPECT_NEAR(t.back(), 4000.0, 4000.0 * 0.02);
}

TEST(ArrivalsTest, GammaCvIsOneOverSqrtBurstinessAtTheSameRate) {
  for (double b : {0.25, 0.5, 2.0, 4.0}) {
    const GapStats s =
        Gaps(ArrivalOffsets(40001, {.request_rate = 4.0, .burstiness = b, .seed = 3}));
    EXPECT_NEAR(s.mean, 0.25, 0.25 * 0.03) << "burstiness " << b;
    EXPECT_NEAR(s.cv, 1.0 / std::sqrt(b), 0.05 / std::sqrt(b)) << "burstiness " << b;
  }
}

TEST(ArrivalsTest, InfiniteRateSendsEverythingAtOnce) {
  const auto t = ArrivalOffsets(5, {.request_rate = std::numeric_limits<double>::infinity()});
  EXPECT_EQ(t, std::vector<double>(5, 0.0));
}

TEST(ArrivalsTest, SameSeedSameTimes) {
  const ArrivalOptions o{.request_rate = 2.0, .burstiness = 0.5, .seed = 11};
  EXPECT_EQ(ArrivalOffsets(100, o), ArrivalOffsets(100, o));
  ArrivalOptions other = o;
  other.seed = 12;
  EXPECT_NE(ArrivalOffsets(100, o), ArrivalOffsets(100, other));
}

TEST(ArrivalsTest, BadRateOrBurstinessNamesTheFlag) {
  EXPECT_NE(ValidateArrivalOptions({.request_rate = 0.0}).message().find("--request-rate"),
            std::string::npos);
  EXPECT_NE(ValidateArrivalOptions({.request_rate = -1.0}).message().find("--request-rate"),
            std::string::npos);
  EXPECT_NE(ValidateArrivalOptions({.request_rate = 1.0, .burstiness = 0.0})
                .message()
                .find("--burstiness"),
            std::string::npos);
  EXPECT_TRUE(
      ValidateArrivalOptions({.request_rate = std::numeric_limits<double>::infinity()}).ok());
}

}  // namespace
}  // namespace skipjoin::bench
