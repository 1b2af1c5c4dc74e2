// The HTTP API end to end inside one process: CoordinatorCore + FakeWorker +
// HttpFrontend with the tiny model's tokenizer, driven over a real TCP socket.
#include "coordinator/frontend/http_frontend.h"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

#include <gtest/gtest.h>
#include <nlohmann/json.hpp>


#include "tests/coordinator/test_cluster.h"

namespace skipjoin::frontend {
namespace {

using namespace std::chrono_literals;

struct HttpReply {
  int status = 0;
  std::string body;
};

int Connect(uint16_t port) {
  int fd = socket(AF_INET, SOCK_STREAM, 0);
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_port = htons(port);
  inet_pton(AF_INET, "127.0.0.1", &addr.sin_addr);
  EXPECT_EQ(connect(fd, reinterpret_cast<sockaddr*>(&addr), sizeof(addr)), 0);
  timeval tv{10, 0};
  setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv));
  return fd;
}

void SendRequest(int fd, const std::string& method, const std::string& path, const std::string& body) {
  std::string req = method + " " + path + " HTTP/1.1\r\nHost: x\r\nConnection: close\r\nContent-Type: application/json\r\n"
                    "Content-Length: " + std::to_string(body.size()) + "\r\n\r\n" + body;
  ASSERT_EQ(write(fd, req.data(), req.size()), static_cast<ssize_t>(req.size()));
}

HttpReply Call(uint16_t port, const std::string& method, const std::string& path, const std::string& body = "") {
  int fd = Connect(port);
  SendRequest(fd, method, path, body);
  std::string raw;
  char buf[4096];
  ssize_t n;
  while ((n = read(fd, buf, sizeof(buf))) > 0) raw.append(buf, n);
  close(fd);
  HttpReply r;
  if (raw.size() > 12) r.status = std::stoi(raw.substr(9, 3));
  auto pos = raw.find("\r\n\r\n");
  if (pos != std::string::npos) r.body = raw.substr(pos + 4);
  return r;
}

class HttpFrontendTest : public ::testing::Test {
 protected:
  void SetUp() override {
    ASSERT_NO_FATAL_FAILURE(cluster_.StartCore(&metrics_, "http"));
    HttpFrontendOptions h;
    h.port = 0;
    h.model_name = "tiny";
    h.max_context = server::TestCluster::kMaxContext;
    h.limits.max_body_bytes = 64 * 1024;
    auto fe = HttpFrontend::Start(h, cluster_.core(), cluster_.tokenizer(), &metrics_);
    ASSERT_TRUE(fe.ok()) << fe.status().ToString();
    http_ = std::move(*fe);
  }
  void TearDown() override {
    if (http_) http_->Stop();
    cluster_.Stop();
  }
  void StartWorker() { cluster_.StartWorker(); }
  uint32_t BlocksUsed() { return cluster_.Status().replicas[0].kv_device_blocks_used; }
  uint16_t port() { return http_->port(); }

  server::NullMetrics metrics_;
  server::TestCluster cluster_;
  std::unique_ptr<HttpFrontend> http_;
};

TEST_F(HttpFrontendTest, HealthIs503UntilAReplicaIsReady) {
  EXPECT_EQ(Call(port(), "GET", "/health").status, 503);
  EXPECT_EQ(Call(port(), "POST", "/v1/completions", R"({"model":"tiny","prompt":"hi"})").status, 503);
  StartWorker();
  EXPECT_EQ(Call(port(), "GET", "/health").status, 200);
  auto models = nlohmann::json::parse(Call(port(), "GET", "/v1/models").body);
  EXPECT_EQ(models["data"][0]["id"], "tiny");
}

TEST_F(HttpFrontendTest, CompletionAndChatStreaming) {
  StartWorker();
  auto r = Call(port(), "POST", "/v1/completions", R"({"model":"tiny","prompt":"hello","max_tokens":4,"n":2})");
  ASSERT_EQ(r.status, 200) << r.body;
  auto body = nlohmann::json::parse(r.body);
  EXPECT_EQ(body["choices"].size(), 2u);
  EXPECT_EQ(body["choices"][0]["finish_reason"], "length");
  EXPECT_EQ(body["usage"]["completion_tokens"], 8);
  EXPECT_EQ(body["choices"][0]["text"], cluster_.tokenizer()->Decode(std::vector<int32_t>(4, server::kFakeToken), true));

  auto s = Call(port(), "POST", "/v1/chat/completions",
                R"({"model":"tiny","messages":[{"role":"user","content":"hi"}],"max_tokens":3,"stream":true,
                    "stream_options":{"include_usage":true}})");
  ASSERT_EQ(s.status, 200);
  EXPECT_EQ(s.body.rfind("data: {", 0), 0u) << s.body;
  EXPECT_NE(s.body.find(R"("role":"assistant")"), std::string::npos);
  EXPECT_NE(s.body.find(R"("completion_tokens":3)"), std::string::npos);
  EXPECT_EQ(s.body.substr(s.body.size() - 14), "data: [DONE]\n\n");

  auto tok = Call(port(), "POST", "/tokenize", R"({"prompt":"hello"})");
  ASSERT_EQ(tok.status, 200);
  auto ids = nlohmann::json::parse(tok.body)["tokens"];
  auto detok = Call(port(), "POST", "/detokenize", nlohmann::json{{"tokens", ids}}.dump());
  EXPECT_NE(nlohmann::json::parse(detok.body)["prompt"].get<std::string>().find("hello"), std::string::npos);
}

TEST_F(HttpFrontendTest, ErrorsHaveStatusAndParam) {
  StartWorker();
  auto check = [&](const std::string& path, const std::string& body, int status, const std::string& param) {
    auto r = Call(port(), "POST", path, body);
    EXPECT_EQ(r.status, status) << body << " -> " << r.body;
    auto j = nlohmann::json::parse(r.body, nullptr, false);
    ASSERT_FALSE(j.is_discarded()) << r.body;
    ASSERT_TRUE(j.contains("error"));
    if (!param.empty()) {
      EXPECT_EQ(j["error"]["param"], param) << r.body;
    }
  };
  check("/v1/completions", "{not json", 400, "");
  check("/v1/completions", R"({"model":"other","prompt":"x"})", 404, "model");
  check("/v1/completions", R"({"model":"tiny","prompt":"x","max_tokens":600})", 400, "max_tokens");
  std::string long_prompt(3000, 'q');
  for (size_t i = 1; i < long_prompt.size(); i += 2) long_prompt[i] = ' ';
  check("/v1/completions", R"({"model":"tiny","prompt":")" + long_prompt + R"("})", 400, "input_tokens");
  check("/v1/chat/completions", R"({"model":"tiny","messages":[{"role":"x","content":"a"}]})", 400,
        "messages[0].role");
  auto big = Call(port(), "POST", "/v1/completions", std::string(100 * 1024, ' '));
  EXPECT_EQ(big.status, 413);
  EXPECT_EQ(Call(port(), "GET", "/nope").status, 404);
}

TEST_F(HttpFrontendTest, DisconnectAbortsAndFreesBlocks) {
  StartWorker();
  int fd = Connect(port());
  SendRequest(fd, "POST", "/v1/completions", R"({"model":"tiny","prompt":"hello","max_tokens":400,"stream":true})");
  char buf[256];
  ASSERT_GT(read(fd, buf, sizeof(buf)), 0);  // streaming has started
  EXPECT_GT(BlocksUsed(), 0u);
  close(fd);
  bool freed = false;
  for (int i = 0; i < 300 && !freed; ++i) {
    freed = BlocksUsed() == 0;
    if (!freed) std::this_thread::sleep_for(10ms);
  }
  EXPECT_TRUE(freed);

  // Non-streaming, too.
  fd = Connect(port());
  SendRequest(fd, "POST", "/v1/completions", R"({"model":"tiny","prompt":"hello","max_tokens":400})");
  for (int i = 0; i < 100 && BlocksUsed() == 0; ++i) std::this_thread::sleep_for(2ms);
  close(fd);
  freed = false;
  for (int i = 0; i < 300 && !freed; ++i) {
    freed = BlocksUsed() == 0;
    if (!freed) std::this_thread::sleep_for(10ms);
  }
  EXPECT_TRUE(freed);
}

}  // namespace
}  // namespace skipjoin::frontend
