#include "common/net_address.h"

#include <gtest/gtest.h>

namespace skipjoin {
namespace {

TEST(NetAddressTest, AcceptsIpv4AddressesAndHostNames) {
  for (const char* ok : {"10.0.0.1", "127.0.0.1", "localhost", "gpu-a", "w1.cluster.example",
                         "w1.cluster.example.", "a1-b2.c3"}) {
    EXPECT_EQ(HostSyntaxError(ok), "") << ok;
  }
}

TEST(NetAddressTest, RefusesWhatIsNeither) {
  EXPECT_EQ(HostSyntaxError(""), "must not be empty");
  EXPECT_EQ(HostSyntaxError("10.0.0.256"), "'10.0.0.256' is not an IPv4 address");
  EXPECT_EQ(HostSyntaxError("10.0.0"), "'10.0.0' is not an IPv4 address");
  EXPECT_EQ(HostSyntaxError("10.0.0.1:80"),
            "'10.0.0.1:80' is not an IPv4 address or host name (give the address alone, without "
            "a scheme or port)");
  for (const char* bad : {"a b", "-a", "a-", "a..b", ".a", "a_b", "*", "a.-b"}) {
    EXPECT_NE(HostSyntaxError(bad), "") << bad;
  }
  EXPECT_NE(HostSyntaxError(std::string(64, 'a')), "");  // a label longer than 63
  EXPECT_EQ(HostSyntaxError(std::string(63, 'a')), "");
}

TEST(NetAddressTest, WildcardsAreZeroAddressOrStar) {
  EXPECT_TRUE(IsWildcardHost("0.0.0.0"));
  EXPECT_TRUE(IsWildcardHost("*"));
  EXPECT_FALSE(IsWildcardHost("127.0.0.1"));
}

TEST(NetAddressTest, ResolvesWhatABindNeeds) {
  EXPECT_EQ(ResolveBindHost("0.0.0.0").value(), "0.0.0.0");
  EXPECT_EQ(ResolveBindHost("*").value(), "0.0.0.0");
  EXPECT_EQ(ResolveBindHost("10.9.8.7").value(), "10.9.8.7");  // as it is, not looked up
  auto local = ResolveBindHost("localhost");
  ASSERT_TRUE(local.ok()) << local.status().ToString();
  EXPECT_EQ(*local, "127.0.0.1");
  auto missing = ResolveBindHost("no-such-host.invalid");
  ASSERT_FALSE(missing.ok());
  EXPECT_EQ(missing.status().code(), StatusCode::kInvalidArgument);
  EXPECT_NE(missing.status().message().find("'no-such-host.invalid'"), std::string::npos)
      << missing.status().message();
}

}  // namespace
}  // namespace skipjoin
