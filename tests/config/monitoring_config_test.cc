// The `monitoring:` section: defaults, each key, and errors that name the
// file, the line and the key.
#include <gtest/gtest.h>

#include <string>

#include "common/config/cluster_config.h"

namespace skipjoin::config {
namespace {

// Lines 1..9; tests append a monitoring section from line 10 on.
const char* kCluster =
    "name: m\n"                                                     // 1
    "coordinator: {http_port: 8000}\n"                              // 2
    "nodes:\n"                                                      // 3
    "  - name: n0\n"                                                // 4
    "    host: 10.0.0.5\n"                                          // 5
    "    devices: [{kind: cpu, index: 0}]\n"                        // 6
    "model: {path: /m/tiny.gguf}\n"                                 // 7
    "replicas: {count: 1, tp: 1}\n"                                 // 8
    "metrics: {coordinator_port: 9400, worker_port_base: 9401}\n";  // 9

Result<ClusterConfig> Parse(const std::string& monitoring) {
  return ParseClusterConfig(std::string(kCluster) + monitoring, "m.yaml");
}

std::string ErrorOf(const std::string& monitoring) {
  auto r = Parse(monitoring);
  return r.ok() ? "OK" : r.status().message();
}

TEST(MonitoringConfigTest, PrometheusIsAutoOnPort9090ByDefault) {
  auto c = Parse("");
  ASSERT_TRUE(c.ok()) << c.status().ToString();
  EXPECT_EQ(c->monitoring.prometheus, PrometheusMode::kAuto);
  EXPECT_EQ(c->monitoring.port, 9090);
  EXPECT_EQ(c->monitoring.binary, "prometheus");
  EXPECT_EQ(c->monitoring.scrape_interval_ms, 5000u);
  EXPECT_EQ(c->monitoring.console_libraries, "");
  EXPECT_EQ(c->monitoring.files_dir, "");
}

TEST(MonitoringConfigTest, ReadsEveryKey) {
  auto c = Parse(
      "monitoring: {prometheus: on, port: 19090, binary: /opt/prom/prometheus,\n"
      "  scrape_interval_ms: 1000, console_libraries: /opt/prom/console_libraries,\n"
      "  files_dir: /srv/monitoring}\n");
  ASSERT_TRUE(c.ok()) << c.status().ToString();
  EXPECT_EQ(c->monitoring.prometheus, PrometheusMode::kOn);
  EXPECT_EQ(c->monitoring.port, 19090);
  EXPECT_EQ(c->monitoring.binary, "/opt/prom/prometheus");
  EXPECT_EQ(c->monitoring.scrape_interval_ms, 1000u);
  EXPECT_EQ(c->monitoring.console_libraries, "/opt/prom/console_libraries");
  EXPECT_EQ(c->monitoring.files_dir, "/srv/monitoring");
  EXPECT_STREQ(PrometheusModeName(c->monitoring.prometheus), "on");
  // YAML booleans read as on and off.
  EXPECT_EQ(Parse("monitoring: {prometheus: false}\n")->monitoring.prometheus,
            PrometheusMode::kOff);
  EXPECT_EQ(Parse("monitoring: {prometheus: true}\n")->monitoring.prometheus, PrometheusMode::kOn);
  EXPECT_EQ(Parse("monitoring: {prometheus: auto}\n")->monitoring.prometheus,
            PrometheusMode::kAuto);
}

TEST(MonitoringConfigTest, ErrorsNameFileLineAndKey) {
  EXPECT_EQ(
      ErrorOf("monitoring:\n  prometheus: sometimes\n"),
      "m.yaml:11: monitoring.prometheus: unknown mode 'sometimes' (expected auto, on or off)");
  EXPECT_EQ(ErrorOf("monitoring:\n  prot: 9090\n"), "m.yaml:11: monitoring: unknown key 'prot'");
  EXPECT_EQ(ErrorOf("monitoring:\n  port: 70000\n"),
            "m.yaml:11: monitoring.port: value 70000 is out of range (at most 65535)");
  EXPECT_EQ(ErrorOf("monitoring:\n  binary: \"\"\n"),
            "m.yaml:11: monitoring.binary: must name the Prometheus executable (set prometheus: "
            "off to run none)");
  EXPECT_EQ(ErrorOf("monitoring:\n  scrape_interval_ms: 10\n"),
            "m.yaml:11: monitoring.scrape_interval_ms: must be between 100 and 3600000 (one hour)");
  EXPECT_EQ(ErrorOf("monitoring: [on]\n").substr(0, 21), "m.yaml:10: monitoring");
}

// Prometheus runs on the coordinator's node, so its port must miss the
// coordinator's and the workers' metrics ports there; when it is off, any
// port goes.
TEST(MonitoringConfigTest, PortMustNotClashWhenPrometheusRuns) {
  EXPECT_EQ(ErrorOf("monitoring:\n  port: 8000\n"),
            "m.yaml:11: monitoring.port: port 8000 is also coordinator.http_port");
  EXPECT_EQ(ErrorOf("monitoring:\n  port: 9401\n"),
            "m.yaml:9: metrics.worker_port_base: worker metrics ports 9401..9401 on node 'n0' "
            "overlap monitoring.port");
  EXPECT_EQ(ErrorOf("monitoring:\n  prometheus: off\n  port: 8000\n"), "OK");
  // auto with the default port leaves a config valid (launch warns instead).
  EXPECT_EQ(ParseClusterConfig(std::string(kCluster), "m.yaml", {"coordinator.http_port=9090"})
                .status()
                .ToString(),
            "OK");
  EXPECT_EQ(ParseClusterConfig(std::string(kCluster), "m.yaml",
                               {"coordinator.http_port=9090", "monitoring.prometheus=on"})
                .status()
                .message(),
            "command line: coordinator.http_port: port 9090 is also monitoring.port");
  EXPECT_EQ(ErrorOf("monitoring:\n  port: 0\n"),
            "m.yaml:11: monitoring.port: port must be between 1 and 65535");
}

TEST(MonitoringConfigTest, OverridesReachTheSection) {
  auto c = ParseClusterConfig(kCluster, "m.yaml",
                              {"monitoring.prometheus=off", "monitoring.port=19191"});
  ASSERT_TRUE(c.ok()) << c.status().ToString();
  EXPECT_EQ(c->monitoring.prometheus, PrometheusMode::kOff);
  EXPECT_EQ(c->monitoring.port, 19191);
}

}  // namespace
}  // namespace skipjoin::config
