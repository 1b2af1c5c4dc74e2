// `skipjoin bench serve` end to end: the real command (BenchServeMain) against
// the coordinator's real HTTP frontend on loopback, over a CoordinatorCore
// whose FakeWorker answers every step with one token.
#include "client/bench/bench_serve.h"

#include <arpa/inet.h>
#include <gtest/gtest.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

#include <chrono>
#include <filesystem>
#include <fstream>
#include <nlohmann/json.hpp>

#include "coordinator/frontend/http_frontend.h"
#include "tests/coordinator/test_cluster.h"

namespace skipjoin::cli {
namespace {

using nlohmann::json;

class BenchServeTest : public ::testing::Test {
 protected:
  void SetUp() override {
    ASSERT_NO_FATAL_FAILURE(cluster_.Start(&metrics_, "bench"));
    frontend::HttpFrontendOptions h;
    h.port = 0;
    h.model_name = "tiny";
    h.max_context = server::TestCluster::kMaxContext;
    auto fe = frontend::HttpFrontend::Start(h, cluster_.core(), cluster_.tokenizer(), &metrics_);
    ASSERT_TRUE(fe.ok()) << fe.status().ToString();
    http_ = std::move(*fe);
    json_path_ = (std::filesystem::temp_directory_path() /
                  ("sj_bench_" + std::to_string(getpid()) + ".json"))
                     .string();
  }
  void TearDown() override {
    if (http_) http_->Stop();
    cluster_.Stop();
    std::filesystem::remove(json_path_);
  }

  std::string BaseUrl() const { return "http://127.0.0.1:" + std::to_string(http_->port()); }

  json ReadJson() const {
    std::ifstream in(json_path_);
    return json::parse(in, nullptr, /*allow_exceptions=*/false);
  }

  // Runs the command, keeping its stdout (the report) and stderr.
  int Run(const std::vector<std::string>& args, std::string* err, std::string* out = nullptr) {
    testing::internal::CaptureStdout();
    testing::internal::CaptureStderr();
    const int rc = BenchServeMain(args);
    *err = testing::internal::GetCapturedStderr();
    const std::string report = testing::internal::GetCapturedStdout();
    if (out != nullptr) *out = report;
    return rc;
  }

  server::NullMetrics metrics_;
  server::TestCluster cluster_;
  std::unique_ptr<frontend::HttpFrontend> http_;
  std::string json_path_;
};

TEST_F(BenchServeTest, EveryRequestSucceedsWithTheAskedOutputLength) {
  std::string err, out;
  // Token ids within the tiny vocabulary (256 bytes + merges); no --model, so
  // it is discovered from GET /v1/models.
  const int rc = Run({"--base-url",
                      BaseUrl(),
                      "--num-prompts",
                      "8",
                      "--dataset",
                      "random",
                      "--input-len",
                      "24",
                      "--output-len",
                      "12",
                      "--range-ratio",
                      "0.5",
                      "--vocab-low",
                      "10",
                      "--vocab-high",
                      "250",
                      "--ignore-eos",
                      "--max-concurrency",
                      "4",
                      "--seed",
                      "3",
                      "--goodput",
                      "e2el:60000",
                      "--no-progress",
                      "--json",
                      json_path_},
                     &err, &out);
  ASSERT_EQ(rc, 0) << err;
  EXPECT_NE(out.find("Serving Benchmark Result"), std::string::npos) << out;
  EXPECT_NE(out.find("Successful requests:                     8\n"), std::string::npos) << out;
  EXPECT_NE(out.find("Failed requests:                         0\n"), std::string::npos) << out;
  EXPECT_NE(out.find("Request goodput (req/s):"), std::string::npos) << out;
  EXPECT_NE(out.find("P99.9 ITL (ms):"), std::string::npos) << out;
  const json j = ReadJson();
  ASSERT_TRUE(j.is_object()) << "no JSON results; stderr:\n" << err;
  EXPECT_EQ(j["model_id"], "tiny");
  EXPECT_EQ(j["completed"], 8);
  EXPECT_EQ(j["failed"], 0);
  EXPECT_EQ(j["request_goodput"].get<double>(), j["request_throughput"].get<double>());
  EXPECT_LE(j["peak_concurrent_requests"].get<int>(), 4);
  ASSERT_EQ(j["requests"].size(), 8u);
  int64_t asked = 0;
  for (const json& r : j["requests"]) {
    EXPECT_TRUE(r["success"].get<bool>()) << r.dump();
    EXPECT_EQ(r["http_status"], 200);
    const int64_t want = r["output_len_asked"].get<int64_t>();
    EXPECT_GE(want, 6);
    EXPECT_LE(want, 18);
    EXPECT_EQ(r["output_tokens"].get<int64_t>(), want) << r.dump();
    // One content chunk per token: a gap between each pair.
    EXPECT_EQ(static_cast<int64_t>(r["itl_ms"].size()), want - 1);
    EXPECT_GT(r["ttft_ms"].get<double>(), 0.0);
    EXPECT_GE(r["e2el_ms"].get<double>(), r["ttft_ms"].get<double>());
    asked += want;
  }
  EXPECT_EQ(j["total_output_tokens"].get<int64_t>(), asked);
  EXPECT_GT(j["mean_ttft_ms"].get<double>(), 0.0);
  EXPECT_GT(j["mean_tpot_ms"].get<double>(), 0.0);
}

TEST_F(BenchServeTest, PacedChatRequestsWithTextPromptsSucceed) {
  std::string err;
  const int rc = Run({"--base-url",
                      BaseUrl(),
                      "--endpoint",
                      "/v1/chat/completions",
                      "--num-prompts",
                      "6",
                      "--dataset",
                      "fixed",
                      "--input-len",
                      "10",
                      "--output-len",
                      "5",
                      "--ignore-eos",
                      "--request-rate",
                      "50",
                      "--burstiness",
                      "0.5",
                      "--no-progress",
                      "--json",
                      json_path_},
                     &err);
  ASSERT_EQ(rc, 0) << err;
  const json j = ReadJson();
  ASSERT_TRUE(j.is_object()) << err;
  EXPECT_EQ(j["backend"], "openai-chat");
  EXPECT_EQ(j["completed"], 6);
  for (const json& r : j["requests"]) EXPECT_EQ(r["output_tokens"], 5) << r.dump();
}

TEST_F(BenchServeTest, AWrongModelFailsTheTestRequestWithTheServersMessage) {
  std::string err;
  EXPECT_EQ(
      Run({"--base-url", BaseUrl(), "--model", "no-such-model", "--num-prompts", "2", "--input-len",
           "4", "--output-len", "2", "--vocab-low", "10", "--vocab-high", "250", "--no-progress"},
          &err),
      1);
  EXPECT_NE(err.find("test request"), std::string::npos) << err;
  EXPECT_NE(err.find("HTTP 4"), std::string::npos) << err;
  EXPECT_NE(err.find("/v1/completions"), std::string::npos) << err;
}

TEST_F(BenchServeTest, RequestsPastTheTimeoutFailWithTheReason) {
  std::string err;
  // 480 tokens take about 1 s from the FakeWorker (2 ms a step); the test
  // request asks for 8 only.
  EXPECT_EQ(Run({"--base-url",   BaseUrl(),       "--num-prompts", "2",
                 "--dataset",    "fixed",         "--input-len",   "4",
                 "--output-len", "480",           "--ignore-eos",  "--vocab-low",
                 "10",           "--vocab-high",  "250",           "--timeout",
                 "0.5",          "--no-progress", "--json",        json_path_},
                &err),
            1);  // no request succeeded
  const json j = ReadJson();
  ASSERT_TRUE(j.is_object()) << err;
  EXPECT_EQ(j["failed"], 2);
  for (const json& r : j["requests"]) {
    EXPECT_NE(r["error"].get<std::string>().find("timed out after 0.5 s"), std::string::npos)
        << r.dump();
  }
  EXPECT_NE(err.find("2 x "), std::string::npos) << err;  // the error summary
}

// A port nothing listens on: bound, then closed.
int ClosedPort() {
  const int fd = socket(AF_INET, SOCK_STREAM, 0);
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  EXPECT_EQ(bind(fd, reinterpret_cast<sockaddr*>(&addr), sizeof(addr)), 0);
  socklen_t len = sizeof(addr);
  getsockname(fd, reinterpret_cast<sockaddr*>(&addr), &len);
  close(fd);
  return ntohs(addr.sin_port);
}

TEST_F(BenchServeTest, AnUnreachableServerFailsFastNamingTheUrl) {
  const std::string url = "http://127.0.0.1:" + std::to_string(ClosedPort());
  std::string err;
  const auto start = std::chrono::steady_clock::now();
  EXPECT_EQ(Run({"--base-url", url, "--num-prompts", "3", "--no-progress"}, &err), 1);
  EXPECT_LT(std::chrono::steady_clock::now() - start, std::chrono::seconds(6));
  EXPECT_NE(err.find("cannot connect to " + url), std::string::npos) << err;
}

TEST_F(BenchServeTest, BadFlagsExitWithTwo) {
  std::string err;
  EXPECT_EQ(Run({"--request-rate", "fast"}, &err), 2);
  EXPECT_NE(err.find("--request-rate"), std::string::npos) << err;
}

}  // namespace
}  // namespace skipjoin::cli
