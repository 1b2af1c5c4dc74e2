// Advertised and bind addresses: coordinator.host / coordinator.bind and
// nodes[].host / nodes[].bind (docs/CONFIGURATION.md).
#include <gtest/gtest.h>

#include <string>
#include <vector>

#include "common/config/cluster_config.h"

namespace skipjoin::config {
namespace {

std::string TwoNodes(const std::string& coordinator, const std::string& n1_extra = "") {
  return "name: t\n"
         "coordinator: {node: n0" +
         coordinator +
         "}\n"
         "nodes:\n"
         "  - {name: n0, host: 10.1.0.1, devices: [{kind: cpu}]}\n"
         "  - {name: n1, host: w1.cluster.example" +
         n1_extra +
         ", devices: [{kind: cpu}]}\n"
         "model: {path: /m/tiny.gguf}\n"
         "replicas: {count: 2}\n";
}

Result<ClusterConfig> Parse(const std::string& yaml, const std::vector<std::string>& sets = {}) {
  return ParseClusterConfig(yaml, "t.yaml", sets);
}

std::string ErrorOf(const std::string& yaml, const std::vector<std::string>& sets = {}) {
  auto r = Parse(yaml, sets);
  if (r.ok()) return "OK";
  EXPECT_EQ(r.status().code(), StatusCode::kInvalidArgument);
  return r.status().message();
}

TEST(HostConfigTest, BindDefaultsToTheAdvertisedHost) {
  auto c = Parse(TwoNodes(""));
  ASSERT_TRUE(c.ok()) << c.status().ToString();
  EXPECT_EQ(c->coordinator.host, "10.1.0.1");
  EXPECT_EQ(c->coordinator.bind, "10.1.0.1");
  EXPECT_EQ(c->nodes[0].bind, "10.1.0.1");
  // Host names are addresses too.
  EXPECT_EQ(c->nodes[1].host, "w1.cluster.example");
  EXPECT_EQ(c->nodes[1].bind, "w1.cluster.example");
}

TEST(HostConfigTest, WildcardBindKeepsTheAdvertisedAddress) {
  auto c = Parse(TwoNodes(", bind: 0.0.0.0", ", bind: '*'"));
  ASSERT_TRUE(c.ok()) << c.status().ToString();
  EXPECT_EQ(c->coordinator.bind, "0.0.0.0");
  EXPECT_EQ(c->coordinator.host, "10.1.0.1");
  EXPECT_EQ(c->nodes[1].bind, "*");
  EXPECT_EQ(c->nodes[1].host, "w1.cluster.example");
}

TEST(HostConfigTest, CoordinatorBindFollowsItsNodesBindOrItsOwnHost) {
  // The node's bind, when the file sets it.
  auto c = Parse(TwoNodes(""), {"nodes.0.bind=0.0.0.0"});
  ASSERT_TRUE(c.ok()) << c.status().ToString();
  EXPECT_EQ(c->coordinator.bind, "0.0.0.0");
  EXPECT_EQ(c->coordinator.host, "10.1.0.1");
  // Else coordinator.host, as before bind existed.
  c = Parse(TwoNodes(", host: coord.cluster.example"));
  ASSERT_TRUE(c.ok()) << c.status().ToString();
  EXPECT_EQ(c->coordinator.host, "coord.cluster.example");
  EXPECT_EQ(c->coordinator.bind, "coord.cluster.example");
  // Its own key wins.
  c = Parse(TwoNodes(", bind: 10.1.0.9"), {"nodes.0.bind=0.0.0.0"});
  ASSERT_TRUE(c.ok()) << c.status().ToString();
  EXPECT_EQ(c->coordinator.bind, "10.1.0.9");
}

TEST(HostConfigTest, BadAddressesNameTheirKey) {
  EXPECT_EQ(ErrorOf(TwoNodes(", host: 0.0.0.0")),
            "t.yaml:2: coordinator.host: '0.0.0.0' is not an address others can dial; set it to "
            "the address they reach this machine at and coordinator.bind: 0.0.0.0 to listen on "
            "every interface");
  EXPECT_EQ(ErrorOf(TwoNodes("", ""), {"nodes.1.host=0.0.0.0"}),
            "command line: nodes[1].host: '0.0.0.0' is not an address others can dial; set it to "
            "the address they reach this machine at and nodes[1].bind: 0.0.0.0 to listen on "
            "every interface");
  EXPECT_EQ(ErrorOf(TwoNodes(", bind: 'tcp://10.1.0.1:5556'")),
            "t.yaml:2: coordinator.bind: 'tcp://10.1.0.1:5556' is not an IPv4 address or host "
            "name (give the address alone, without a scheme or port) (or 0.0.0.0 for every "
            "interface)");
  EXPECT_EQ(ErrorOf(TwoNodes("", ", bind: 10.1.0.300")),
            "t.yaml:5: nodes[1].bind: '10.1.0.300' is not an IPv4 address (or 0.0.0.0 for every "
            "interface)");
  EXPECT_EQ(ErrorOf(TwoNodes(""), {"nodes.0.host=my host"}),
            "command line: nodes[0].host: 'my host' is not an IPv4 address or host name");
  EXPECT_EQ(ErrorOf(TwoNodes(""), {"nodes.1.host=-bad.example"}),
            "command line: nodes[1].host: '-bad.example' is not an IPv4 address or host name");
  EXPECT_EQ(ErrorOf(TwoNodes(", bind: ''")), "t.yaml:2: coordinator.bind: must not be empty");
}

// Each process may bind differently (a --set on one node) and still belong
// to the same cluster: the id covers what others dial, not what one binds.
TEST(HostConfigTest, BindAddressesAreNotPartOfTheClusterId) {
  auto plain = Parse(TwoNodes(""));
  auto bound = Parse(TwoNodes(""), {"coordinator.bind=0.0.0.0", "nodes.1.bind=0.0.0.0"});
  auto moved = Parse(TwoNodes(""), {"coordinator.host=10.1.0.2"});
  ASSERT_TRUE(plain.ok() && bound.ok() && moved.ok());
  EXPECT_EQ(ClusterId(*plain), ClusterId(*bound));
  EXPECT_NE(ClusterId(*plain), ClusterId(*moved));
}

}  // namespace
}  // namespace skipjoin::config
