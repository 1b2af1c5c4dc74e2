#include "client/bench/http_client.h"

#include <array>
#include <boost/asio.hpp>
#include <boost/beast/core.hpp>
#include <boost/beast/http.hpp>
#include <cstdio>
#include <limits>
#include <memory>
#include <optional>

#include "client/bench/sse_decoder.h"

namespace skipjoin::bench {

namespace beast = boost::beast;
namespace http = beast::http;
namespace net = boost::asio;
using tcp = net::ip::tcp;
using Clock = std::chrono::steady_clock;

namespace {

constexpr const char* kUserAgent = "skipjoin-bench";
// Error bodies are quoted in reports; the rest is not kept.
constexpr size_t kMaxErrorBody = 64 * 1024;

double Seconds(Clock::duration d) { return std::chrono::duration<double>(d).count(); }

http::request<http::string_body> MakeRequest(http::verb verb, const HttpTarget& target,
                                             const std::string& path) {
  http::request<http::string_body> req(verb, target.url.prefix + path, 11);
  req.set(http::field::host, target.url.HostHeader());
  req.set(http::field::user_agent, kUserAgent);
  // One connection per request: no reuse to negotiate, and a server that ends
  // its streams by closing is served the same as one that chunks them.
  req.keep_alive(false);
  if (!target.api_key.empty()) req.set(http::field::authorization, "Bearer " + target.api_key);
  return req;
}

std::string DescribeNetError(const beast::error_code& ec, std::chrono::milliseconds timeout) {
  if (ec == beast::error::timeout) {
    char text[64];
    std::snprintf(text, sizeof(text), "timed out after %g s", timeout.count() / 1000.0);
    return text;
  }
  return ec.message();
}

// One streaming POST from connect to the end of its stream.
class StreamSession : public std::enable_shared_from_this<StreamSession> {
 public:
  StreamSession(net::io_context& io, const HttpTarget& target, StreamRequestSpec spec,
                std::function<void(RequestRecord)> done)
      : stream_(io), target_(target), spec_(std::move(spec)), done_(std::move(done)) {
    parser_.body_limit(std::numeric_limits<std::uint64_t>::max());
  }

  void Start() {
    start_ = Clock::now();
    spec_.record.start_s = Seconds(start_ - spec_.bench_start);
    Arm();
    stream_.async_connect(target_.endpoints,
                          [self = shared_from_this()](beast::error_code ec, const tcp::endpoint&) {
                            self->OnConnect(ec);
                          });
  }

 private:
  // The whole request shares one deadline.
  void Arm() {
    if (spec_.timeout.count() > 0) {
      stream_.expires_at(start_ + spec_.timeout);
    } else {
      stream_.expires_never();
    }
  }

  void OnConnect(beast::error_code ec) {
    if (ec) {
      return Fail(0, "cannot connect to " + target_.url.ToString() + ": " +
                         DescribeNetError(ec, spec_.timeout));
    }
    request_ = MakeRequest(http::verb::post, target_, spec_.path);
    request_.set(http::field::content_type, "application/json");
    request_.set(http::field::accept, "text/event-stream");
    request_.body() = std::move(spec_.body);
    request_.prepare_payload();
    Arm();
    http::async_write(stream_, request_, [self = shared_from_this()](beast::error_code ec, size_t) {
      self->OnWrite(ec);
    });
  }

  void OnWrite(beast::error_code ec) {
    if (ec) return Fail(0, "sending the request: " + DescribeNetError(ec, spec_.timeout));
    Arm();
    http::async_read_header(
        stream_, buffer_, parser_,
        [self = shared_from_this()](beast::error_code ec, size_t) { self->OnHeader(ec); });
  }

  void OnHeader(beast::error_code ec) {
    if (ec) return Fail(0, "reading the response: " + DescribeNetError(ec, spec_.timeout));
    status_ = static_cast<int>(parser_.get().result_int());
    const auto type = parser_.get()[http::field::content_type];
    event_stream_ = beast::iequals(type.substr(0, 17), "text/event-stream");
    ReadBody();
  }

  void ReadBody() {
    if (parser_.is_done()) return OnBodyEnd();
    parser_.get().body().data = chunk_.data();
    parser_.get().body().size = chunk_.size();
    Arm();
    http::async_read_some(
        stream_, buffer_, parser_,
        [self = shared_from_this()](beast::error_code ec, size_t) { self->OnBody(ec); });
  }

  void OnBody(beast::error_code ec) {
    if (ec == http::error::need_buffer) ec = {};
    const size_t n = chunk_.size() - parser_.get().body().size;
    if (n > 0) Consume(std::string_view(chunk_.data(), n));
    if (finished_) return;
    if (ec) {
      const char* what = content_chunks_ > 0 ? "reading the stream: " : "reading the response: ";
      return Fail(status_, what + DescribeNetError(ec, spec_.timeout));
    }
    ReadBody();
  }

  // Body bytes: SSE events of a 200 stream, else kept whole for the end.
  void Consume(std::string_view bytes) {
    if (status_ != 200 || !event_stream_) {
      if (status_ == 200 || whole_body_.size() < kMaxErrorBody) whole_body_.append(bytes);
      return;
    }
    events_.clear();
    if (Status st = decoder_.Feed(bytes, &events_); !st.ok()) return Fail(status_, st.message());
    HandleEvents();
  }

  void HandleEvents() {
    for (const std::string& data : events_) {
      auto chunk = ParseStreamChunk(data, spec_.flavor);
      if (!chunk.ok()) return Fail(status_, chunk.status().message());
      if (Apply(*chunk, Clock::now())) return;
    }
  }

  // Returns true when the request is over (done marker or error).
  bool Apply(const StreamChunk& c, Clock::time_point now) {
    if (c.error) {
      Fail(status_, "error in the stream: " + *c.error);
      return true;
    }
    if (!c.content.empty()) {
      if (content_chunks_ == 0) {
        spec_.record.ttft_s = Seconds(now - start_);
      } else {
        spec_.record.itl_s.push_back(Seconds(now - last_content_));
      }
      last_content_ = now;
      ++content_chunks_;
    }
    if (c.prompt_tokens) usage_prompt_ = c.prompt_tokens;
    if (c.completion_tokens) usage_completion_ = c.completion_tokens;
    if (c.done) {
      Succeed(now);
      return true;
    }
    return false;
  }

  void OnBodyEnd() {
    if (finished_) return;
    const Clock::time_point now = Clock::now();
    if (status_ != 200) return Fail(status_, ErrorMessageFromBody(whole_body_));
    if (event_stream_) {
      events_.clear();
      decoder_.Finish(&events_);
      HandleEvents();
      if (!finished_) Succeed(now);  // a stream that ended without [DONE]
      return;
    }
    // A server that ignored "stream": the whole body is one chunk.
    auto chunk = ParseStreamChunk(whole_body_, spec_.flavor);
    if (!chunk.ok()) return Fail(status_, chunk.status().message());
    if (!Apply(*chunk, now)) Succeed(now);
  }

  void Succeed(Clock::time_point now) {
    if (content_chunks_ == 0) {
      return Fail(status_, "the stream ended without any generated text (no content chunk)");
    }
    RequestRecord& r = spec_.record;
    r.success = true;
    r.http_status = status_;
    r.e2el_s = Seconds(now - start_);
    r.output_tokens = usage_completion_.value_or(content_chunks_);
    if (usage_prompt_) r.input_len = *usage_prompt_;
    End();
  }

  void Fail(int status, std::string error) {
    if (finished_) return;
    RequestRecord& r = spec_.record;
    r.success = false;
    r.http_status = status;
    // A failure inside a 200 stream is not the status's fault: no "HTTP 200".
    r.error = status > 0 && status != 200 ? "HTTP " + std::to_string(status) + ": " + error
                                          : std::move(error);
    r.e2el_s = Seconds(Clock::now() - start_);
    r.output_tokens = content_chunks_;  // what arrived before the failure
    End();
  }

  void End() {
    finished_ = true;
    beast::error_code ignored;
    stream_.socket().shutdown(tcp::socket::shutdown_both, ignored);
    stream_.close();
    auto done = std::move(done_);
    done(std::move(spec_.record));
  }

  beast::tcp_stream stream_;
  const HttpTarget& target_;
  StreamRequestSpec spec_;
  std::function<void(RequestRecord)> done_;
  Clock::time_point start_, last_content_;
  http::request<http::string_body> request_;
  beast::flat_buffer buffer_;
  http::response_parser<http::buffer_body> parser_;
  std::array<char, 16 * 1024> chunk_{};
  SseDecoder decoder_;
  std::vector<std::string> events_;
  std::string whole_body_;
  int status_ = 0;
  bool event_stream_ = false;
  bool finished_ = false;
  int64_t content_chunks_ = 0;
  std::optional<int64_t> usage_prompt_, usage_completion_;
};

}  // namespace

Result<HttpTarget> ResolveTarget(const HttpUrl& url, std::string api_key) {
  net::io_context io;
  tcp::resolver resolver(io);
  beast::error_code ec;
  auto results = resolver.resolve(url.host, std::to_string(url.port), ec);
  if (ec || results.empty()) {
    return Unavailable("--base-url " + url.ToString() + ": cannot resolve host '" + url.host +
                       "': " + (ec ? ec.message() : "no addresses"));
  }
  HttpTarget target;
  target.url = url;
  target.api_key = std::move(api_key);
  for (const auto& entry : results) target.endpoints.push_back(entry.endpoint());
  return target;
}

Result<HttpReply> HttpGet(net::io_context& io, const HttpTarget& target, const std::string& path,
                          std::chrono::milliseconds timeout) {
  beast::tcp_stream stream(io);
  beast::flat_buffer buffer;
  auto req = MakeRequest(http::verb::get, target, path);
  http::response<http::string_body> res;
  std::optional<std::string> error;
  const std::string where = "GET " + target.url.ToString(path);
  // The three steps share one deadline.
  stream.expires_after(timeout);
  stream.async_connect(target.endpoints, [&](beast::error_code ec, const tcp::endpoint&) {
    if (ec) {
      error = "cannot connect to " + target.url.ToString() +
              " (--base-url): " + DescribeNetError(ec, timeout) + "; is the server running?";
      return;
    }
    http::async_write(stream, req, [&](beast::error_code ec, size_t) {
      if (ec) {
        error = where + ": " + DescribeNetError(ec, timeout);
        return;
      }
      http::async_read(stream, buffer, res, [&](beast::error_code ec, size_t) {
        if (ec) error = where + ": " + DescribeNetError(ec, timeout);
      });
    });
  });
  io.restart();
  io.run();
  beast::error_code ignored;
  stream.socket().shutdown(tcp::socket::shutdown_both, ignored);
  if (error) return Unavailable(*error);
  return HttpReply{static_cast<int>(res.result_int()), std::move(res.body())};
}

void StartStreamRequest(net::io_context& io, const HttpTarget& target, StreamRequestSpec spec,
                        std::function<void(RequestRecord)> done) {
  std::make_shared<StreamSession>(io, target, std::move(spec), std::move(done))->Start();
}

}  // namespace skipjoin::bench
