#include "client/bench/goodput.h"

#include <gtest/gtest.h>

namespace skipjoin::bench {
namespace {

TEST(GoodputTest, ParsesAnySubsetWithSpacesOrCommas) {
  auto all = ParseGoodput("ttft:500 tpot:50 e2el:2000");
  ASSERT_TRUE(all.ok()) << all.status().ToString();
  EXPECT_EQ(all->ttft_ms, 500.0);
  EXPECT_EQ(all->tpot_ms, 50.0);
  EXPECT_EQ(all->e2el_ms, 2000.0);
  auto one = ParseGoodput("tpot:12.5");
  ASSERT_TRUE(one.ok());
  EXPECT_FALSE(one->ttft_ms.has_value());
  EXPECT_EQ(one->tpot_ms, 12.5);
  EXPECT_FALSE(one->e2el_ms.has_value());
  auto commas = ParseGoodput("e2el:100,ttft:5");
  ASSERT_TRUE(commas.ok());
  EXPECT_EQ(commas->e2el_ms, 100.0);
  EXPECT_EQ(commas->ttft_ms, 5.0);
}

TEST(GoodputTest, ErrorsQuoteTheItemAndNameTheFlag) {
  struct Case {
    const char* spec;
    const char* says;
  };
  for (const Case& c :
       {Case{"ttfb:500", "unknown metric 'ttfb'"}, Case{"ttft=500", "is not NAME:MS"},
        Case{"ttft:fast", "positive number of milliseconds"}, Case{"ttft:-5", "positive number"},
        Case{"ttft:0", "positive number"}, Case{"ttft:", "positive number"},
        Case{"ttft:5 ttft:6", "twice"}, Case{"", "at least one"}, Case{" , ", "at least one"}}) {
    auto r = ParseGoodput(c.spec);
    ASSERT_FALSE(r.ok()) << c.spec;
    EXPECT_EQ(r.status().code(), StatusCode::kInvalidArgument);
    EXPECT_NE(r.status().message().find("--goodput"), std::string::npos) << r.status().message();
    EXPECT_NE(r.status().message().find(c.says), std::string::npos) << r.status().message();
  }
}

TEST(GoodputTest, ARequestIsGoodOnlyWhenItMeetsEveryGivenObjective) {
  GoodputSlo slo;
  slo.ttft_ms = 100;
  slo.tpot_ms = 10;
  EXPECT_TRUE(MeetsSlo(slo, 100, 10, 1e9));  // limits are inclusive; e2el is not constrained
  EXPECT_FALSE(MeetsSlo(slo, 101, 5, 0));
  EXPECT_FALSE(MeetsSlo(slo, 50, 10.5, 0));
  EXPECT_TRUE(MeetsSlo(GoodputSlo{}, 1e9, 1e9, 1e9));
}

}  // namespace
}  // namespace skipjoin::bench
