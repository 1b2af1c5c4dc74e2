// The Beast half of the HTTP API: accept loop, sessions, routing, streaming.
// The API's semantics live in openai_request / generation_response; this file
// only moves bytes and calls them.
#include "coordinator/frontend/http_frontend.h"

#include <sys/socket.h>

#include <atomic>
#include <boost/asio.hpp>
#include <boost/beast/core.hpp>
#include <boost/beast/http.hpp>
#include <cerrno>
#include <chrono>
#include <ctime>
#include <deque>
#include <functional>
#include <map>
#include <mutex>
#include <nlohmann/json.hpp>
#include <optional>
#include <random>
#include <string_view>
#include <thread>

#include "common/logging.h"
#include "coordinator/frontend/api_error.h"
#include "coordinator/frontend/cors.h"
#include "coordinator/frontend/generation_request.h"
#include "coordinator/frontend/generation_response.h"
#include "coordinator/frontend/openai_request.h"
#include "coordinator/tokenizer/chat_template.h"

// The project() version in the top-level CMakeLists.txt, set by this target's
// CMakeLists.txt; GET /version reports it.
#ifndef SKIPJOIN_VERSION
#error "SKIPJOIN_VERSION must be defined by the build (coordinator/frontend/CMakeLists.txt)"
#endif

namespace skipjoin::frontend {

namespace beast = boost::beast;
namespace http = beast::http;
namespace net = boost::asio;
using tcp = net::ip::tcp;
using nlohmann::json;

namespace {

constexpr auto kReadTimeout = std::chrono::seconds(60);

std::string RandomHex(int bytes) {
  thread_local std::mt19937_64 rng(std::random_device{}());
  static const char* kHex = "0123456789abcdef";
  std::string s;
  for (int i = 0; i < bytes; ++i) {
    const unsigned v = static_cast<unsigned>(rng() & 0xFF);
    s += kHex[v >> 4];
    s += kHex[v & 15];
  }
  return s;
}

std::string Dump(const json& j) { return j.dump(-1, ' ', false, json::error_handler_t::replace); }

// The routing table. A known path asked with a method it lacks gets 405 and
// an Allow header listing the methods it has here; any other path gets 404.
enum class Route {
  kHealth,
  kMetrics,
  kVersion,
  kModels,
  kModel,
  kTokenize,
  kDetokenize,
  kCompletions,
  kChat,
};

struct RouteSpec {
  std::string_view path;  // the whole path, or its prefix when `prefix`
  bool prefix;            // the rest of the path is the route's argument
  http::verb method;
  bool needs_auth;  // false for the probes, which a monitor calls without the API key
  Route route;
};

constexpr RouteSpec kRoutes[] = {
    {"/health", false, http::verb::get, false, Route::kHealth},
    {"/metrics", false, http::verb::get, false, Route::kMetrics},
    {"/version", false, http::verb::get, false, Route::kVersion},
    {"/v1/models", false, http::verb::get, true, Route::kModels},
    {"/v1/models/", true, http::verb::get, true, Route::kModel},
    {"/tokenize", false, http::verb::post, true, Route::kTokenize},
    {"/detokenize", false, http::verb::post, true, Route::kDetokenize},
    {"/v1/completions", false, http::verb::post, true, Route::kCompletions},
    {"/v1/chat/completions", false, http::verb::post, true, Route::kChat},
};

bool PathMatches(const RouteSpec& route, std::string_view path) {
  return route.prefix ? path.starts_with(route.path) : path == route.path;
}

// A char array, not a std::string_view: Beast 1.74's field setters take its
// own string_view, which does not convert from std's.
constexpr char kRequestIdHeader[] = "X-Request-Id";
constexpr size_t kMaxRequestIdBytes = 128;

// The id is echoed into a response header and a log line, so it may carry
// neither CR/LF (header injection) nor other control or non-ASCII bytes.
bool ValidRequestId(std::string_view id) {
  if (id.empty() || id.size() > kMaxRequestIdBytes) return false;
  for (const char c : id) {
    const auto b = static_cast<unsigned char>(c);
    if (b < 0x20 || b > 0x7E) return false;
  }
  return true;
}

// Decodes %XX escapes in a path ("org%2Fmodel" -> "org/model"), so a model id
// with reserved characters can be asked for; nullopt on a malformed escape.
std::optional<std::string> PercentDecode(std::string_view text) {
  auto hex = [](char c) -> int {
    if (c >= '0' && c <= '9') return c - '0';
    if (c >= 'a' && c <= 'f') return c - 'a' + 10;
    if (c >= 'A' && c <= 'F') return c - 'A' + 10;
    return -1;
  };
  std::string out;
  for (size_t i = 0; i < text.size(); ++i) {
    if (text[i] != '%') {
      out += text[i];
      continue;
    }
    if (i + 2 >= text.size() || hex(text[i + 1]) < 0 || hex(text[i + 2]) < 0) return std::nullopt;
    out += static_cast<char>(hex(text[i + 1]) * 16 + hex(text[i + 2]));
    i += 2;
  }
  return out;
}

}  // namespace

class HttpFrontend::Impl {
 public:
  Impl(const HttpFrontendOptions& o, server::CoordinatorCore* core, const Tokenizer* tok,
       server::CoordinatorMetrics* metrics)
      : options(o),
        core(core),
        tokenizer(tok),
        metrics(metrics),
        chat_template(ChatTemplate::FromTemplateText(
            tok->chat_template(), tok->TokenText(tok->bos_id()), tok->TokenText(tok->eos_id()))),
        stop_ids(tok->StopTokenIds()),
        cors(o.cors_origins),
        acceptor(ioc) {
    setup.tokenizer = tok;
    setup.chat_template = &chat_template;
    setup.stop_token_ids = stop_ids;
    setup.model_name = o.model_name;
    setup.model_aliases = o.model_aliases;
    setup.max_context = o.max_context;
    setup.limits = o.limits;
  }

  void Accept();
  // An accept failed with `ec`: make room or back off, then accept again.
  void OnAcceptError(const beast::error_code& ec);

  // Idle sessions (waiting for a request), oldest first; each entry closes
  // its session on the session's strand. Any thread.
  uint64_t AddIdle(std::function<void()> close) {
    std::lock_guard<std::mutex> lock(idle_mu);
    const uint64_t id = next_idle_id++;
    idle.emplace(id, std::move(close));
    return id;
  }
  void RemoveIdle(uint64_t id) {
    std::lock_guard<std::mutex> lock(idle_mu);
    idle.erase(id);
  }
  bool CloseOldestIdle() {
    std::function<void()> close;
    {
      std::lock_guard<std::mutex> lock(idle_mu);
      if (idle.empty()) return false;
      close = std::move(idle.begin()->second);
      idle.erase(idle.begin());
    }
    close();
    return true;
  }

  HttpFrontendOptions options;
  server::CoordinatorCore* core;
  const Tokenizer* tokenizer;
  server::CoordinatorMetrics* metrics;
  ChatTemplate chat_template;
  std::vector<int32_t> stop_ids;
  GenerationSetup setup;  // points into this object
  CorsPolicy cors;
  net::io_context ioc;
  tcp::acceptor acceptor;
  std::vector<std::thread> threads;
  std::atomic<bool> stopped{false};
  uint16_t bound_port = 0;

  std::mutex idle_mu;
  std::map<uint64_t, std::function<void()>> idle;  // by age
  uint64_t next_idle_id = 1;
  // Accept loop: one accept outstanding at a time, so these are not shared.
  net::steady_timer accept_timer{ioc};
  std::chrono::milliseconds accept_backoff{0};
  std::chrono::steady_clock::time_point accept_log_at{};
  int64_t accept_errors_unlogged = 0;
  std::atomic<int64_t> accept_errors{0};
  std::atomic<int64_t> idle_evictions{0};
};

namespace {

class Session : public std::enable_shared_from_this<Session> {
 public:
  Session(tcp::socket socket, HttpFrontend::Impl* fe) : stream_(std::move(socket)), fe_(fe) {}
  void Start() {
    net::dispatch(stream_.get_executor(), [self = shared_from_this()] { self->Read(); });
  }
  // Core thread -> this session's strand.
  void Post(std::vector<server::SequenceEvent> events) {
    net::post(stream_.get_executor(),
              [self = shared_from_this(), ev = std::move(events)]() mutable {
                self->OnEvents(std::move(ev));
              });
  }

 private:
  using Request = http::request<http::string_body>;

  void Read() {
    parser_.emplace();
    parser_->body_limit(fe_->options.limits.max_body_bytes);
    stream_.expires_after(kReadTimeout);
    // Idle until the request is in: the first to close when descriptors run out.
    idle_id_ = fe_->AddIdle([weak = weak_from_this()] {
      if (auto self = weak.lock()) {
        net::post(self->stream_.get_executor(), [self] { self->Close(); });
      }
    });
    http::async_read(
        stream_, buffer_, *parser_,
        [self = shared_from_this()](beast::error_code ec, size_t) { self->OnRead(ec); });
  }

  void OnRead(beast::error_code ec) {
    fe_->RemoveIdle(idle_id_);
    if (ec == http::error::body_limit) {
      keep_alive_ = false;
      // The header is in: echo a valid client id. An invalid one keeps the
      // generated id; the 413 is still the answer.
      AssignRequestId(parser_->get());
      cors_headers_ = fe_->cors.ResponseHeaders(OriginOf(parser_->get()));
      return SendError(PayloadTooLarge(
          "request body exceeds " + std::to_string(fe_->options.limits.max_body_bytes) + " bytes"));
    }
    if (ec) return Close();
    Request req = parser_->release();
    keep_alive_ = req.keep_alive();
    Handle(req);
  }

  void Close() {
    if (closed_) return;
    closed_ = true;
    beast::error_code ec;
    stream_.socket().shutdown(tcp::socket::shutdown_both, ec);
    stream_.close();
  }

  // `allow`: the Allow header of a 405; empty for every other response.
  // `retry_after` > 0: a Retry-After header (seconds), for 429 and 503.
  void Send(http::status status, const std::string& content_type, std::string body,
            const std::string& allow = "", int retry_after = 0) {
    auto res = std::make_shared<http::response<http::string_body>>(status, 11);
    res->set(http::field::server, "skipjoin");
    if (!content_type.empty()) res->set(http::field::content_type, content_type);
    res->set(kRequestIdHeader, request_id_);
    for (const auto& [name, value] : cors_headers_) res->set(name, value);
    if (!allow.empty()) res->set(http::field::allow, allow);
    if (retry_after > 0) res->set(http::field::retry_after, std::to_string(retry_after));
    res->keep_alive(keep_alive_);
    res->body() = std::move(body);
    // A 204 carries no Content-Length at all (RFC 9110 8.6).
    if (status != http::status::no_content) res->prepare_payload();
    stream_.expires_after(kReadTimeout);
    http::async_write(stream_, *res,
                      [self = shared_from_this(), res](beast::error_code ec, size_t) {
                        if (ec || !res->keep_alive()) return self->Close();
                        self->Read();
                      });
  }
  void SendJson(const std::string& body) { Send(http::status::ok, "application/json", body); }
  void SendError(const ApiError& e, const std::string& allow = "") {
    LogIfInternal(e);
    Send(static_cast<http::status>(e.http_status), "application/json", ErrorBody(e), allow,
         e.retry_after_seconds);
  }
  // 500s are the failures an operator has to chase; the request id ties the
  // line to what the client saw. Client errors and 503s are not logged: a
  // client or a loading cluster could flood the log with them.
  void LogIfInternal(const ApiError& e) {
    if (e.http_status == 500) SJ_LOG(Error) << "http request " << request_id_ << ": " << e.message;
  }

  // Sets request_id_ for the request whose header is `fields`: the client's
  // X-Request-Id, or a generated one when it sent none or an invalid one (so
  // even the 400 about it carries an id). Returns that 400.
  std::optional<ApiError> AssignRequestId(const http::fields& fields) {
    request_id_ = "req-" + RandomHex(12);
    client_request_id_ = false;
    auto [first, last] = fields.equal_range(kRequestIdHeader);
    if (first == last) return std::nullopt;
    if (std::next(first) != last) {
      return BadRequest("send at most one X-Request-Id header", kRequestIdHeader);
    }
    const std::string_view id(first->value().data(), first->value().size());
    if (!ValidRequestId(id)) {
      return BadRequest("X-Request-Id must be 1 to " + std::to_string(kMaxRequestIdBytes) +
                            " printable ASCII characters",
                        kRequestIdHeader);
    }
    request_id_ = std::string(id);
    client_request_id_ = true;
    return std::nullopt;
  }

  // The request's Origin header; "" when it has none, or more than one
  // (which no browser sends, so nothing is allowed for it).
  static std::string OriginOf(const http::fields& fields) {
    auto [first, last] = fields.equal_range(http::field::origin);
    if (first == last || std::next(first) != last) return "";
    return std::string(first->value());
  }

  // A CORS preflight (OPTIONS on a known path while CORS is on): 204, with
  // the Access-Control-* headers when the Origin is allowed. It comes before
  // the API key check, since browsers send preflights without credentials.
  void Preflight(const Request& req, const std::string& methods) {
    cors_headers_ = fe_->cors.PreflightHeaders(OriginOf(req), methods);
    Send(http::status::no_content, "", "", methods + ", OPTIONS");
  }

  bool Authorized(const Request& req) {
    if (!fe_->options.api_key) return true;
    auto it = req.find(http::field::authorization);
    return it != req.end() && std::string(it->value()) == "Bearer " + *fe_->options.api_key;
  }

  void Handle(const Request& req) {
    std::string target(req.target());
    if (auto q = target.find('?'); q != std::string::npos) target.resize(q);
    cors_headers_ = fe_->cors.ResponseHeaders(OriginOf(req));
    if (auto e = AssignRequestId(req)) return SendError(*e);
    const RouteSpec* route = nullptr;
    bool known = false;
    bool needs_auth = false;
    std::string allow;  // the methods this path has, for a 405
    for (const RouteSpec& r : kRoutes) {
      if (!PathMatches(r, target)) continue;
      known = true;
      needs_auth = needs_auth || r.needs_auth;
      if (r.method == req.method()) route = &r;
      if (!allow.empty()) allow += ", ";
      allow += std::string(http::to_string(r.method));
    }
    if (known && req.method() == http::verb::options && fe_->cors.enabled())
      return Preflight(req, allow);
    // Without the key only the probes answer: an unknown path is a 401 too,
    // so the key is checked before the path is judged.
    if ((!known || needs_auth) && !Authorized(req)) {
      return SendError(Unauthorized("missing or wrong API key (Authorization: Bearer <key>)"));
    }
    if (!known) {
      return SendError(NotFoundError(
          "no route " + std::string(req.method_string()) + " " + TruncateUtf8(target, 200), "",
          "not_found"));
    }
    if (route == nullptr) {
      return SendError(MethodNotAllowed(std::string(req.method_string()) + " is not allowed on " +
                                        TruncateUtf8(target, 200) + "; use " + allow),
                       allow);
    }
    Dispatch(*route, req, target);
  }

  void Dispatch(const RouteSpec& route, const Request& req, const std::string& target) {
    switch (route.route) {
      case Route::kHealth:
        if (fe_->core->ready()) return SendJson(R"({"status":"ok"})");
        return SendError(ServiceUnavailable("no replica is ready yet (workers loading or lost)"));
      case Route::kMetrics:
        return Send(http::status::ok, "text/plain; version=0.0.4; charset=utf-8",
                    fe_->metrics->Exposition());
      case Route::kVersion:
        return SendJson(Dump(json{{"version", SKIPJOIN_VERSION}}));
      case Route::kModels: {
        json data = json::array({ModelJson(fe_->options.model_name)});
        for (const std::string& alias : fe_->options.model_aliases)
          data.push_back(ModelJson(alias));
        return SendJson(Dump(json{{"object", "list"}, {"data", std::move(data)}}));
      }
      case Route::kModel:
        return Model(std::string_view(target).substr(route.path.size()));
      case Route::kTokenize:
        return Tokenize(req.body());
      case Route::kDetokenize:
        return Detokenize(req.body());
      case Route::kCompletions:
        return Generate(req.body(), ApiKind::kCompletion);
      case Route::kChat:
        return Generate(req.body(), ApiKind::kChat);
    }
  }

  // One entry of GET /v1/models, and the body of GET /v1/models/{id}: the
  // served model under one of its ids (an alias has the name as its root).
  json ModelJson(const std::string& id) {
    return {{"id", id},     {"object", "model"},      {"root", fe_->options.model_name},
            {"created", 0}, {"owned_by", "skipjoin"}, {"max_model_len", fe_->options.max_context}};
  }

  // GET /v1/models/{id}: the served model's name or one of its aliases, as a
  // request's "model" must be (generation_request.cc).
  void Model(std::string_view escaped_id) {
    auto id = PercentDecode(escaped_id);
    if (!id) {
      return SendError(BadRequest(
          "model id '" + TruncateUtf8(escaped_id, 200) + "' has a malformed %-escape", "model"));
    }
    if (id->empty() || !ServesModel(fe_->setup, *id)) {
      return SendError(NotFoundError("model '" + TruncateUtf8(*id, 200) +
                                         "' is not served here; GET /v1/models lists '" +
                                         fe_->options.model_name + "'",
                                     "model"));
    }
    SendJson(Dump(ModelJson(*id)));
  }

  void Tokenize(const std::string& body) {
    if (!JsonDepthWithin(body, kMaxJsonDepth)) return SendError(BadRequest("body nests too deep"));
    json b = json::parse(body, nullptr, false);
    if (b.is_discarded() || !b.is_object())
      return SendError(BadRequest("body must be a JSON object"));
    bool add_special = true;
    if (b.contains("add_special_tokens")) {
      if (!b["add_special_tokens"].is_boolean()) {
        return SendError(
            BadRequest("'add_special_tokens' must be a boolean", "add_special_tokens"));
      }
      add_special = b["add_special_tokens"].get<bool>();
    }
    std::vector<int32_t> ids;
    if (b.contains("messages")) {
      json chat = b;
      chat["model"] = fe_->options.model_name;
      ApiRequest r;
      if (auto e = ParseChatRequest(Dump(chat), &r)) return SendError(*e);
      auto text = fe_->chat_template.Apply(r.messages, /*add_generation_prompt=*/true);
      if (!text.ok()) return SendError(BadRequest(text.status().message(), "messages"));
      ids = fe_->tokenizer->Encode(*text, add_special, /*parse_special=*/true);
    } else if (b.contains("prompt") && b["prompt"].is_string()) {
      ids = fe_->tokenizer->Encode(b["prompt"].get<std::string>(), add_special,
                                   /*parse_special=*/false);
    } else {
      return SendError(BadRequest("'prompt' (a string) or 'messages' is required", "prompt"));
    }
    SendJson(Dump(
        json{{"tokens", ids}, {"count", ids.size()}, {"max_model_len", fe_->options.max_context}}));
  }

  void Detokenize(const std::string& body) {
    if (!JsonDepthWithin(body, kMaxJsonDepth)) return SendError(BadRequest("body nests too deep"));
    json b = json::parse(body, nullptr, false);
    if (b.is_discarded() || !b.is_object() || !b.contains("tokens") || !b["tokens"].is_array()) {
      return SendError(BadRequest("'tokens' (a list of token ids) is required", "tokens"));
    }
    std::vector<int32_t> ids;
    for (const json& t : b["tokens"]) {
      if (!t.is_number_integer() || t.get<int64_t>() < 0 ||
          t.get<int64_t>() >= fe_->tokenizer->vocab_size()) {
        return SendError(BadRequest("token ids must be integers in [0, " +
                                        std::to_string(fe_->tokenizer->vocab_size()) + ")",
                                    "tokens"));
      }
      ids.push_back(t.get<int32_t>());
    }
    SendJson(Dump(json{{"prompt", fe_->tokenizer->Decode(ids, /*skip_special=*/false)}}));
  }

  void Generate(const std::string& body, ApiKind kind) {
    fe_->metrics->RequestReceived();
    std::string id = (kind == ApiKind::kChat ? "chatcmpl-" : "cmpl-") + RandomHex(12);
    // Without a client id the response's X-Request-Id is the completion's id,
    // so the one string finds the request in the body, the headers and a log.
    if (!client_request_id_) request_id_ = id;
    ApiRequest r;
    auto err =
        kind == ApiKind::kChat ? ParseChatRequest(body, &r) : ParseCompletionRequest(body, &r);
    PreparedGeneration prepared;
    if (!err) err = PrepareGeneration(r, fe_->setup, *fe_->core, &prepared);
    if (err) {
      fe_->metrics->RequestDone("rejected");
      return SendError(*err);
    }
    ResponseContext ctx;
    ctx.id = std::move(id);
    ctx.created = static_cast<int64_t>(std::time(nullptr));
    ctx.model = r.model.empty() ? fe_->options.model_name : r.model;  // the id it asked for
    ctx.prompts = std::move(prepared.prompts);
    std::vector<server::SubmitItem> items = std::move(prepared.items);
    std::vector<server::RequestId> ids = std::move(prepared.ids);
    gen_ = std::make_unique<GenerationResponse>(std::move(r), *fe_->tokenizer, std::move(ctx), ids);
    head_sent_ = false;
    started_ = std::chrono::steady_clock::now();
    ttft_seconds_ = -1;
    stream_.expires_never();
    WatchDisconnect();
    fe_->core->Submit(std::move(items), std::make_shared<Sink>(shared_from_this()),
                      /*reserved=*/true);
  }

  // Detects a client that goes away while its request is queued or running:
  // the socket turns readable and a peek reads end-of-stream, or it errors.
  // Readiness alone is not proof: the reactor can report an edge from bytes
  // the request read already consumed, and taking that for a hang-up dropped
  // live requests without a response. Anything but end-of-stream or an error
  // (no bytes yet, or bytes a client sent ahead) keeps watching; the pending
  // wait is also what keeps this session alive while it generates.
  void WatchDisconnect() {
    stream_.socket().async_wait(
        tcp::socket::wait_read, [self = shared_from_this()](beast::error_code ec) {
          if (!self->gen_ || self->gen_->done() || self->closed_) return;
          if (ec) return self->Abort();
          char byte;
          const ssize_t n =
              ::recv(self->stream_.socket().native_handle(), &byte, 1, MSG_PEEK | MSG_DONTWAIT);
          if (n == 0 || (n < 0 && errno != EAGAIN && errno != EWOULDBLOCK && errno != EINTR))
            return self->Abort();
          self->WatchDisconnect();
        });
  }

  void Abort() {
    if (gen_ && !gen_->done()) {
      LogRequest("aborted (the client went away)");
      auto live = gen_->LiveSequences();
      // The core counts each cancelled request as an "abort".
      if (!live.empty()) fe_->core->Cancel(std::move(live));
    }
    gen_.reset();
    Close();
  }

  // One line per finished completion: id, outcome, user, tokens, TTFT, E2E, finish.
  void LogRequest(const char* outcome) const {
    const double e2e =
        std::chrono::duration<double>(std::chrono::steady_clock::now() - started_).count();
    char ttft[32] = "none";
    if (ttft_seconds_ >= 0) std::snprintf(ttft, sizeof(ttft), "%.3fs", ttft_seconds_);
    char total[32];
    std::snprintf(total, sizeof(total), "%.3fs", e2e);
    SJ_LOG(Info) << "request " << request_id_ << " " << outcome << " " << gen_->LogSummary()
                 << " ttft=" << ttft << " e2e=" << total;
  }

  void OnEvents(std::vector<server::SequenceEvent> events) {
    if (!gen_ || closed_) return;
    if (ttft_seconds_ < 0) {
      for (const server::SequenceEvent& e : events) {
        if (e.kind != server::SequenceEvent::Kind::kToken) continue;
        ttft_seconds_ =
            std::chrono::duration<double>(std::chrono::steady_clock::now() - started_).count();
        break;
      }
    }
    GenerationResponse::Update u = gen_->OnEvents(events, head_sent_);
    if (u.done) LogRequest(u.error ? "failed" : "done");
    if (!u.finish.empty()) fe_->core->Finish(std::move(u.finish));
    if (!u.cancel.empty()) fe_->core->Cancel(std::move(u.cancel));
    if (!gen_->streaming()) {
      if (u.error) {
        gen_.reset();
        return SendError(*u.error);
      }
      if (u.done) {
        gen_.reset();
        SendJson(u.data);
      }
      return;
    }
    if (u.error && !head_sent_) {
      gen_.reset();
      keep_alive_ = false;
      return SendError(*u.error);
    }
    if (u.error) LogIfInternal(*u.error);  // sent in the stream, as a data chunk
    if (!u.data.empty()) {
      if (!head_sent_) {
        head_sent_ = true;
        // No chunked encoding: the stream ends when the connection closes.
        std::string head =
            "HTTP/1.1 200 OK\r\nServer: skipjoin\r\nContent-Type: text/event-stream\r\n"
            "Cache-Control: no-cache\r\nConnection: close\r\n" +
            std::string(kRequestIdHeader) + ": " + request_id_ + "\r\n";
        for (const auto& [name, value] : cors_headers_) head += name + ": " + value + "\r\n";
        Write(head + "\r\n");
      }
      Write(std::move(u.data));
    }
    if (u.done) finish_after_writes_ = true;
    if (finish_after_writes_ && !writing_) Close();
  }

  void Write(std::string data) {
    writes_.push_back(std::make_shared<std::string>(std::move(data)));
    if (!writing_) DoWrite();
  }
  void DoWrite() {
    if (writes_.empty() || closed_) {
      writing_ = false;
      if (finish_after_writes_) Close();
      return;
    }
    writing_ = true;
    auto buf = writes_.front();
    net::async_write(stream_, net::buffer(*buf),
                     [self = shared_from_this(), buf](beast::error_code ec, size_t) {
                       self->writes_.pop_front();
                       if (ec) return self->Abort();  // the client went away mid-stream
                       self->DoWrite();
                     });
  }

  class Sink : public server::EventSink {
   public:
    explicit Sink(std::shared_ptr<Session> s) : session_(std::move(s)) {}
    void Deliver(std::vector<server::SequenceEvent> events) override {
      if (auto s = session_.lock()) s->Post(std::move(events));
    }

   private:
    std::weak_ptr<Session> session_;
  };

  beast::tcp_stream stream_;
  HttpFrontend::Impl* fe_;
  uint64_t idle_id_ = 0;  // the entry in fe_->idle while reading a request
  beast::flat_buffer buffer_;
  std::optional<http::request_parser<http::string_body>> parser_;
  bool keep_alive_ = true;
  bool closed_ = false;
  // The current request's X-Request-Id (echoed or generated) and whether the
  // client sent it; set as each request's header is read.
  std::string request_id_;
  bool client_request_id_ = false;
  // The current request's CORS headers (CorsPolicy), on every response to it.
  std::vector<HeaderLine> cors_headers_;
  std::unique_ptr<GenerationResponse> gen_;
  bool head_sent_ = false;
  std::chrono::steady_clock::time_point started_;  // Generate() of the current request
  double ttft_seconds_ = -1;                       // to its first token; < 0 before it
  std::deque<std::shared_ptr<std::string>> writes_;
  bool writing_ = false;
  bool finish_after_writes_ = false;
};

}  // namespace

void HttpFrontend::Impl::Accept() {
  acceptor.async_accept(net::make_strand(ioc), [this](beast::error_code ec, tcp::socket socket) {
    if (stopped.load()) return;
    if (ec) return OnAcceptError(ec);
    accept_backoff = std::chrono::milliseconds(0);
    std::make_shared<Session>(std::move(socket), this)->Start();
    Accept();
  });
}

void HttpFrontend::Impl::OnAcceptError(const beast::error_code& ec) {
  accept_errors.fetch_add(1);
  ++accept_errors_unlogged;
  const auto now = std::chrono::steady_clock::now();
  if (now >= accept_log_at) {
    SJ_LOG(Warn) << "http accept: " << ec.message() << " (" << accept_errors_unlogged
                 << " failure(s) since the last report; " << idle_evictions.load()
                 << " idle connection(s) closed so far to make room)";
    accept_errors_unlogged = 0;
    accept_log_at = now + std::chrono::seconds(10);
  }
  const bool out_of_fds = ec == net::error::no_descriptors || ec.value() == ENFILE ||
                          ec.value() == ENOBUFS || ec.value() == ENOMEM;
  std::chrono::milliseconds wait{0};
  if (out_of_fds && CloseOldestIdle()) {
    idle_evictions.fetch_add(1);
    wait = std::chrono::milliseconds(1);  // the close runs on the session's strand
  } else {
    accept_backoff = std::clamp(accept_backoff * 2, std::chrono::milliseconds(10),
                                std::chrono::milliseconds(1000));
    wait = accept_backoff;
  }
  accept_timer.expires_after(wait);
  accept_timer.async_wait([this](beast::error_code timer_ec) {
    if (!timer_ec && !stopped.load()) Accept();
  });
}

Result<std::unique_ptr<HttpFrontend>> HttpFrontend::Start(const HttpFrontendOptions& options,
                                                          server::CoordinatorCore* core,
                                                          const Tokenizer* tokenizer,
                                                          server::CoordinatorMetrics* metrics) {
  auto impl = std::make_unique<Impl>(options, core, tokenizer, metrics);
  beast::error_code ec;
  auto address = net::ip::make_address(options.host, ec);
  if (ec) return InvalidArgument("http host '" + options.host + "': " + ec.message());
  tcp::endpoint ep(address, options.port);
  impl->acceptor.open(ep.protocol(), ec);
  if (!ec) impl->acceptor.set_option(net::socket_base::reuse_address(true), ec);
  if (!ec) impl->acceptor.bind(ep, ec);
  if (!ec) impl->acceptor.listen(net::socket_base::max_listen_connections, ec);
  if (ec) {
    return Unavailable("cannot listen on http://" + options.host + ":" +
                       std::to_string(options.port) + ": " + ec.message());
  }
  impl->bound_port = impl->acceptor.local_endpoint().port();
  impl->Accept();
  for (int i = 0; i < std::max(1, options.threads); ++i) {
    impl->threads.emplace_back([io = &impl->ioc] { io->run(); });
  }
  return std::unique_ptr<HttpFrontend>(new HttpFrontend(std::move(impl)));
}

HttpFrontend::HttpFrontend(std::unique_ptr<Impl> impl) : impl_(std::move(impl)) {}
HttpFrontend::~HttpFrontend() { Stop(); }
uint16_t HttpFrontend::port() const { return impl_->bound_port; }
int64_t HttpFrontend::accept_errors() const { return impl_->accept_errors.load(); }
int64_t HttpFrontend::idle_evictions() const { return impl_->idle_evictions.load(); }

void HttpFrontend::Stop() {
  if (!impl_ || impl_->stopped.exchange(true)) return;
  net::post(impl_->ioc, [this] {
    beast::error_code ec;
    impl_->acceptor.close(ec);
  });
  impl_->ioc.stop();
  for (auto& t : impl_->threads) t.join();
  impl_->threads.clear();
}

}  // namespace skipjoin::frontend
