#include "client/bench/url.h"

#include <gtest/gtest.h>

namespace skipjoin::bench {
namespace {

TEST(UrlTest, ParsesHostPortAndPrefix) {
  auto u = ParseBaseUrl("http://127.0.0.1:8000");
  ASSERT_TRUE(u.ok()) << u.status().ToString();
  EXPECT_EQ(u->host, "127.0.0.1");
  EXPECT_EQ(u->port, 8000);
  EXPECT_EQ(u->prefix, "");
  EXPECT_EQ(u->ToString("/v1/models"), "http://127.0.0.1:8000/v1/models");

  auto p = ParseBaseUrl("http://gpu-box/serving/");
  ASSERT_TRUE(p.ok());
  EXPECT_EQ(p->port, 80);
  EXPECT_EQ(p->prefix, "/serving");
  EXPECT_EQ(p->HostHeader(), "gpu-box:80");

  auto v6 = ParseBaseUrl("http://[::1]:9000");
  ASSERT_TRUE(v6.ok());
  EXPECT_EQ(v6->host, "::1");
  EXPECT_EQ(v6->port, 9000);
  EXPECT_EQ(v6->HostHeader(), "[::1]:9000");
}

TEST(UrlTest, RejectsWhatThisClientCannotUseNamingTheFlag) {
  for (const char* bad :
       {"https://x:443", "127.0.0.1:8000", "http://", "http://:80", "http://h:0", "http://h:99999",
        "http://h:80x", "http://h:", "http://[::1", "http://u@h", "http://h/a?b=1"}) {
    auto u = ParseBaseUrl(bad);
    ASSERT_FALSE(u.ok()) << bad;
    EXPECT_NE(u.status().message().find("--base-url"), std::string::npos) << bad;
  }
  EXPECT_NE(ParseBaseUrl("https://x").status().message().find("TLS"), std::string::npos);
}

}  // namespace
}  // namespace skipjoin::bench
