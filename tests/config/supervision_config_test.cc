// The `supervision:` section: defaults, each key, and errors that name the
// file, the line and the key.
#include <gtest/gtest.h>

#include <string>

#include "common/config/cluster_config.h"

namespace skipjoin::config {
namespace {

// A one-worker cluster on lines 1..4; the section under test starts on line 5.
Result<ClusterConfig> WithSupervision(const std::string& section) {
  return ParseClusterConfig(
      "name: s\n"
      "nodes: [{name: a, host: 127.0.0.1, devices: [{kind: cpu}]}]\n"
      "model: {path: /m/tiny.gguf}\n"
      "replicas: {count: 1, tp: 1}\n" +
          section,
      "s.yaml");
}

std::string SupervisionError(const std::string& section) {
  auto r = WithSupervision(section);
  return r.ok() ? "OK" : r.status().message();
}

TEST(SupervisionConfigTest, RestartsWithHalfASecondDoublingToThirtyByDefault) {
  auto c = WithSupervision("");
  ASSERT_TRUE(c.ok()) << c.status().ToString();
  EXPECT_TRUE(c->supervision.restart);
  EXPECT_EQ(c->supervision.backoff_initial_ms, 500u);
  EXPECT_EQ(c->supervision.backoff_max_ms, 30000u);
  EXPECT_EQ(c->supervision.stable_after_ms, 60000u);
  EXPECT_EQ(c->supervision.max_restarts, 5u);
}

TEST(SupervisionConfigTest, ReadsEveryKey) {
  auto c = WithSupervision(
      "supervision: {restart: false, backoff_initial_ms: 100, backoff_max_ms: 800,\n"
      "  stable_after_ms: 5000, max_restarts: 2}\n");
  ASSERT_TRUE(c.ok()) << c.status().ToString();
  EXPECT_FALSE(c->supervision.restart);
  EXPECT_EQ(c->supervision.backoff_initial_ms, 100u);
  EXPECT_EQ(c->supervision.backoff_max_ms, 800u);
  EXPECT_EQ(c->supervision.stable_after_ms, 5000u);
  EXPECT_EQ(c->supervision.max_restarts, 2u);
  // A --set reaches the section like any other.
  auto set = ParseClusterConfig(
      "name: s\nnodes: [{name: a, host: h, devices: [{kind: cpu}]}]\n"
      "model: {path: /m}\nreplicas: {count: 1, tp: 1}\n",
      "s.yaml", {"supervision.max_restarts=9"});
  ASSERT_TRUE(set.ok()) << set.status().ToString();
  EXPECT_EQ(set->supervision.max_restarts, 9u);
}

TEST(SupervisionConfigTest, ErrorsNameFileLineAndKey) {
  EXPECT_EQ(SupervisionError("supervision:\n  restart: sometimes\n"),
            "s.yaml:6: supervision.restart: expected true or false, got 'sometimes'");
  EXPECT_EQ(SupervisionError("supervision:\n  retries: 3\n"),
            "s.yaml:6: supervision: unknown key 'retries'");
  EXPECT_EQ(SupervisionError("supervision:\n  backoff_initial_ms: 0\n"),
            "s.yaml:6: supervision.backoff_initial_ms: must be between 1 and 3600000 (one hour)");
  EXPECT_EQ(SupervisionError("supervision:\n  backoff_max_ms: 100\n"),
            "s.yaml:6: supervision.backoff_max_ms: must be between backoff_initial_ms and "
            "3600000 (one hour)");
  // A cap below a raised initial delay points at the initial delay.
  EXPECT_EQ(SupervisionError("supervision:\n  backoff_initial_ms: 40000\n"),
            "s.yaml:6: supervision.backoff_max_ms: must be between backoff_initial_ms and "
            "3600000 (one hour)");
  EXPECT_EQ(SupervisionError("supervision:\n  stable_after_ms: 0\n"),
            "s.yaml:6: supervision.stable_after_ms: must be between 1 and 86400000 (one day)");
  EXPECT_EQ(SupervisionError("supervision:\n  max_restarts: 0\n"),
            "s.yaml:6: supervision.max_restarts: must be between 1 and 1000 (set restart: "
            "false for none)");
  EXPECT_EQ(SupervisionError("supervision: [on]\n").substr(0, 22), "s.yaml:5: supervision:");
}

TEST(SupervisionConfigTest, DoesNotChangeTheClusterId) {
  // Workers of one cluster may be launched with different supervision.
  auto a = WithSupervision("");
  auto b = WithSupervision("supervision: {restart: false}\n");
  ASSERT_TRUE(a.ok() && b.ok());
  EXPECT_EQ(ClusterId(*a), ClusterId(*b));
}

}  // namespace
}  // namespace skipjoin::config
