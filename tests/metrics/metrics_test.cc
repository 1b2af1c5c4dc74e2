// Metric definitions: names and types as documented, the text exposition, the
// HTTP exposer, and promtool's checks of the exposition and the monitoring/
// config files (skipped when promtool is not installed).
#include <arpa/inet.h>
#include <gtest/gtest.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <memory>
#include <string>
#include <vector>

#include "monitoring/coordinator_metrics.h"
#include "monitoring/metrics_server.h"
#include "monitoring/worker_metrics.h"

namespace skipjoin::monitoring {
namespace {

std::string SourceDir() {
  const char* dir = std::getenv("SKIPJOIN_SOURCE_DIR");
  return dir ? dir : ".";
}

bool HavePromtool() { return std::system("promtool --version >/dev/null 2>&1") == 0; }

// Runs a shell command; returns its exit status and fills `output` with stdout+stderr.
int RunShell(const std::string& command, std::string* output) {
  FILE* p = popen((command + " 2>&1").c_str(), "r");
  if (!p) return -1;
  char buf[4096];
  size_t n;
  output->clear();
  while ((n = fread(buf, 1, sizeof(buf), p)) > 0) output->append(buf, n);
  int rc = pclose(p);
  return WIFEXITED(rc) ? WEXITSTATUS(rc) : -1;
}

std::string TempFile(const std::string& name, const std::string& contents) {
  auto path = std::filesystem::temp_directory_path() /
              ("skipjoin_metrics_test_" + std::to_string(getpid()) + "_" + name);
  std::ofstream(path) << contents;
  return path.string();
}

// A tiny HTTP GET on loopback; returns the whole response (headers + body).
std::string HttpGet(int port, const std::string& path) {
  int fd = socket(AF_INET, SOCK_STREAM, 0);
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_port = htons(static_cast<uint16_t>(port));
  addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  if (connect(fd, reinterpret_cast<sockaddr*>(&addr), sizeof(addr)) != 0) {
    close(fd);
    return "";
  }
  std::string req = "GET " + path + " HTTP/1.0\r\nHost: localhost\r\n\r\n";
  (void)!write(fd, req.data(), req.size());
  std::string out;
  char buf[4096];
  ssize_t n;
  while ((n = read(fd, buf, sizeof(buf))) > 0) out.append(buf, static_cast<size_t>(n));
  close(fd);
  return out;
}

void FillCoordinator(CoordinatorMetrics& m) {
  m.RegisterReplica("replica-0");
  m.RegisterReplica("replica-1");
  m.requests_received().Increment(3);
  m.RequestsFinished(RequestOutcome::kStop).Increment();
  m.RequestsFinished(RequestOutcome::kError).Increment();
  m.requests_running().Set(2);
  m.requests_waiting().Set(5);
  m.QueueLevelRequests(0).Set(4);
  m.time_to_first_token().Observe(0.12);
  m.time_per_output_token().Observe(0.03);
  m.e2e_request_latency().Observe(2.5);
  m.queue_time().Observe(0.01);
  m.prompt_tokens().Increment(40);
  m.generation_tokens().Increment(16);
  m.KvBlocksUsed("replica-0", KvPool::kDevice).Set(10);
  m.KvBlocksFree("replica-0", KvPool::kDevice).Set(2038);
  m.StepDuration("replica-0").Observe(0.05);
  m.StepTokens("replica-0").Observe(33);
  m.SwapBlocks("replica-1", SwapDirection::kOut).Increment(4);
  m.SwapBytes("replica-1", SwapDirection::kOut).Increment(4 * 4096);
  m.Preemptions("replica-1", PreemptionMode::kSwap).Increment();
  m.ReplicaUp("replica-0").Set(1);
  m.WorkerUp("local:cpu:0", "replica-0").Set(1);
}

TEST(MetricsTest, CoordinatorExpositionHasEveryFamily) {
  prometheus::Registry registry;
  CoordinatorMetrics m(registry);
  FillCoordinator(m);
  std::string text = RenderText(registry);
  for (const char* needle : {
           "# TYPE skipjoin_requests_total counter",
           "skipjoin_requests_total{outcome=\"stop\"} 1",
           "skipjoin_requests_total{outcome=\"rejected\"} 0",
           "# TYPE skipjoin_requests_running gauge",
           "skipjoin_requests_waiting 5",
           "skipjoin_queue_level_requests{level=\"0\"} 4",
           "skipjoin_mlfq_demotions_total 0",
           "skipjoin_mlfq_promotions_total 0",
           "# TYPE skipjoin_time_to_first_token_seconds histogram",
           "# TYPE skipjoin_time_per_output_token_seconds histogram",
           "# TYPE skipjoin_e2e_request_latency_seconds histogram",
           "# TYPE skipjoin_request_queue_time_seconds histogram",
           "skipjoin_prompt_tokens_total 40",
           "skipjoin_generation_tokens_total 16",
           "skipjoin_kv_blocks_used{pool=\"device\",replica=\"replica-0\"} 10",
           "skipjoin_kv_blocks_free{pool=\"host\",replica=\"replica-1\"} 0",
           "skipjoin_step_duration_seconds_count{replica=\"replica-0\"} 1",
           "# TYPE skipjoin_step_tokens histogram",
           "skipjoin_swap_blocks_total{direction=\"out\",replica=\"replica-1\"} 4",
           "skipjoin_swap_bytes_total{direction=\"out\",replica=\"replica-1\"} 16384",
           "skipjoin_preemptions_total{mode=\"swap\",replica=\"replica-1\"} 1",
           "skipjoin_replica_up{replica=\"replica-0\"} 1",
           "skipjoin_worker_up{replica=\"replica-0\",worker=\"local:cpu:0\"} 1",
       }) {
    EXPECT_NE(text.find(needle), std::string::npos) << "missing: " << needle << "\n" << text;
  }
}

TEST(MetricsTest, WorkerExpositionHasEveryFamily) {
  prometheus::Registry registry;
  WorkerMetrics m(registry);
  m.SetIdentity({"local", "cpu:0", "3", "1", "0", "1"});
  m.step_execution().Observe(0.02);
  m.steps_ok().Increment();
  m.tokens_processed().Increment(17);
  m.SwapBlocks(SwapDirection::kIn).Increment(2);
  m.KvBlocksAllocated(KvPool::kDevice).Set(2048);
  m.load_seconds().Set(1.5);
  std::string text = RenderText(registry);
  for (const char* needle : {
           "skipjoin_worker_info{cluster_node=\"local\",device=\"cpu:0\",replica_id=\"1\",tp_rank="
           "\"0\","
           "tp_size=\"1\",worker_id=\"3\"} 1",
           "skipjoin_worker_step_execution_seconds_count 1",
           "# TYPE skipjoin_worker_swap_seconds histogram",
           "skipjoin_worker_steps_total{outcome=\"ok\"} 1",
           "skipjoin_worker_steps_total{outcome=\"error\"} 0",
           "skipjoin_worker_tokens_processed_total 17",
           "skipjoin_worker_swap_blocks_total{direction=\"in\"} 2",
           "skipjoin_worker_kv_blocks_allocated{pool=\"device\"} 2048",
           "skipjoin_worker_load_seconds 1.5",
           "skipjoin_worker_ready 0",
           "skipjoin_worker_malformed_frames_total 0",
       }) {
    EXPECT_NE(text.find(needle), std::string::npos) << "missing: " << needle << "\n" << text;
  }
}

TEST(MetricsTest, ServerServesTheRegistryOverHttp) {
  auto registry = std::make_shared<prometheus::Registry>();
  WorkerMetrics m(*registry);
  m.tokens_processed().Increment(5);
  auto server = MetricsServer::Start("127.0.0.1:0", registry);
  ASSERT_TRUE(server.ok()) << server.status().ToString();
  ASSERT_GT((*server)->port(), 0);
  std::string response = HttpGet((*server)->port(), "/metrics");
  EXPECT_NE(response.find("200 OK"), std::string::npos) << response;
  EXPECT_NE(response.find("skipjoin_worker_tokens_processed_total 5"), std::string::npos);
}

// Idle connections (a port scanner, a stuck client) must not blind the
// scrape: with civetweb's defaults two of them held both threads for 30 s.
TEST(MetricsTest, ServerAnswersPastIdleConnections) {
  auto registry = std::make_shared<prometheus::Registry>();
  WorkerMetrics m(*registry);
  auto server = MetricsServer::Start("127.0.0.1:0", registry);
  ASSERT_TRUE(server.ok()) << server.status().ToString();
  std::vector<int> idle;
  for (int i = 0; i < 4; ++i) {
    int fd = socket(AF_INET, SOCK_STREAM, 0);
    sockaddr_in addr{};
    addr.sin_family = AF_INET;
    addr.sin_port = htons(static_cast<uint16_t>((*server)->port()));
    addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    ASSERT_EQ(connect(fd, reinterpret_cast<sockaddr*>(&addr), sizeof(addr)), 0);
    idle.push_back(fd);
  }
  const auto start = std::chrono::steady_clock::now();
  std::string response = HttpGet((*server)->port(), "/metrics");
  const double seconds =
      std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
  for (int fd : idle) close(fd);
  EXPECT_NE(response.find("200 OK"), std::string::npos) << response;
  EXPECT_LT(seconds, 1.0);
}

TEST(MetricsTest, ServerReportsABusyPort) {
  auto registry = std::make_shared<prometheus::Registry>();
  auto first = MetricsServer::Start("127.0.0.1:0", registry);
  ASSERT_TRUE(first.ok()) << first.status().ToString();
  auto second = MetricsServer::Start("127.0.0.1:" + std::to_string((*first)->port()), registry);
  ASSERT_FALSE(second.ok());
  EXPECT_EQ(second.status().code(), StatusCode::kUnavailable);
}

TEST(MetricsTest, PromtoolAcceptsTheExposition) {
  if (!HavePromtool()) GTEST_SKIP() << "promtool not installed";
  prometheus::Registry registry;
  CoordinatorMetrics c(registry);
  FillCoordinator(c);
  prometheus::Registry worker_registry;
  WorkerMetrics w(worker_registry);
  w.SetIdentity({"local", "cpu:0", "0", "0", "0", "1"});
  for (const auto& [name, text] : {std::pair{"coordinator.prom", RenderText(registry)},
                                   std::pair{"worker.prom", RenderText(worker_registry)}}) {
    std::string path = TempFile(name, text);
    std::string out;
    int rc = RunShell("promtool check metrics < " + path, &out);
    EXPECT_EQ(rc, 0) << name << ": " << out;
    // promtool reports lint problems (naming, units, _total) on its output.
    EXPECT_EQ(out, "") << name << ": " << out;
    std::filesystem::remove(path);
  }
}

TEST(MetricsTest, PromtoolAcceptsScrapeConfigAndAlertRules) {
  if (!HavePromtool()) GTEST_SKIP() << "promtool not installed";
  std::string out;
  std::string dir = SourceDir() + "/monitoring";
  EXPECT_EQ(RunShell("cd " + dir + " && promtool check config prometheus.yml", &out), 0) << out;
  EXPECT_EQ(RunShell("promtool check rules " + dir + "/alerts.yml", &out), 0) << out;
}

// The dashboards' metric names: tests/monitoring/dashboard_names_test.cc.

}  // namespace
}  // namespace skipjoin::monitoring
