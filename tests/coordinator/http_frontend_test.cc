// The HTTP API end to end inside one process: CoordinatorCore + FakeWorker +
// HttpFrontend with the tiny model's tokenizer, driven over a real TCP socket.
#include "coordinator/frontend/http_frontend.h"

#include <arpa/inet.h>
#include <gtest/gtest.h>
#include <netinet/in.h>
#include <strings.h>
#include <fcntl.h>
#include <signal.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include <nlohmann/json.hpp>
#include <sstream>

#include "tests/coordinator/test_cluster.h"

namespace skipjoin::frontend {
namespace {

using namespace std::chrono_literals;

struct HttpReply {
  int status = 0;
  std::string headers;  // the header lines, CRLF-separated
  std::string body;

  // The value of the first header named `name` (any case); "" when absent.
  std::string Header(const std::string& name) const {
    std::istringstream lines(headers);
    std::string line;
    while (std::getline(lines, line)) {
      if (!line.empty() && line.back() == '\r') line.pop_back();
      auto colon = line.find(':');
      if (colon == std::string::npos || colon != name.size()) continue;
      if (strncasecmp(line.c_str(), name.c_str(), name.size()) != 0) continue;
      auto value = line.substr(colon + 1);
      while (!value.empty() && value.front() == ' ') value.erase(0, 1);
      return value;
    }
    return "";
  }
};

sockaddr_in Loopback(uint16_t port) {
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_port = htons(port);
  inet_pton(AF_INET, "127.0.0.1", &addr.sin_addr);
  return addr;
}

int Connect(uint16_t port) {
  int fd = socket(AF_INET, SOCK_STREAM, 0);
  const sockaddr_in addr = Loopback(port);
  EXPECT_EQ(connect(fd, reinterpret_cast<const sockaddr*>(&addr), sizeof(addr)), 0);
  timeval tv{10, 0};
  setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv));
  return fd;
}

// `headers`: extra header lines, each ending in CRLF.
void SendRequest(int fd, const std::string& method, const std::string& path,
                 const std::string& body, const std::string& headers = "") {
  std::string req =
      method + " " + path +
      " HTTP/1.1\r\nHost: x\r\nConnection: close\r\nContent-Type: application/json\r\n" + headers +
      "Content-Length: " + std::to_string(body.size()) + "\r\n\r\n" + body;
  ASSERT_EQ(write(fd, req.data(), req.size()), static_cast<ssize_t>(req.size()));
}

HttpReply Call(uint16_t port, const std::string& method, const std::string& path,
               const std::string& body = "", const std::string& headers = "") {
  int fd = Connect(port);
  SendRequest(fd, method, path, body, headers);
  std::string raw;
  char buf[4096];
  ssize_t n;
  while ((n = read(fd, buf, sizeof(buf))) > 0) raw.append(buf, n);
  close(fd);
  HttpReply r;
  if (raw.size() > 12) r.status = std::stoi(raw.substr(9, 3));
  auto pos = raw.find("\r\n\r\n");
  if (pos != std::string::npos) {
    auto line_end = raw.find("\r\n");
    r.headers = raw.substr(line_end + 2, pos - line_end - 2);
    r.body = raw.substr(pos + 4);
  }
  return r;
}

class HttpFrontendTest : public ::testing::Test {
 protected:
  void SetUp() override {
    ASSERT_NO_FATAL_FAILURE(cluster_.StartCore(&metrics_, "http"));
    ASSERT_NO_FATAL_FAILURE(StartFrontend(std::nullopt));
  }
  // (Re)starts the frontend, with or without an API key and CORS origins.
  void StartFrontend(std::optional<std::string> api_key,
                     std::vector<std::string> cors_origins = {}) {
    if (http_) http_->Stop();
    HttpFrontendOptions h;
    h.cors_origins = std::move(cors_origins);
    h.port = 0;
    h.model_name = "tiny";
    h.max_context = server::TestCluster::kMaxContext;
    h.limits.max_body_bytes = 64 * 1024;
    h.api_key = std::move(api_key);
    auto fe = HttpFrontend::Start(h, cluster_.core(), cluster_.tokenizer(), &metrics_);
    ASSERT_TRUE(fe.ok()) << fe.status().ToString();
    http_ = std::move(*fe);
  }
  void TearDown() override {
    if (http_) http_->Stop();
    cluster_.Stop();
  }
  void StartWorker(std::chrono::milliseconds step_delay = 2ms) {
    cluster_.StartWorker(step_delay);
  }
  // A fresh core whose coordinator map has `coordinator_yaml`, a worker that
  // takes `step_delay` per step, and the frontend.
  void Restart(const std::string& coordinator_yaml, std::chrono::milliseconds step_delay,
               const std::string& scheduler_yaml =
                   "token_budget: 64, max_running: 8, cost_model_dir: none") {
    if (http_) http_->Stop();
    http_.reset();
    cluster_.Stop();
    ASSERT_NO_FATAL_FAILURE(
        cluster_.StartCore(&metrics_, "http", coordinator_yaml, scheduler_yaml));
    ASSERT_NO_FATAL_FAILURE(StartWorker(step_delay));
    ASSERT_NO_FATAL_FAILURE(StartFrontend(std::nullopt));
  }
  uint32_t BlocksUsed() { return cluster_.Status().replicas[0].kv_device_blocks_used; }
  uint16_t port() { return http_->port(); }

  server::NullMetrics metrics_;
  server::TestCluster cluster_;
  std::unique_ptr<HttpFrontend> http_;
};

TEST_F(HttpFrontendTest, HealthIs503UntilAReplicaIsReady) {
  EXPECT_EQ(Call(port(), "GET", "/health").status, 503);
  EXPECT_EQ(Call(port(), "POST", "/v1/completions", R"({"model":"tiny","prompt":"hi"})").status,
            503);
  StartWorker();
  EXPECT_EQ(Call(port(), "GET", "/health").status, 200);
  auto models = nlohmann::json::parse(Call(port(), "GET", "/v1/models").body);
  EXPECT_EQ(models["data"][0]["id"], "tiny");
}

TEST_F(HttpFrontendTest, CompletionAndChatStreaming) {
  StartWorker();
  auto r = Call(port(), "POST", "/v1/completions",
                R"({"model":"tiny","prompt":"hello","max_tokens":4,"n":2})");
  ASSERT_EQ(r.status, 200) << r.body;
  auto body = nlohmann::json::parse(r.body);
  EXPECT_EQ(body["choices"].size(), 2u);
  EXPECT_EQ(body["choices"][0]["finish_reason"], "length");
  EXPECT_EQ(body["usage"]["completion_tokens"], 8);
  EXPECT_EQ(body["choices"][0]["text"],
            cluster_.tokenizer()->Decode(std::vector<int32_t>(4, server::kFakeToken), true));

  auto s = Call(
      port(), "POST", "/v1/chat/completions",
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
  EXPECT_NE(nlohmann::json::parse(detok.body)["prompt"].get<std::string>().find("hello"),
            std::string::npos);
}

TEST_F(HttpFrontendTest, ErrorsHaveStatusAndParam) {
  StartWorker();
  auto check = [&](const std::string& path, const std::string& body, int status,
                   const std::string& param) {
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
  check("/v1/completions", R"({"model":"tiny","prompt":")" + long_prompt + R"("})", 400,
        "input_tokens");
  check("/v1/chat/completions", R"({"model":"tiny","messages":[{"role":"x","content":"a"}]})", 400,
        "messages[0].role");
  auto big = Call(port(), "POST", "/v1/completions", std::string(100 * 1024, ' '));
  EXPECT_EQ(big.status, 413);
  EXPECT_EQ(Call(port(), "GET", "/nope").status, 404);
}

// Asserts `r` is an OpenAI error envelope with this status, code and param
// ("" for null).
void ExpectError(const HttpReply& r, int status, const std::string& code,
                 const std::string& param) {
  EXPECT_EQ(r.status, status) << r.body;
  auto j = nlohmann::json::parse(r.body, nullptr, false);
  ASSERT_FALSE(j.is_discarded()) << r.body;
  ASSERT_TRUE(j.contains("error")) << r.body;
  EXPECT_EQ(j["error"]["type"], "invalid_request_error") << r.body;
  EXPECT_TRUE(j["error"]["message"].is_string()) << r.body;
  if (code.empty()) {
    EXPECT_TRUE(j["error"]["code"].is_null()) << r.body;
  } else {
    EXPECT_EQ(j["error"]["code"], code) << r.body;
  }
  if (param.empty()) {
    EXPECT_TRUE(j["error"]["param"].is_null()) << r.body;
  } else {
    EXPECT_EQ(j["error"]["param"], param) << r.body;
  }
}

TEST_F(HttpFrontendTest, VersionIsTheProjectVersion) {
  // No replica needed: /version is a probe, like /health.
  auto r = Call(port(), "GET", "/version");
  ASSERT_EQ(r.status, 200) << r.body;
  EXPECT_EQ(r.Header("Content-Type"), "application/json");
  EXPECT_EQ(nlohmann::json::parse(r.body),
            (nlohmann::json{{"version", SKIPJOIN_EXPECTED_VERSION}}));
}

TEST_F(HttpFrontendTest, ModelByIdIsTheListEntry) {
  StartWorker();
  auto list = nlohmann::json::parse(Call(port(), "GET", "/v1/models").body);
  auto one = Call(port(), "GET", "/v1/models/tiny");
  ASSERT_EQ(one.status, 200) << one.body;
  EXPECT_EQ(nlohmann::json::parse(one.body), list["data"][0]);
  // Percent-escapes are decoded, so ids with reserved characters can be asked for.
  auto escaped = Call(port(), "GET", "/v1/models/ti%6ey");
  ASSERT_EQ(escaped.status, 200) << escaped.body;
  EXPECT_EQ(nlohmann::json::parse(escaped.body), list["data"][0]);

  auto unknown = Call(port(), "GET", "/v1/models/org/other-model");
  ExpectError(unknown, 404, "model_not_found", "model");
  EXPECT_NE(nlohmann::json::parse(unknown.body)["error"]["message"].get<std::string>().find(
                "'org/other-model'"),
            std::string::npos)
      << unknown.body;
  ExpectError(Call(port(), "GET", "/v1/models/"), 404, "model_not_found", "model");
  ExpectError(Call(port(), "GET", "/v1/models/ti%zzny"), 400, "", "model");
}

TEST_F(HttpFrontendTest, WrongMethodOnAKnownPathIs405WithAllow) {
  StartWorker();
  struct Case {
    std::string method, path, allow;
  };
  for (const Case& c :
       {Case{"GET", "/v1/completions", "POST"}, Case{"GET", "/v1/chat/completions", "POST"},
        Case{"POST", "/health", "GET"}, Case{"DELETE", "/v1/models", "GET"},
        Case{"PUT", "/v1/models/tiny", "GET"}, Case{"POST", "/metrics", "GET"},
        Case{"POST", "/version", "GET"}, Case{"GET", "/tokenize", "POST"}}) {
    SCOPED_TRACE(c.method + " " + c.path);
    auto r = Call(port(), c.method, c.path);
    ExpectError(r, 405, "method_not_allowed", "");
    EXPECT_EQ(r.Header("Allow"), c.allow);
  }
  // Unknown paths stay 404 whatever the method, and carry no Allow.
  for (const char* method : {"GET", "POST", "DELETE"}) {
    auto r = Call(port(), method, "/v1/nope");
    ExpectError(r, 404, "not_found", "");
    EXPECT_EQ(r.Header("Allow"), "");
  }
}

TEST_F(HttpFrontendTest, ApiKeyIsCheckedBeforeMethodAndPath) {
  ASSERT_NO_FATAL_FAILURE(StartFrontend("sekrit"));
  StartWorker();
  const std::string key = "Authorization: Bearer sekrit\r\n";
  EXPECT_EQ(Call(port(), "GET", "/v1/completions").status, 401);
  EXPECT_EQ(Call(port(), "GET", "/v1/completions", "", key).status, 405);
  EXPECT_EQ(Call(port(), "GET", "/v1/models/tiny").status, 401);
  EXPECT_EQ(Call(port(), "GET", "/v1/models/tiny", "", key).status, 200);
  EXPECT_EQ(Call(port(), "GET", "/nope").status, 401);
  EXPECT_EQ(Call(port(), "GET", "/nope", "", key).status, 404);
  // The probes answer without the key, and so does their 405.
  EXPECT_EQ(Call(port(), "GET", "/version").status, 200);
  EXPECT_EQ(Call(port(), "POST", "/health").status, 405);
}

TEST_F(HttpFrontendTest, RequestIdIsEchoedOnEveryKindOfResponse) {
  StartWorker();
  const std::string id = "client-7f3a_9 (retry 2)";
  const std::string header = "X-Request-Id: " + id + "\r\n";
  const std::string completion = R"({"model":"tiny","prompt":"hello","max_tokens":3})";
  const std::string streaming = R"({"model":"tiny","prompt":"hello","max_tokens":3,"stream":true})";
  struct Case {
    std::string method, path, body;
    int status;
  };
  for (const Case& c :
       {Case{"POST", "/v1/completions", completion, 200},
        Case{"POST", "/v1/completions", streaming, 200},
        Case{"POST", "/v1/completions", R"({"model":"other","prompt":"x"})", 404},
        Case{"POST", "/v1/completions", "{not json", 400}, Case{"GET", "/health", "", 200},
        Case{"GET", "/v1/completions", "", 405}, Case{"GET", "/nope", "", 404},
        Case{"POST", "/v1/completions", std::string(100 * 1024, ' '), 413}}) {
    SCOPED_TRACE(c.method + " " + c.path + " " + c.body.substr(0, 60));
    auto r = Call(port(), c.method, c.path, c.body, header);
    EXPECT_EQ(r.status, c.status) << r.body;
    EXPECT_EQ(r.Header("X-Request-Id"), id);
  }
  // The longest allowed id is echoed whole.
  const std::string longest(128, 'x');
  EXPECT_EQ(Call(port(), "GET", "/health", "", "X-Request-Id: " + longest + "\r\n")
                .Header("X-Request-Id"),
            longest);
}

TEST_F(HttpFrontendTest, RequestIdIsGeneratedWhenAbsent) {
  StartWorker();
  // A completion's generated id is its completion id.
  auto r = Call(port(), "POST", "/v1/completions",
                R"({"model":"tiny","prompt":"hello","max_tokens":3})");
  ASSERT_EQ(r.status, 200) << r.body;
  EXPECT_EQ(r.Header("X-Request-Id"), nlohmann::json::parse(r.body)["id"].get<std::string>());
  auto s = Call(
      port(), "POST", "/v1/chat/completions",
      R"({"model":"tiny","messages":[{"role":"user","content":"hi"}],"max_tokens":2,"stream":true})");
  ASSERT_EQ(s.status, 200) << s.body;
  const std::string streamed = s.Header("X-Request-Id");
  EXPECT_EQ(streamed.rfind("chatcmpl-", 0), 0u) << streamed;
  EXPECT_NE(s.body.find(R"("id":")" + streamed + R"(")"), std::string::npos) << s.body;
  // Other requests get a fresh one each.
  const std::string a = Call(port(), "GET", "/v1/models").Header("X-Request-Id");
  const std::string b = Call(port(), "GET", "/v1/models").Header("X-Request-Id");
  EXPECT_FALSE(a.empty());
  EXPECT_NE(a, b);
}

TEST_F(HttpFrontendTest, InvalidRequestIdIs400NamingTheHeader) {
  StartWorker();
  const std::string completion = R"({"model":"tiny","prompt":"hello","max_tokens":3})";
  for (const std::string& bad : {"X-Request-Id: " + std::string(129, 'x') + "\r\n",
                                 std::string("X-Request-Id: caf\xc3\xa9\r\n"),  // not ASCII
                                 std::string("X-Request-Id:\r\n"),              // empty
                                 std::string("X-Request-Id: a\r\nX-Request-Id: b\r\n")}) {
    SCOPED_TRACE(bad);
    auto r = Call(port(), "POST", "/v1/completions", completion, bad);
    ExpectError(r, 400, "", "X-Request-Id");
    // The bad id is not echoed; the 400 still carries one to quote.
    const std::string got = r.Header("X-Request-Id");
    EXPECT_FALSE(got.empty());
    EXPECT_EQ(bad.find(got), std::string::npos) << got;
  }
}

TEST_F(HttpFrontendTest, DisconnectAbortsAndFreesBlocks) {
  StartWorker();
  int fd = Connect(port());
  SendRequest(fd, "POST", "/v1/completions",
              R"({"model":"tiny","prompt":"hello","max_tokens":400,"stream":true})");
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
  SendRequest(fd, "POST", "/v1/completions",
              R"({"model":"tiny","prompt":"hello","max_tokens":400})");
  for (int i = 0; i < 100 && BlocksUsed() == 0; ++i) std::this_thread::sleep_for(2ms);
  close(fd);
  freed = false;
  for (int i = 0; i < 300 && !freed; ++i) {
    freed = BlocksUsed() == 0;
    if (!freed) std::this_thread::sleep_for(10ms);
  }
  EXPECT_TRUE(freed);
}

TEST_F(HttpFrontendTest, BatchPromptsGetNChoicesEachIndexedByPromptAndSample) {
  StartWorker();
  const std::vector<std::string> prompts = {"hello", "hi there"};
  int64_t prompt_tokens = 0;
  for (const std::string& p : prompts)
    prompt_tokens += static_cast<int64_t>(cluster_.tokenizer()->Encode(p, true, false).size());
  const std::string fake =
      cluster_.tokenizer()->Decode(std::vector<int32_t>(3, server::kFakeToken), true);
  auto r = Call(port(), "POST", "/v1/completions",
                R"({"prompt":["hello","hi there"],"max_tokens":3,"n":2,"echo":true})");
  ASSERT_EQ(r.status, 200) << r.body;
  auto body = nlohmann::json::parse(r.body);
  ASSERT_EQ(body["choices"].size(), 4u);
  for (size_t i = 0; i < 4; ++i) {
    EXPECT_EQ(body["choices"][i]["index"], i);
    EXPECT_EQ(body["choices"][i]["text"], prompts[i / 2] + fake) << i;
  }
  EXPECT_EQ(body["usage"]["prompt_tokens"], prompt_tokens);
  EXPECT_EQ(body["usage"]["completion_tokens"], 12);

  auto s = Call(port(), "POST", "/v1/completions",
                R"({"prompt":[[7,7],[8]],"max_tokens":2,"n":2,"stream":true,
                    "stream_options":{"include_usage":true}})");
  ASSERT_EQ(s.status, 200) << s.body;
  std::vector<int> finished(4, 0);
  for (size_t pos = 0; (pos = s.body.find("data: {", pos)) != std::string::npos; ++pos) {
    auto chunk = nlohmann::json::parse(s.body.substr(pos + 6, s.body.find("\n\n", pos) - pos - 6));
    if (chunk["choices"].empty()) {
      EXPECT_EQ(chunk["usage"]["prompt_tokens"], 3);
      EXPECT_EQ(chunk["usage"]["completion_tokens"], 8);
      continue;
    }
    const auto& c = chunk["choices"][0];
    ASSERT_LT(c["index"].get<size_t>(), 4u) << chunk.dump();
    if (!c["finish_reason"].is_null()) ++finished[c["index"].get<size_t>()];
  }
  EXPECT_EQ(finished, (std::vector<int>{1, 1, 1, 1}));

  // A bad element is named; nothing of the batch runs.
  for (int i = 0; i < 300 && cluster_.core()->admission().pending_requests() > 0; ++i)
    std::this_thread::sleep_for(10ms);
  auto e = Call(port(), "POST", "/v1/completions", R"({"prompt":[[7],[99999999]]})");
  ExpectError(e, 400, "", "prompt[1]");
  EXPECT_EQ(cluster_.core()->admission().pending_requests(), 0);
}

TEST_F(HttpFrontendTest, EchoWithMaxTokensZeroReturnsThePromptAlone) {
  StartWorker();
  auto r =
      Call(port(), "POST", "/v1/completions", R"({"prompt":"hello","max_tokens":0,"echo":true})");
  ASSERT_EQ(r.status, 200) << r.body;
  auto body = nlohmann::json::parse(r.body);
  EXPECT_EQ(body["choices"][0]["text"], "hello");
  EXPECT_EQ(body["choices"][0]["finish_reason"], "length");
  EXPECT_EQ(body["usage"]["completion_tokens"], 0);
  ExpectError(Call(port(), "POST", "/v1/completions", R"({"prompt":"hello","max_tokens":0})"), 400,
              "", "max_tokens");
  for (int i = 0; i < 300 && cluster_.core()->admission().pending_requests() > 0; ++i)
    std::this_thread::sleep_for(10ms);
  EXPECT_EQ(cluster_.core()->admission().pending_requests(), 0);  // the scored token's run ended
}

TEST_F(HttpFrontendTest, DisconnectCancelsEveryRequestOfABatch) {
  StartWorker(20ms);
  int fd = Connect(port());
  SendRequest(fd, "POST", "/v1/completions",
              R"({"prompt":["hello","hi"],"n":2,"max_tokens":100,"stream":true})");
  char buf[256];
  ASSERT_GT(read(fd, buf, sizeof(buf)), 0);  // streaming has started
  EXPECT_EQ(cluster_.core()->admission().pending_requests(), 4);
  close(fd);
  // Well before the 100 tokens (2 s at 20 ms a step) could end by themselves.
  for (int i = 0; i < 100 && cluster_.core()->admission().pending_requests() > 0; ++i)
    std::this_thread::sleep_for(10ms);
  EXPECT_EQ(cluster_.core()->admission().pending_requests(), 0);
  EXPECT_EQ(BlocksUsed(), 0u);
}

TEST_F(HttpFrontendTest, CorsIsOffByDefault) {
  StartWorker();
  const std::string origin = "Origin: https://app.example\r\n";
  auto r = Call(port(), "GET", "/v1/models", "", origin);
  EXPECT_EQ(r.status, 200);
  EXPECT_EQ(r.headers.find("Access-Control-"), std::string::npos) << r.headers;
  auto pre = Call(port(), "OPTIONS", "/v1/completions", "",
                  origin + "Access-Control-Request-Method: POST\r\n");
  EXPECT_EQ(pre.status, 405);
  EXPECT_EQ(pre.headers.find("Access-Control-"), std::string::npos) << pre.headers;
}

TEST_F(HttpFrontendTest, CorsAnswersAllowedOriginsOnly) {
  ASSERT_NO_FATAL_FAILURE(StartFrontend("k", {"https://app.example"}));
  StartWorker();
  const std::string allowed = "Origin: https://app.example\r\n";
  const std::string other = "Origin: https://evil.example\r\n";
  const std::string key = "Authorization: Bearer k\r\n";
  // Preflight: before the API key check (browsers send it without credentials).
  auto pre = Call(port(), "OPTIONS", "/v1/completions", "",
                  allowed + "Access-Control-Request-Method: POST\r\n");
  EXPECT_EQ(pre.status, 204);
  EXPECT_TRUE(pre.body.empty());
  EXPECT_EQ(pre.Header("Access-Control-Allow-Origin"), "https://app.example");
  EXPECT_EQ(pre.Header("Vary"), "Origin");
  EXPECT_EQ(pre.Header("Access-Control-Allow-Methods"), "POST, OPTIONS");
  EXPECT_EQ(pre.Header("Access-Control-Allow-Headers"),
            "Authorization, Content-Type, X-Request-Id");
  EXPECT_EQ(pre.Header("Access-Control-Max-Age"), "600");
  EXPECT_EQ(pre.Header("Content-Length"), "");
  EXPECT_EQ(
      Call(port(), "OPTIONS", "/v1/models", "", allowed).Header("Access-Control-Allow-Methods"),
      "GET, OPTIONS");
  auto bad_pre = Call(port(), "OPTIONS", "/v1/completions", "", other);
  EXPECT_EQ(bad_pre.status, 204);
  EXPECT_EQ(bad_pre.headers.find("Access-Control-"), std::string::npos) << bad_pre.headers;

  // Normal, error and streaming responses.
  const std::string body = R"({"prompt":"hello","max_tokens":2})";
  auto ok = Call(port(), "POST", "/v1/completions", body, allowed + key);
  EXPECT_EQ(ok.status, 200) << ok.body;
  EXPECT_EQ(ok.Header("Access-Control-Allow-Origin"), "https://app.example");
  EXPECT_EQ(ok.Header("Vary"), "Origin");
  EXPECT_EQ(ok.Header("Access-Control-Expose-Headers"), "X-Request-Id");
  auto denied = Call(port(), "POST", "/v1/completions", body, allowed);
  EXPECT_EQ(denied.status, 401);
  EXPECT_EQ(denied.Header("Access-Control-Allow-Origin"), "https://app.example");
  auto stream = Call(port(), "POST", "/v1/completions",
                     R"({"prompt":"hello","max_tokens":2,"stream":true})", allowed + key);
  EXPECT_EQ(stream.status, 200);
  EXPECT_EQ(stream.Header("Access-Control-Allow-Origin"), "https://app.example");
  EXPECT_EQ(stream.Header("Vary"), "Origin");
  auto foreign = Call(port(), "POST", "/v1/completions", body, other + key);
  EXPECT_EQ(foreign.status, 200);
  EXPECT_EQ(foreign.headers.find("Access-Control-"), std::string::npos) << foreign.headers;
  auto no_origin = Call(port(), "POST", "/v1/completions", body, key);
  EXPECT_EQ(no_origin.headers.find("Access-Control-"), std::string::npos) << no_origin.headers;

  // "*": any origin, and no Vary.
  ASSERT_NO_FATAL_FAILURE(StartFrontend(std::nullopt, {"*"}));
  auto any = Call(port(), "GET", "/v1/models", "", other);
  EXPECT_EQ(any.Header("Access-Control-Allow-Origin"), "*");
  EXPECT_EQ(any.Header("Vary"), "");
}

// Call, and how long it took, seconds.
std::pair<HttpReply, double> TimedCall(uint16_t port, const std::string& body) {
  const auto start = std::chrono::steady_clock::now();
  HttpReply r = Call(port, "POST", "/v1/completions", body);
  return {r, std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count()};
}

// Opens a streaming completion and returns its socket once the first bytes
// of the stream arrived (the request is admitted and running).
int OpenStream(uint16_t port, int max_tokens) {
  int fd = Connect(port);
  SendRequest(fd, "POST", "/v1/completions",
              R"({"model":"tiny","prompt":"hello","stream":true,"max_tokens":)" +
                  std::to_string(max_tokens) + "}");
  char buf[256];
  EXPECT_GT(read(fd, buf, sizeof(buf)), 0);
  return fd;
}

TEST_F(HttpFrontendTest, RequestsPastThePendingLimitGet429WithRetryAfterAtOnce) {
  ASSERT_NO_FATAL_FAILURE(Restart("limits: {max_pending_requests: 2}", 50ms));
  const int a = OpenStream(port(), 400);
  const int b = OpenStream(port(), 400);
  auto [r, seconds] = TimedCall(port(), R"({"model":"tiny","prompt":"hello","max_tokens":2})");
  EXPECT_EQ(r.status, 429) << r.body;
  EXPECT_LT(seconds, 1.0);  // answered without waiting for the queue
  auto body = nlohmann::json::parse(r.body);
  EXPECT_EQ(body["error"]["type"], "rate_limit_error");
  EXPECT_EQ(body["error"]["code"], "server_overloaded");
  EXPECT_NE(body["error"]["message"].get<std::string>().find("max_pending"), std::string::npos);
  const std::string retry = r.Header("Retry-After");
  ASSERT_FALSE(retry.empty());
  EXPECT_GE(std::stoi(retry), 1);
  EXPECT_LE(std::stoi(retry), 60);
  // n counts each choice: n=2 does not fit beside one running request either.
  close(a);
  bool room = false;
  for (int i = 0; i < 300 && !room; ++i) {
    room = cluster_.core()->admission().pending_requests() == 1;
    if (!room) std::this_thread::sleep_for(10ms);
  }
  ASSERT_TRUE(room);
  r = Call(port(), "POST", "/v1/completions",
           R"({"model":"tiny","prompt":"hello","max_tokens":2,"n":2})");
  EXPECT_EQ(r.status, 429) << r.body;
  r = Call(port(), "POST", "/v1/completions",
           R"({"model":"tiny","prompt":"hello","max_tokens":2})");
  EXPECT_EQ(r.status, 200) << r.body;
  close(b);
  for (int i = 0; i < 300 && cluster_.core()->admission().pending_requests() > 0; ++i)
    std::this_thread::sleep_for(10ms);
  EXPECT_EQ(cluster_.core()->admission().pending_requests(), 0);
  EXPECT_EQ(cluster_.core()->admission().pending_tokens(), 0);
}

TEST_F(HttpFrontendTest, PromptTokensPastThePendingLimitGet429) {
  ASSERT_NO_FATAL_FAILURE(Restart("limits: {max_pending_tokens: 60}", 50ms));
  std::string tokens = "[";
  for (int i = 0; i < 40; ++i) tokens += std::string(i ? "," : "") + "7";
  tokens += "]";
  const std::string req = R"({"model":"tiny","max_tokens":300,"stream":true,"prompt":)" + tokens + "}";
  int fd = Connect(port());
  SendRequest(fd, "POST", "/v1/completions", req);
  char buf[256];
  ASSERT_GT(read(fd, buf, sizeof(buf)), 0);
  EXPECT_EQ(cluster_.core()->admission().pending_tokens(), 40);
  auto r = Call(port(), "POST", "/v1/completions",
                R"({"model":"tiny","max_tokens":2,"prompt":)" + tokens + "}");
  EXPECT_EQ(r.status, 429) << r.body;
  EXPECT_NE(r.body.find("prompt tokens"), std::string::npos) << r.body;
  // A small one still fits.
  r = Call(port(), "POST", "/v1/completions",
           R"({"model":"tiny","max_tokens":2,"prompt":[7,7,7]})");
  EXPECT_EQ(r.status, 200) << r.body;
  close(fd);
}

TEST_F(HttpFrontendTest, ARequestWaitingPastMaxQueueSecondsGets429) {
  // One slot, first come first served: a second request waits.
  ASSERT_NO_FATAL_FAILURE(Restart("limits: {max_queue_seconds: 0.5}", 50ms,
                                  "policy: fcfs, max_running: 1, cost_model_dir: none"));
  const int a = OpenStream(port(), 400);
  auto [r, seconds] =
      TimedCall(port(), R"({"model":"tiny","prompt":"hello","max_tokens":480})");
  EXPECT_EQ(r.status, 429) << r.body;
  EXPECT_NE(r.body.find("max_queue_seconds"), std::string::npos) << r.body;
  EXPECT_GE(seconds, 0.45);
  EXPECT_LT(seconds, 5.0);
  EXPECT_EQ(cluster_.core()->admission().pending_requests(), 1);  // the running one
  close(a);
}

// Out of descriptors, the accept loop neither spins nor locks the API out:
// it closes its oldest idle connection to take a new one.
TEST_F(HttpFrontendTest, OutOfDescriptorsClosesIdleConnectionsInsteadOfSpinning) {
  StartWorker();
  // The probe's socket exists before the descriptors run out.
  const int probe = socket(AF_INET, SOCK_STREAM, 0);
  ASSERT_GE(probe, 0);
  int open_now = 0;
  for (int fd = 0; fd < 65536; ++fd) open_now += fcntl(fd, F_GETFD) != -1 ? 1 : 0;
  rlimit old{};
  ASSERT_EQ(getrlimit(RLIMIT_NOFILE, &old), 0);
  rlimit low = old;
  low.rlim_cur = static_cast<rlim_t>(open_now + 48);
  ASSERT_EQ(setrlimit(RLIMIT_NOFILE, &low), 0);
  // The idle clients live in a child, whose descriptors do not count here.
  int ready[2];
  ASSERT_EQ(pipe(ready), 0);
  const uint16_t p = port();
  const pid_t child = fork();
  if (child == 0) {
    setrlimit(RLIMIT_NOFILE, &old);
    for (int i = 0; i < 200; ++i) {
      int fd = socket(AF_INET, SOCK_STREAM, 0);
      const sockaddr_in addr = Loopback(p);
      if (connect(fd, reinterpret_cast<const sockaddr*>(&addr), sizeof(addr)) != 0) _exit(2);
    }
    const char c = 'x';
    if (write(ready[1], &c, 1) != 1) _exit(3);
    pause();
    _exit(0);
  }
  ASSERT_GT(child, 0);
  close(ready[1]);
  char c;
  ASSERT_EQ(read(ready[0], &c, 1), 1);
  close(ready[0]);
  std::this_thread::sleep_for(1s);  // the accept loop works through the backlog
  const sockaddr_in addr = Loopback(p);
  ASSERT_EQ(connect(probe, reinterpret_cast<const sockaddr*>(&addr), sizeof(addr)), 0);
  timeval tv{10, 0};
  setsockopt(probe, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv));
  SendRequest(probe, "GET", "/health", "");
  std::string raw;
  char buf[512];
  ssize_t n;
  while ((n = read(probe, buf, sizeof(buf))) > 0) raw.append(buf, n);
  close(probe);
  const int64_t errors = http_->accept_errors();
  const int64_t evictions = http_->idle_evictions();
  kill(child, SIGKILL);
  waitpid(child, nullptr, 0);
  setrlimit(RLIMIT_NOFILE, &old);
  EXPECT_EQ(raw.substr(0, 12), "HTTP/1.1 200") << raw;
  EXPECT_GT(errors, 0);     // the limit was reached
  EXPECT_GT(evictions, 0);  // and idle connections made room
  EXPECT_LT(errors, 2000);  // one failure per connection made room for, not a spin
}

}  // namespace
}  // namespace skipjoin::frontend
