// The coordinator's Prometheus metrics end to end: CoordinatorCore with
// PrometheusMetrics, a FakeWorker and the HTTP frontend; requests through the
// HTTP API and the native endpoint move the series, GET /metrics serves them,
// and promtool (when installed) accepts the exposition.
#include <arpa/inet.h>
#include <gtest/gtest.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <optional>
#include <sstream>
#include <string>

#include "coordinator/frontend/client_endpoint.h"
#include "coordinator/frontend/http_frontend.h"
#include "coordinator/server/prometheus_metrics.h"
#include "protocol/channel.h"
#include "tests/coordinator/test_cluster.h"

namespace skipjoin::server {
namespace {

using namespace std::chrono_literals;

// One HTTP/1.1 exchange with Connection: close; returns status and body.
std::pair<int, std::string> Http(uint16_t port, const std::string& method, const std::string& path,
                                 const std::string& body = "") {
  int fd = socket(AF_INET, SOCK_STREAM, 0);
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_port = htons(port);
  inet_pton(AF_INET, "127.0.0.1", &addr.sin_addr);
  EXPECT_EQ(connect(fd, reinterpret_cast<sockaddr*>(&addr), sizeof(addr)), 0);
  timeval tv{10, 0};
  setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv));
  const std::string req =
      method + " " + path + " HTTP/1.1\r\nHost: x\r\nConnection: close\r\n" +
      "Content-Type: application/json\r\nContent-Length: " + std::to_string(body.size()) +
      "\r\n\r\n" + body;
  EXPECT_EQ(write(fd, req.data(), req.size()), static_cast<ssize_t>(req.size()));
  std::string raw;
  char buf[4096];
  ssize_t n;
  while ((n = read(fd, buf, sizeof(buf))) > 0) raw.append(buf, n);
  close(fd);
  int status = raw.size() > 12 ? std::stoi(raw.substr(9, 3)) : 0;
  auto pos = raw.find("\r\n\r\n");
  return {status, pos == std::string::npos ? "" : raw.substr(pos + 4)};
}

// The value of one series (name with its labels exactly as exposed, labels in
// alphabetical order), or nullopt when absent.
std::optional<double> Value(const std::string& text, const std::string& series) {
  std::istringstream in(text);
  std::string line;
  while (std::getline(in, line)) {
    if (line.size() > series.size() && line.compare(0, series.size(), series) == 0 &&
        line[series.size()] == ' ') {
      return std::stod(line.substr(series.size() + 1));
    }
  }
  return std::nullopt;
}

class CoordinatorMetricsTest : public ::testing::Test {
 protected:
  void SetUp() override {
    ASSERT_NO_FATAL_FAILURE(cluster_.Start(&metrics_, "metrics"));
    replica_ = cluster_.config().replicas.at(0).name;
    frontend::HttpFrontendOptions h;
    h.port = 0;
    h.model_name = "tiny";
    h.max_context = TestCluster::kMaxContext;
    auto fe = frontend::HttpFrontend::Start(h, cluster_.core(), cluster_.tokenizer(), &metrics_);
    ASSERT_TRUE(fe.ok()) << fe.status().ToString();
    http_ = std::move(*fe);
    frontend::ClientEndpointOptions n;
    n.endpoint = "tcp://127.0.0.1:*";
    n.model_name = "tiny";
    n.max_context = TestCluster::kMaxContext;
    auto ep = frontend::ClientEndpoint::Start(n, &cluster_.context(), cluster_.core(),
                                              cluster_.tokenizer(), &metrics_);
    ASSERT_TRUE(ep.ok()) << ep.status().ToString();
    native_ = std::move(*ep);
  }
  void TearDown() override {
    if (native_) native_->Stop();
    if (http_) http_->Stop();
    cluster_.Stop();
  }

  std::string Scrape() {
    auto [status, body] = Http(http_->port(), "GET", "/metrics");
    EXPECT_EQ(status, 200);
    return body;
  }
  std::string Label(const std::string& name) { return name + "{replica=\"" + replica_ + "\"}"; }
  std::string Kv(const std::string& name, const char* pool) {
    return name + "{pool=\"" + pool + "\",replica=\"" + replica_ + "\"}";
  }

  PrometheusMetrics metrics_{{"replica-0"}};
  TestCluster cluster_;
  std::string replica_;
  std::unique_ptr<frontend::HttpFrontend> http_;
  std::unique_ptr<frontend::ClientEndpoint> native_;
};

TEST_F(CoordinatorMetricsTest, SeriesExistAtZeroBeforeAnyRequest) {
  ASSERT_EQ(replica_, "replica-0");    // the name the metrics object was built with
  std::this_thread::sleep_for(300ms);  // one gauge tick of the core
  const std::string text = Scrape();
  EXPECT_EQ(Value(text, "skipjoin_requests_total{outcome=\"stop\"}"), 0);
  EXPECT_EQ(Value(text, "skipjoin_requests_received_total"), 0);
  EXPECT_EQ(Value(text, "skipjoin_time_to_first_token_seconds_count"), 0);
  EXPECT_EQ(Value(text, Kv("skipjoin_kv_blocks_free", "device")), TestCluster::kDeviceBlocks);
  EXPECT_EQ(Value(text, Kv("skipjoin_kv_blocks_used", "device")), 0);
  EXPECT_EQ(Value(text, Label("skipjoin_replica_up")), 1);
  EXPECT_EQ(Value(text, "skipjoin_worker_up{replica=\"" + replica_ + "\",worker=\"local:cpu:0\"}"),
            1);
}

TEST_F(CoordinatorMetricsTest, RequestsMoveTheSeries) {
  constexpr int kMaxTokens = 4;
  // Three completions over HTTP, one over the native protocol, one rejected on each.
  for (int i = 0; i < 3; ++i) {
    auto [status, body] =
        Http(http_->port(), "POST", "/v1/completions",
             R"({"model":"tiny","prompt":"hello there","max_tokens":4,"temperature":0})");
    ASSERT_EQ(status, 200) << body;
  }
  EXPECT_EQ(Http(http_->port(), "POST", "/v1/completions",
                 R"({"model":"tiny","prompt":"x","temperature":9})")
                .first,
            400);
  auto ch = protocol::DealerChannel::Connect(cluster_.context(), native_->endpoint());
  ASSERT_TRUE(ch.ok());
  protocol::SubmitRequest r;
  r.client_request_id = "n";
  r.prompt_text = "hello there";
  r.max_tokens = kMaxTokens;
  r.stream = false;
  ASSERT_TRUE(ch->Send(r, 1000ms).ok());
  r.client_request_id = "bad";
  r.sampling.top_p = 0;
  ASSERT_TRUE(ch->Send(r, 1000ms).ok());
  int answers = 0;
  for (int i = 0; i < 100 && answers < 2; ++i) {
    auto m = ch->Recv(100ms);
    if (m.ok()) ++answers;
  }
  ASSERT_EQ(answers, 2);
  // A cancelled one: a long streaming request, cancelled after its first token.
  r.client_request_id = "long";
  r.sampling.top_p = 1;
  r.max_tokens = 400;
  r.stream = true;
  ASSERT_TRUE(ch->Send(r, 1000ms).ok());
  ASSERT_TRUE(ch->Recv(5000ms).ok());
  ASSERT_TRUE(ch->Send(protocol::CancelRequest{"long"}, 1000ms).ok());
  bool aborted = false;
  for (int i = 0; i < 100 && !aborted; ++i) {
    auto m = ch->Recv(100ms);
    if (!m.ok()) continue;
    if (auto* c = std::get_if<protocol::TokenChunk>(&*m))
      aborted = c->finish_reason == protocol::FinishReason::kAbort;
  }
  ASSERT_TRUE(aborted);

  // Counters and histograms move at once; gauges on the core's next tick.
  std::string text;
  for (int i = 0; i < 50; ++i) {
    std::this_thread::sleep_for(100ms);
    text = Scrape();
    if (Value(text, "skipjoin_requests_total{outcome=\"abort\"}") == 1 &&
        Value(text, Kv("skipjoin_kv_blocks_used", "device")) == 0) {
      break;
    }
  }
  EXPECT_EQ(Value(text, "skipjoin_requests_received_total"), 7) << text;
  EXPECT_EQ(Value(text, "skipjoin_requests_total{outcome=\"length\"}"), 4);
  EXPECT_EQ(Value(text, "skipjoin_requests_total{outcome=\"rejected\"}"), 2);
  EXPECT_EQ(Value(text, "skipjoin_requests_total{outcome=\"abort\"}"), 1);
  EXPECT_EQ(Value(text, "skipjoin_requests_total{outcome=\"error\"}"), 0);
  EXPECT_EQ(Value(text, "skipjoin_requests_running"), 0);
  EXPECT_EQ(Value(text, "skipjoin_requests_waiting"), 0);
  for (const char* h :
       {"skipjoin_time_to_first_token_seconds", "skipjoin_e2e_request_latency_seconds",
        "skipjoin_request_queue_time_seconds", "skipjoin_time_per_output_token_seconds",
        "skipjoin_request_prompt_tokens", "skipjoin_request_generation_tokens"}) {
    EXPECT_EQ(Value(text, std::string(h) + "_count"), 4) << h;
    EXPECT_GT(Value(text, std::string(h) + "_sum").value_or(-1), 0) << h;
  }
  const auto prompt = cluster_.tokenizer()->Encode("hello there", true, false).size();
  EXPECT_EQ(Value(text, "skipjoin_prompt_tokens_total"), 5.0 * prompt);
  EXPECT_EQ(Value(text, "skipjoin_request_generation_tokens_sum"), 4.0 * kMaxTokens);
  EXPECT_GE(Value(text, "skipjoin_generation_tokens_total").value_or(0), 4.0 * kMaxTokens + 1);
  EXPECT_GE(Value(text, Label("skipjoin_step_duration_seconds_count")).value_or(0), kMaxTokens);
  EXPECT_GT(Value(text, Label("skipjoin_step_tokens_sum")).value_or(0), 4.0 * prompt);
  EXPECT_GE(Value(text, Label("skipjoin_step_sequences_count")).value_or(0), kMaxTokens);
  EXPECT_EQ(Value(text, Kv("skipjoin_kv_blocks_used", "device")), 0);
  EXPECT_EQ(Value(text, Kv("skipjoin_kv_blocks_free", "device")), TestCluster::kDeviceBlocks);
  EXPECT_EQ(Value(text, Label("skipjoin_replica_up")), 1);

  // promtool's linter on the exposition (skipped when not installed).
  if (std::system("promtool --version >/dev/null 2>&1") != 0) {
    GTEST_SKIP() << "promtool not installed; exposition not linted";
  }
  const auto path =
      std::filesystem::temp_directory_path() / ("sj_coord_metrics_" + std::to_string(getpid()));
  std::ofstream(path) << text;
  FILE* p = popen(("promtool check metrics < " + path.string() + " 2>&1").c_str(), "r");
  ASSERT_NE(p, nullptr);
  std::string out;
  char buf[1024];
  size_t n;
  while ((n = fread(buf, 1, sizeof(buf), p)) > 0) out.append(buf, n);
  const int rc = pclose(p);
  std::filesystem::remove(path);
  EXPECT_TRUE(WIFEXITED(rc) && WEXITSTATUS(rc) == 0) << out;
}

TEST_F(CoordinatorMetricsTest, GaugesFollowARunningRequest) {
  auto ch = protocol::DealerChannel::Connect(cluster_.context(), native_->endpoint());
  ASSERT_TRUE(ch.ok());
  protocol::SubmitRequest r;
  r.client_request_id = "run";
  r.prompt_tokens = std::vector<int32_t>(40, 7);
  r.max_tokens = 400;
  ASSERT_TRUE(ch->Send(r, 1000ms).ok());
  ASSERT_TRUE(ch->Recv(5000ms).ok());
  std::string text;
  for (int i = 0; i < 50; ++i) {
    std::this_thread::sleep_for(50ms);
    text = Scrape();
    if (Value(text, "skipjoin_requests_running") == 1) break;
  }
  EXPECT_EQ(Value(text, "skipjoin_requests_running"), 1);
  const double used = Value(text, Kv("skipjoin_kv_blocks_used", "device")).value_or(0);
  EXPECT_GE(used, 3);  // 40 prompt tokens in blocks of 16
  EXPECT_EQ(used + Value(text, Kv("skipjoin_kv_blocks_free", "device")).value_or(0),
            TestCluster::kDeviceBlocks);
  double levels = 0;
  for (int l = 0; l < 4; ++l) {
    levels += Value(text, "skipjoin_queue_level_requests{level=\"" + std::to_string(l) + "\"}")
                  .value_or(0);
  }
  EXPECT_EQ(levels, 1);
  ASSERT_TRUE(ch->Send(protocol::CancelRequest{"run"}, 1000ms).ok());
}

// The scheduler reports running totals; the counters follow them without
// counting a total twice.
TEST(PrometheusMetricsTest, MlfqMovesTurnRunningTotalsIntoCounters) {
  PrometheusMetrics m({"replica-0"});
  m.MlfqMoves(3, 1);
  m.MlfqMoves(3, 1);
  m.MlfqMoves(5, 2);
  const std::string text = m.Exposition();
  EXPECT_NE(text.find("skipjoin_mlfq_demotions_total 5"), std::string::npos) << text;
  EXPECT_NE(text.find("skipjoin_mlfq_promotions_total 2"), std::string::npos) << text;
}

}  // namespace
}  // namespace skipjoin::server
