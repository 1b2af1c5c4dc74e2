// What `skipjoin launch` prepares for Prometheus: the endpoints of every node,
// the generated scrape config (checked by the real promtool), where the
// console libraries are found, and the files and command line it writes.
#include "client/prometheus_setup.h"

#include <gtest/gtest.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>
#include <yaml-cpp/yaml.h>

#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <nlohmann/json.hpp>
#include <string>

#include "tests/monitoring/dashboard_exprs.h"

namespace skipjoin::cli {
namespace {

namespace fs = std::filesystem;

std::string MonitoringDir() {
  const char* dir = std::getenv("SKIPJOIN_SOURCE_DIR");
  return std::string(dir ? dir : ".") + "/monitoring";
}

// Two nodes; n1's cpu:7 serves no replica, so no worker runs there.
config::ClusterConfig TwoNodes(const std::string& monitoring = "") {
  auto c = config::ParseClusterConfig(
      "name: two\n"
      "coordinator: {node: n0}\n"
      "nodes:\n"
      "  - {name: n0, host: 10.0.0.5, devices: [{kind: cpu, index: 0}]}\n"
      "  - {name: n1, host: 10.0.0.6, devices: [{kind: cpu, index: 7}, {kind: cpu, index: 1}]}\n"
      "model: {path: /m/tiny.gguf}\n"
      "replicas:\n"
      "  - {devices: [n0:cpu:0]}\n"
      "  - {devices: [n1:cpu:1]}\n"
      "metrics: {coordinator_port: 9500, worker_port_base: 9601}\n" +
          monitoring,
      "two.yaml");
  EXPECT_TRUE(c.ok()) << c.status().ToString();
  return *c;
}

class TempDir {
 public:
  TempDir() {
    path_ = (fs::temp_directory_path() /
             ("prometheus_setup_test_" + std::to_string(getpid()) + "_" + std::to_string(n_++)))
                .string();
    fs::create_directories(path_);
  }
  ~TempDir() { fs::remove_all(path_); }
  const std::string& path() const { return path_; }

 private:
  static inline int n_ = 0;
  std::string path_;
};

void WriteExecutable(const std::string& path) {
  std::ofstream(path) << "#!/bin/sh\nexit 0\n";
  chmod(path.c_str(), 0755);
}

TEST(PrometheusSetupTest, ServingWorkersSpanEveryNodeWithTheirMetricsPorts) {
  const auto workers = ServingWorkers(TwoNodes());
  ASSERT_EQ(workers.size(), 2u);
  EXPECT_EQ(workers[0].worker, "n0:cpu:0");
  EXPECT_EQ(workers[0].host, "10.0.0.5");
  EXPECT_EQ(workers[0].metrics_port, 9601);
  // Second device of n1: base + 1, whatever the first (idle) device does.
  EXPECT_EQ(workers[1].worker, "n1:cpu:1");
  EXPECT_EQ(workers[1].host, "10.0.0.6");
  EXPECT_EQ(workers[1].metrics_port, 9602);
  EXPECT_EQ(CoordinatorMetricsAddress(TwoNodes()), "10.0.0.5:9500");
}

TEST(PrometheusSetupTest, ScrapeConfigReadsBothJobsFromFileSd) {
  const auto cfg = TwoNodes("monitoring: {scrape_interval_ms: 750}\n");
  const YAML::Node y = YAML::Load(PrometheusConfigYaml(cfg, "/x/alerts.yml", "/run/targets"));
  EXPECT_EQ(y["global"]["scrape_interval"].as<std::string>(), "750ms");
  EXPECT_EQ(y["global"]["evaluation_interval"].as<std::string>(), "750ms");
  EXPECT_EQ(y["rule_files"][0].as<std::string>(), "/x/alerts.yml");
  const YAML::Node jobs = y["scrape_configs"];
  ASSERT_EQ(jobs.size(), 2u);
  EXPECT_EQ(jobs[0]["job_name"].as<std::string>(), "skipjoin-coordinator");
  EXPECT_EQ(jobs[0]["file_sd_configs"][0]["files"][0].as<std::string>(),
            "/run/targets/skipjoin-coordinator.json");
  EXPECT_EQ(jobs[1]["job_name"].as<std::string>(), "skipjoin-worker");
  EXPECT_EQ(jobs[1]["file_sd_configs"][0]["files"][0].as<std::string>(),
            "/run/targets/skipjoin-worker.json");
  EXPECT_FALSE(jobs[1]["static_configs"].IsDefined());
}

TEST(PrometheusSetupTest, FileSdTargetsListEveryNodeWithItsLabels) {
  const auto coordinator = nlohmann::json::parse(ScrapeTargetsJson(TwoNodes(), kCoordinatorJob));
  ASSERT_EQ(coordinator.size(), 1u);
  EXPECT_EQ(coordinator[0]["targets"], nlohmann::json({"10.0.0.5:9500"}));
  EXPECT_EQ(coordinator[0]["labels"]["node"], "n0");
  EXPECT_EQ(coordinator[0]["labels"]["role"], "coordinator");
  const auto workers = nlohmann::json::parse(ScrapeTargetsJson(TwoNodes(), kWorkerJob));
  ASSERT_EQ(workers.size(), 2u);
  EXPECT_EQ(workers[0]["targets"], nlohmann::json({"10.0.0.5:9601"}));
  EXPECT_EQ(workers[1]["targets"], nlohmann::json({"10.0.0.6:9602"}));
  EXPECT_EQ(workers[1]["labels"]["node"], "n1");
  EXPECT_EQ(workers[1]["labels"]["worker"], "n1:cpu:1");
  EXPECT_EQ(workers[1]["labels"]["cluster"], "two");
  EXPECT_EQ(workers[1]["labels"]["role"], "worker");
  // Advertised addresses, not bind addresses.
  auto bound = TwoNodes("");
  bound.coordinator.bind = "0.0.0.0";
  bound.nodes[1].bind = "0.0.0.0";
  EXPECT_EQ(ScrapeTargetsJson(bound, kWorkerJob), ScrapeTargetsJson(TwoNodes(), kWorkerJob));
  EXPECT_EQ(ScrapeTargetsJson(bound, kCoordinatorJob),
            ScrapeTargetsJson(TwoNodes(), kCoordinatorJob));
}

// monitoring/prometheus.yml reads monitoring/targets/, which must be what
// launch writes for the default cluster.
TEST(PrometheusSetupTest, ShippedTargetsAreTheDefaultClustersOwn) {
  const std::string root = MonitoringDir() + "/..";
  auto cfg = config::LoadClusterConfig(root + "/cluster_configs/local-cpu.yaml");
  ASSERT_TRUE(cfg.ok()) << cfg.status().ToString();
  for (const char* job : {kCoordinatorJob, kWorkerJob}) {
    EXPECT_EQ(monitoring_test::ReadText(MonitoringDir() + "/targets/" + job + ".json"),
              ScrapeTargetsJson(*cfg, job))
        << job;
  }
}

TEST(PrometheusSetupTest, PromtoolAcceptsTheGeneratedConfig) {
  if (FindExecutable("promtool").empty())
    GTEST_FAIL() << "promtool missing (scripts/install_deps.sh)";
  TempDir dir;
  const std::string path = dir.path() + "/prometheus.yml";
  ASSERT_TRUE(WriteScrapeTargets(TwoNodes(), dir.path() + "/targets").ok());
  std::ofstream(path) << PrometheusConfigYaml(TwoNodes(), MonitoringDir() + "/alerts.yml",
                                              dir.path() + "/targets");
  const std::string out = dir.path() + "/promtool.out";
  const int rc = std::system(("promtool check config " + path + " > " + out + " 2>&1").c_str());
  EXPECT_TRUE(WIFEXITED(rc) && WEXITSTATUS(rc) == 0) << monitoring_test::ReadText(out);
}

TEST(PrometheusSetupTest, FindsExecutablesOnPathOrByPath) {
  EXPECT_EQ(FindExecutable("/bin/sh"), "/bin/sh");
  EXPECT_NE(FindExecutable("sh"), "");
  EXPECT_EQ(FindExecutable("no-such-program-for-skipjoin"), "");
  EXPECT_EQ(FindExecutable("/etc/passwd"), "");  // not executable
}

TEST(PrometheusSetupTest, ConsoleLibrariesComeFromConfigThenBesideTheBinary) {
  TempDir dir;
  std::vector<std::string> tried;
  EXPECT_EQ(FindConsoleLibraries("/opt/libs", "", &tried), "/opt/libs");
  // A release tarball: console_libraries/ next to the executable.
  WriteExecutable(dir.path() + "/prometheus");
  fs::create_directories(dir.path() + "/console_libraries");
  std::ofstream(dir.path() + "/console_libraries/prom.lib") << "{{ define \"x\" }}{{ end }}\n";
  tried.clear();
  EXPECT_EQ(FindConsoleLibraries("", dir.path() + "/prometheus", &tried),
            fs::canonical(dir.path()).string() + "/console_libraries");
  // Without it, the distributions' places are searched and listed.
  fs::remove_all(dir.path() + "/console_libraries");
  tried.clear();
  const std::string found = FindConsoleLibraries("", dir.path() + "/prometheus", &tried);
  EXPECT_GE(tried.size(), 4u);
  if (!found.empty()) EXPECT_TRUE(fs::exists(found + "/prom.lib")) << found;
}

TEST(PrometheusSetupTest, MissingBinaryIsNotFoundAndNamesTheKey) {
  TempDir dir;
  auto plan = PreparePrometheus(TwoNodes("monitoring: {binary: /nonexistent/prometheus}\n"),
                                dir.path(), MonitoringDir());
  ASSERT_FALSE(plan.ok());
  EXPECT_EQ(plan.status().code(), StatusCode::kNotFound);
  EXPECT_NE(plan.status().message().find("monitoring.binary"), std::string::npos);
}

// With auto and the default port the config does not check for a clash;
// launch gets this error and runs without Prometheus.
TEST(PrometheusSetupTest, APortTakenOnTheCoordinatorsNodeIsRefused) {
  TempDir dir;
  WriteExecutable(dir.path() + "/prom");
  auto cfg = TwoNodes("monitoring: {binary: " + dir.path() + "/prom}\n");
  cfg.coordinator.http_port = cfg.monitoring.port;
  auto plan = PreparePrometheus(cfg, dir.path(), MonitoringDir());
  ASSERT_FALSE(plan.ok());
  EXPECT_EQ(plan.status().code(), StatusCode::kFailedPrecondition);
  EXPECT_EQ(plan.status().message(),
            "monitoring.port 9090 is also coordinator.http_port; set monitoring.port to a free "
            "port");
  cfg.coordinator.http_port = 8000;
  cfg.monitoring.port = 9601;  // worker_port_base on n0
  EXPECT_NE(PreparePrometheus(cfg, dir.path(), MonitoringDir())
                .status()
                .message()
                .find("worker metrics port"),
            std::string::npos);
}

TEST(PrometheusSetupTest, WritesConfigAndLibrariesAndBuildsTheCommandLine) {
  TempDir dir;
  WriteExecutable(dir.path() + "/prom");
  fs::create_directories(dir.path() + "/libs");
  std::ofstream(dir.path() + "/libs/prom.lib") << "{{ define \"prom_console_head\" }}{{ end }}\n";
  const auto cfg = TwoNodes("monitoring: {binary: " + dir.path() + "/prom, port: 19999, " +
                            "console_libraries: " + dir.path() + "/libs}\n");
  auto plan = PreparePrometheus(cfg, dir.path() + "/run", MonitoringDir());
  ASSERT_TRUE(plan.ok()) << plan.status().ToString();
  EXPECT_TRUE(plan->warnings.empty()) << plan->warnings[0];
  const std::string run = dir.path() + "/run/prometheus";
  EXPECT_TRUE(fs::exists(run + "/prometheus.yml"));
  EXPECT_TRUE(fs::exists(run + "/targets/skipjoin-coordinator.json"));
  EXPECT_TRUE(fs::exists(run + "/targets/skipjoin-worker.json"));
  EXPECT_TRUE(fs::exists(run + "/console_libraries/prom.lib"));
  EXPECT_TRUE(fs::exists(run + "/console_libraries/skipjoin.lib"));
  EXPECT_EQ(plan->url, "http://10.0.0.5:19999");
  ASSERT_GE(plan->consoles.size(), 4u);
  EXPECT_EQ(plan->consoles[0], "http://10.0.0.5:19999/consoles/skipjoin.html");
  const auto& argv = plan->child.argv;
  EXPECT_EQ(argv[0], dir.path() + "/prom");
  auto has = [&](const std::string& a) {
    return std::find(argv.begin(), argv.end(), a) != argv.end();
  };
  EXPECT_TRUE(has("--web.listen-address=10.0.0.5:19999"));
  EXPECT_TRUE(has("--storage.tsdb.path=" + run + "/data"));
  EXPECT_TRUE(has("--web.console.libraries=" + run + "/console_libraries"));
  EXPECT_TRUE(has("--web.console.templates=" + MonitoringDir() + "/consoles"));
  EXPECT_EQ(plan->child.log_path, dir.path() + "/run/prometheus.log");

  // coordinator.bind is where it listens; the URL keeps the advertised host.
  auto everywhere = cfg;
  everywhere.coordinator.bind = "0.0.0.0";
  auto bound = PreparePrometheus(everywhere, dir.path() + "/run3", MonitoringDir());
  ASSERT_TRUE(bound.ok()) << bound.status().ToString();
  EXPECT_EQ(bound->url, "http://10.0.0.5:19999");
  EXPECT_NE(std::find(bound->child.argv.begin(), bound->child.argv.end(),
                      "--web.listen-address=0.0.0.0:19999"),
            bound->child.argv.end());

  // Libraries that lack prom.lib: a warning saying where it looked; it still runs.
  fs::remove(dir.path() + "/libs/prom.lib");
  auto degraded = PreparePrometheus(cfg, dir.path() + "/run2", MonitoringDir());
  ASSERT_TRUE(degraded.ok());
  ASSERT_EQ(degraded->warnings.size(), 1u);
  EXPECT_NE(degraded->warnings[0].find(dir.path() + "/libs"), std::string::npos);
  EXPECT_NE(degraded->warnings[0].find("monitoring.console_libraries"), std::string::npos);
}

}  // namespace
}  // namespace skipjoin::cli
