// The dashboards people watch, end to end: `skipjoin launch` with monitoring
// on starts a real Prometheus beside a real two-worker cluster; after a few
// completions every console, Grafana and alert expression is run through
// Prometheus's HTTP API, every console page is rendered in headless Chromium
// (each graph must have drawn an SVG line; screenshots are kept in
// <build>/test-artifacts/consoles/), and killing a worker raises exactly one
// SkipjoinWorkerDown, for that worker.
//
// The model is $SKIPJOIN_MODEL_PATH when it exists, else a tiny random one.
// Chromium (or $SKIPJOIN_CHROMIUM) is required; SKIPJOIN_ALLOW_NO_CHROMIUM=1
// turns its absence into a skip of the browser checks.
#include <gtest/gtest.h>
#include <signal.h>

#include <chrono>
#include <cmath>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <map>
#include <memory>
#include <nlohmann/json.hpp>
#include <regex>
#include <string>
#include <thread>
#include <vector>

#include "client/prometheus_setup.h"
#include "tests/integration/cluster_harness.h"
#include "tests/monitoring/dashboard_exprs.h"

namespace skipjoin::monitoring_test {
namespace {

using integration::Cluster;
using integration::HttpRequest;
using integration::HttpResponse;
using std::chrono::milliseconds;
using std::chrono::seconds;
using Clock = std::chrono::steady_clock;

// Expressions that are empty on a healthy cluster by design, and when they
// are not.
const std::map<std::string, std::string> kOnlyUnderACondition = {
    {"count(ALERTS{alertstate='firing'})", "only while an alert fires"},
};

std::string MonitoringDir() {
  const char* dir = std::getenv("SKIPJOIN_SOURCE_DIR");
  return std::string(dir ? dir : ".") + "/monitoring";
}

std::string ArtifactDir() {
  const char* dir = std::getenv("SKIPJOIN_BINARY_DIR");
  return std::string(dir ? dir : ".") + "/test-artifacts/consoles";
}

std::string UrlEncode(const std::string& s) {
  static const char* kHex = "0123456789ABCDEF";
  std::string out;
  for (unsigned char c : s) {
    if (std::isalnum(c) || c == '-' || c == '_' || c == '.' || c == '~') {
      out += static_cast<char>(c);
    } else {
      out += '%';
      out += kHex[c >> 4];
      out += kHex[c & 15];
    }
  }
  return out;
}

// GET on Prometheus. Its larger answers come with chunked transfer encoding,
// which the harness's HttpRequest leaves in the body: undo it here.
HttpResponse Get(int port, const std::string& path) {
  HttpResponse r = HttpRequest(port, "GET", path, "", milliseconds(10000));
  const size_t eol = r.body.find("\r\n");
  if (eol == std::string::npos || eol == 0 ||
      r.body.find_first_not_of("0123456789abcdefABCDEF") != eol)
    return r;
  std::string plain;
  size_t pos = 0;
  while (pos < r.body.size()) {
    const size_t line_end = r.body.find("\r\n", pos);
    if (line_end == std::string::npos) break;
    const size_t n = std::stoul(r.body.substr(pos, line_end - pos), nullptr, 16);
    if (n == 0) break;
    plain += r.body.substr(line_end + 2, n);
    pos = line_end + 2 + n + 2;
  }
  r.body = std::move(plain);
  return r;
}

struct QueryResult {
  bool ok = false;        // HTTP 200 and status "success"
  std::string error;      // otherwise, why
  nlohmann::json series;  // data.result (an array of {metric, value})
  int finite = 0;         // samples that are numbers (not NaN or Inf)
};

QueryResult Query(int port, const std::string& expr) {
  QueryResult q;
  HttpResponse r = Get(port, "/api/v1/query?query=" + UrlEncode(expr));
  auto body = nlohmann::json::parse(r.body, nullptr, false);
  if (r.status != 200 || body.is_discarded() || body.value("status", "") != "success") {
    q.error = "HTTP " + std::to_string(r.status) + ": " + r.body.substr(0, 300);
    return q;
  }
  q.ok = true;
  q.series = body["data"]["result"];
  if (!q.series.is_array()) q.series = nlohmann::json::array();
  for (const auto& s : q.series) {
    const double v = std::strtod(s["value"][1].get<std::string>().c_str(), nullptr);
    if (std::isfinite(v)) ++q.finite;
  }
  return q;
}

// Polls `expr` until it returns a finite sample >= `at_least`.
bool WaitFor(int port, const std::string& expr, double at_least, seconds timeout) {
  const auto deadline = Clock::now() + timeout;
  while (Clock::now() < deadline) {
    QueryResult q = Query(port, expr);
    if (q.ok && !q.series.empty() &&
        std::strtod(q.series[0]["value"][1].get<std::string>().c_str(), nullptr) >= at_least)
      return true;
    std::this_thread::sleep_for(milliseconds(250));
  }
  return false;
}

class DashboardsTest : public ::testing::Test {
 protected:
  static void SetUpTestSuite() {
    have_prometheus_ = !cli::FindExecutable("prometheus").empty();
    if (!have_prometheus_) return;
    prom_port_ = integration::FreePort();
    integration::ClusterOptions options;
    const char* model = std::getenv("SKIPJOIN_MODEL_PATH");
    if (model != nullptr && std::filesystem::exists(model)) options.model_path = model;
    options.monitoring =
        "{prometheus: on, port: " + std::to_string(prom_port_) + ", scrape_interval_ms: 500}";
    // ADeadWorkerRaisesOneAlertNamingIt kills a worker and reads the alert
    // and the workers page while it is down: launch must not bring it back
    // (it would within ~1 s, before the scrape and the page see it).
    options.supervision = "{restart: false}";
    cluster_ = std::make_unique<Cluster>(options);
    started_ = cluster_->Start(seconds(90));
    if (!started_) return;
    // Every target scraped once before the traffic, so that counters start
    // from their idle value (a counter first seen at its final value has no
    // rate).
    ready_ = WaitFor(prom_port_, "count(up == 1)", 3, seconds(30));
    if (!ready_) return;
    // Traffic on both replicas: three clients, two requests each, every one
    // generating its 16 tokens (ignore_eos), so the latency histograms all
    // get observations.
    std::vector<std::thread> clients;
    for (int c = 0; c < 3; ++c) {
      clients.emplace_back([c] {
        for (int i = 0; i < 2; ++i) {
          const std::string body =
              R"({"model":"tiny","prompt":"Request )" + std::to_string(c * 2 + i) +
              R"( about the sea and its tides","max_tokens":16,"ignore_eos":true,"temperature":0})";
          HttpResponse r =
              HttpRequest(cluster_->http_port(), "POST", "/v1/completions", body, seconds(60));
          if (r.status == 200) ++completed_;
        }
      });
    }
    for (auto& t : clients) t.join();
    // Prometheus has scraped the finished requests and a rate over them.
    traffic_seen_ = WaitFor(prom_port_, "sum(skipjoin_generation_tokens_total)", 16.0 * completed_,
                            seconds(20)) &&
                    WaitFor(prom_port_, "sum(rate(skipjoin_worker_tokens_processed_total[1m]))",
                            1e-9, seconds(20));
  }

  static void TearDownTestSuite() { cluster_.reset(); }

  void SetUp() override {
    ASSERT_TRUE(have_prometheus_) << "prometheus is not installed (scripts/install_deps.sh "
                                     "installs Debian's package)";
    ASSERT_TRUE(started_) << "cluster did not start\n" << cluster_->log();
    ASSERT_TRUE(ready_) << "Prometheus not answering on port " << prom_port_ << "\n"
                        << cluster_->log() << "--- prometheus.log\n"
                        << ReadText(cluster_->run_dir() + "/prometheus.log");
    ASSERT_EQ(completed_, 6) << cluster_->log();
    ASSERT_TRUE(traffic_seen_)
        << "Prometheus did not see the completions: generated tokens "
        << Query(prom_port_, "sum(skipjoin_generation_tokens_total)").series.dump()
        << ", worker input tokens/s "
        << Query(prom_port_, "sum(rate(skipjoin_worker_tokens_processed_total[1m]))").series.dump()
        << "\n"
        << cluster_->log();
  }

  static inline std::unique_ptr<Cluster> cluster_;
  static inline int prom_port_ = 0;
  static inline bool have_prometheus_ = false;
  static inline bool started_ = false, ready_ = false, traffic_seen_ = false;
  static inline std::atomic<int> completed_{0};
};

TEST_F(DashboardsTest, LaunchRunsPrometheusOnEveryEndpointOfTheConfig) {
  const std::string log = cluster_->log();
  const std::string url = "http://127.0.0.1:" + std::to_string(prom_port_);
  EXPECT_NE(log.find("prometheus      " + url), std::string::npos) << log;
  EXPECT_NE(log.find("console         " + url + "/consoles/skipjoin.html"), std::string::npos)
      << log;
  // The generated scrape config: the coordinator and both workers, all up,
  // workers labelled as the coordinator names them.
  HttpResponse r = Get(prom_port_, "/api/v1/targets");
  auto targets = nlohmann::json::parse(r.body)["data"]["activeTargets"];
  ASSERT_EQ(targets.size(), 3u) << r.body;
  std::map<std::string, std::string> by_instance;
  for (const auto& t : targets) {
    EXPECT_EQ(t["health"], "up") << t.dump();
    by_instance[t["labels"]["instance"]] = t["labels"].value("worker", "coordinator");
  }
  auto address = [](int port) { return "127.0.0.1:" + std::to_string(port); };
  EXPECT_EQ(by_instance[address(cluster_->coordinator_metrics_port())], "coordinator");
  EXPECT_EQ(by_instance[address(cluster_->worker_metrics_port(0))], "local:cpu:0");
  EXPECT_EQ(by_instance[address(cluster_->worker_metrics_port(1))], "local:cpu:1");
  // Its data lives under the run dir, and its rules are the shipped ones.
  EXPECT_TRUE(std::filesystem::exists(cluster_->run_dir() + "/prometheus/data"));
  r = Get(prom_port_, "/api/v1/rules");
  EXPECT_EQ(nlohmann::json::parse(r.body)["data"]["groups"][0]["rules"].size(),
            AlertExpressions(MonitoringDir()).size());
}

TEST_F(DashboardsTest, EveryConsoleAndGrafanaExpressionReturnsData) {
  std::vector<DashboardExpr> exprs = GrafanaExpressions(MonitoringDir());
  for (const std::string& page : ConsolePages(MonitoringDir())) {
    for (auto& e : ConsoleExpressions(MonitoringDir(), page)) exprs.push_back(std::move(e));
  }
  ASSERT_GT(exprs.size(), 80u);
  int checked = 0;
  for (const DashboardExpr& e : exprs) {
    QueryResult q = Query(prom_port_, e.expr);
    ASSERT_TRUE(q.ok) << e.file << " (" << e.where << "): " << e.expr << "\n" << q.error;
    if (kOnlyUnderACondition.count(e.expr)) continue;
    EXPECT_GT(q.finite, 0) << e.file << " (" << e.where << ") has no data: " << e.expr << "\n"
                           << q.series.dump();
    ++checked;
  }
  EXPECT_GT(checked, 80);
}

TEST_F(DashboardsTest, NoAlertFiresOnAHealthyClusterButEachReadsLiveSeries) {
  for (const DashboardExpr& e : AlertExpressions(MonitoringDir())) {
    QueryResult q = Query(prom_port_, e.expr);
    ASSERT_TRUE(q.ok) << e.where << ": " << q.error;
    EXPECT_TRUE(q.series.empty()) << e.where << " would fire: " << q.series.dump();
    for (const std::string& name : MetricNames(e.expr)) {
      EXPECT_FALSE(Query(prom_port_, name).series.empty())
          << e.where << " reads " << name << ", which Prometheus has no series of";
    }
  }
}

TEST_F(DashboardsTest, ConsolePagesDrawEveryGraph) {
  const std::string chromium = [] {
    // SKIPJOIN_CHROMIUM names the browser (a path or a name on PATH).
    if (const char* env = std::getenv("SKIPJOIN_CHROMIUM")) return cli::FindExecutable(env);
    for (const char* name : {"chromium", "chromium-browser", "google-chrome"}) {
      if (std::string p = cli::FindExecutable(name); !p.empty()) return p;
    }
    return std::string();
  }();
  if (chromium.empty()) {
    const char* allow = std::getenv("SKIPJOIN_ALLOW_NO_CHROMIUM");
    if (allow != nullptr && std::string(allow) == "1")
      GTEST_SKIP() << "chromium is not installed; SKIPJOIN_ALLOW_NO_CHROMIUM=1 skips the "
                      "console rendering checks";
    FAIL() << "chromium is not installed (scripts/install_deps.sh installs it); set "
              "SKIPJOIN_ALLOW_NO_CHROMIUM=1 to skip the console rendering checks";
  }
  std::filesystem::create_directories(ArtifactDir());
  const auto pages = ConsolePages(MonitoringDir());
  ASSERT_GE(pages.size(), 4u);
  static const std::regex kDrawnLine(R"re(<path[^>]* d="M[0-9])re");
  for (const std::string& page : pages) {
    const std::string path = "/consoles/" + page;
    HttpResponse html = Get(prom_port_, path);
    ASSERT_EQ(html.status, 200) << page << ": " << html.body.substr(0, 500);
    // The last five minutes; each graph fetches its data once the page loads.
    const std::string url = "http://127.0.0.1:" + std::to_string(prom_port_) + path + "#pctc" +
                            UrlEncode(R"({"duration":300,"endTime":0})");
    const std::string shot = ArtifactDir() + "/" + page.substr(0, page.size() - 5) + ".png";
    std::filesystem::remove(shot);
    integration::CommandResult r = integration::RunCommand(
        {chromium, "--headless", "--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage",
         "--hide-scrollbars", "--user-data-dir=" + cluster_->run_dir() + "/chromium",
         "--window-size=1400,1800", "--virtual-time-budget=10000", "--screenshot=" + shot,
         "--dump-dom", url},
        seconds(90));
    ASSERT_EQ(r.exit_code, 0) << page << ": chromium failed\n" << r.err.substr(0, 2000);
    const std::string& dom = r.out;
    EXPECT_TRUE(std::filesystem::exists(shot) && std::filesystem::file_size(shot) > 20000)
        << page << ": no screenshot at " << shot;
    const auto ids = ConsoleGraphIds(MonitoringDir(), page);
    ASSERT_GE(ids.size(), 4u) << page;
    for (size_t i = 0; i < ids.size(); ++i) {
      const size_t at = dom.find("id=\"" + ids[i] + "\"");
      ASSERT_NE(at, std::string::npos) << page << ": graph " << ids[i] << " not in the DOM";
      const size_t end = i + 1 < ids.size() ? dom.find("id=\"" + ids[i + 1] + "\"") : dom.size();
      const std::string graph =
          dom.substr(at, end == std::string::npos ? std::string::npos : end - at);
      EXPECT_EQ(graph.find("No timeseries returned"), std::string::npos)
          << page << ": graph " << ids[i] << " got no series";
      EXPECT_NE(graph.find("<svg"), std::string::npos)
          << page << ": graph " << ids[i] << " drew no SVG";
      EXPECT_TRUE(std::regex_search(graph, kDrawnLine))
          << page << ": graph " << ids[i] << " has no plotted line";
    }
  }
}

// `skipjoin top` against the same cluster: both replicas with their KV pools,
// and the completion sent while it watches shows up as generated tokens.
TEST_F(DashboardsTest, TopShowsTheClusterAndItsTraffic) {
  std::thread client([] {
    std::this_thread::sleep_for(milliseconds(300));
    HttpRequest(cluster_->http_port(), "POST", "/v1/completions",
                R"({"model":"tiny","prompt":"Watched","max_tokens":16,"ignore_eos":true})",
                seconds(60));
  });
  integration::CommandResult r =
      integration::RunCommand({cluster_->cli(), "top", "--config", cluster_->config_path(),
                               "--interval-ms", "1500", "--iterations", "3"},
                              seconds(30));
  client.join();
  ASSERT_EQ(r.exit_code, 0) << r.out << r.err;
  EXPECT_NE(r.out.find("replicas up 2/2   workers up 2/2"), std::string::npos) << r.out;
  static const std::regex kReplica(R"(replica-[01] +1 +[0-9]+/256 )");
  EXPECT_EQ(std::distance(std::sregex_iterator(r.out.begin(), r.out.end(), kReplica),
                          std::sregex_iterator()),
            6)
      << r.out;
  static const std::regex kGenerated(R"(generated tok/s ([0-9.]+))");
  double most = 0;
  for (auto it = std::sregex_iterator(r.out.begin(), r.out.end(), kGenerated);
       it != std::sregex_iterator(); ++it) {
    most = std::max(most, std::stod((*it)[1].str()));
  }
  EXPECT_GT(most, 0) << r.out;
  EXPECT_NE(r.out.find("TTFT p50 "), std::string::npos) << r.out;
  EXPECT_NE(r.out.find("ITL p99 "), std::string::npos) << r.out;
  // One row per worker from its own /metrics: up, then steps per second.
  static const std::regex kWorker(R"(\n[a-z0-9_-]+:cpu:[01] +1 +[0-9.]+ )");
  EXPECT_EQ(std::distance(std::sregex_iterator(r.out.begin(), r.out.end(), kWorker),
                          std::sregex_iterator()),
            6)
      << r.out;
  static const std::regex kWorkerTokens(R"(:cpu:[01] +1 +[0-9.]+ +[0-9.]+ (ms|s|µs) +[1-9])");
  EXPECT_TRUE(std::regex_search(r.out, kWorkerTokens)) << "no worker processed tokens\n" << r.out;
}

// Last: it kills a worker.
TEST_F(DashboardsTest, ADeadWorkerRaisesOneAlertNamingIt) {
  const std::string expr = [] {
    for (const DashboardExpr& e : AlertExpressions(MonitoringDir())) {
      if (e.where == "SkipjoinWorkerDown") return e.expr;
    }
    return std::string();
  }();
  ASSERT_FALSE(expr.empty()) << "alerts.yml has no SkipjoinWorkerDown";
  const pid_t pid = cluster_->WorkerPid(1);
  ASSERT_GT(pid, 0) << cluster_->log();
  ASSERT_EQ(kill(pid, SIGKILL), 0);
  // Both signals see it: the coordinator's heartbeat view and the failed scrape.
  ASSERT_TRUE(WaitFor(prom_port_, "max(skipjoin_worker_up{worker='local:cpu:1'} == bool 0)", 1,
                      seconds(20)));
  ASSERT_TRUE(WaitFor(prom_port_, "max(up{worker='local:cpu:1'} == bool 0)", 1, seconds(20)));
  QueryResult q = Query(prom_port_, expr);
  ASSERT_TRUE(q.ok) << q.error;
  ASSERT_EQ(q.series.size(), 1u) << q.series.dump();
  EXPECT_EQ(q.series[0]["metric"], (nlohmann::json{{"worker", "local:cpu:1"}})) << q.series.dump();
  // The rule engine agrees: one pending (for: 30s) alert for that worker.
  nlohmann::json alerts;
  std::string last_alerts;
  const auto deadline = Clock::now() + seconds(10);
  do {
    std::this_thread::sleep_for(milliseconds(500));
    HttpResponse r = Get(prom_port_, "/api/v1/alerts");
    last_alerts = r.body;
    alerts = nlohmann::json::array();
    const auto doc = nlohmann::json::parse(r.body, nullptr, false);
    if (doc.is_discarded()) continue;
    for (const auto& a : doc["data"]["alerts"]) {
      if (a["labels"]["alertname"] == "SkipjoinWorkerDown") alerts.push_back(a);
    }
  } while (alerts.empty() && Clock::now() < deadline);
  ASSERT_EQ(alerts.size(), 1u) << last_alerts;
  EXPECT_EQ(alerts[0]["labels"]["worker"], "local:cpu:1");
  EXPECT_EQ(alerts[0]["annotations"]["summary"], "Worker local:cpu:1 is down");
  // The workers page shows it down.
  HttpResponse page = Get(prom_port_, "/consoles/skipjoin-workers.html");
  static const std::regex kDownRow(
      R"re(<td>local:cpu:1</td>[^\n]*\n<td><span class="sj_down">down)re");
  EXPECT_TRUE(std::regex_search(page.body, kDownRow)) << page.body.substr(0, 3000);
  // The other replica still serves.
  EXPECT_TRUE(Query(prom_port_, "skipjoin_replica_up{replica='replica-0'} == 1").finite == 1);
}

}  // namespace
}  // namespace skipjoin::monitoring_test
