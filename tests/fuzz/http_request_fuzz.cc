// Fuzzes the HTTP request path of the frontend: raw bytes from a connection go
// through Beast's request parser, set up as HttpFrontend sets it up (the body
// limit of config::RequestLimits, the default 8 KiB header limit), fed in
// pieces of varying size as a socket would deliver them, with pipelined
// requests parsed one after another. A request for the completions or chat
// completions path has its body validated as the frontend does
// (ParseCompletionRequest / ParseChatRequest).
//
// Input: byte 0 sets the piece size (1 + byte % 64), the rest is the stream.
#include <boost/beast/core/buffers_to_string.hpp>
#include <boost/beast/http.hpp>
#include <cstddef>
#include <cstdint>
#include <optional>
#include <string_view>

#include "common/config/cluster_config.h"
#include "common/status.h"
#include "coordinator/frontend/api_error.h"
#include "coordinator/frontend/openai_request.h"
#include "tests/fuzz/fuzz_support.h"

namespace http = boost::beast::http;

namespace skipjoin::frontend {
namespace {

constexpr int kMaxPipelined = 4;

void Handle(const http::request<http::string_body>& req) {
  const std::string_view target(req.target().data(), req.target().size());
  std::optional<ApiKind> kind;
  if (target == "/v1/completions") kind = ApiKind::kCompletion;
  if (target == "/v1/chat/completions") kind = ApiKind::kChat;
  if (!kind || req.method() != http::verb::post) return;
  ApiRequest r;
  auto e = *kind == ApiKind::kChat ? ParseChatRequest(req.body(), &r)
                                   : ParseCompletionRequest(req.body(), &r);
  if (e) (void)ErrorBody(*e);
}

// Parses one request from stream[*pos, end); false when the stream ends or is
// not HTTP any more (the frontend then answers or closes the connection).
bool ParseOne(std::string_view stream, size_t piece, size_t* pos) {
  const config::RequestLimits limits;
  http::request_parser<http::string_body> parser;
  parser.body_limit(limits.max_body_bytes);
  size_t avail = std::min(piece, stream.size() - *pos);
  while (!parser.is_done()) {
    boost::beast::error_code ec;
    const size_t used = parser.put(boost::asio::buffer(stream.data() + *pos, avail), ec);
    *pos += used;
    avail -= used;
    if (ec == http::error::need_more || (!ec && used == 0)) {
      const size_t left = stream.size() - *pos;
      if (avail == left) {  // the peer closed: no more bytes will come
        parser.put_eof(ec);
        if (ec || !parser.is_done()) return false;
        break;
      }
      avail = std::min(avail + piece, left);
      continue;
    }
    if (ec) return false;
  }
  Handle(parser.get());
  return parser.get().keep_alive() && *pos < stream.size();
}

}  // namespace
}  // namespace skipjoin::frontend

extern "C" int LLVMFuzzerInitialize(int*, char***) {
  skipjoin::fuzz::QuietLogs();
  return 0;
}

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  if (size == 0) return 0;
  const size_t piece = 1 + data[0] % 64;
  const std::string_view stream(reinterpret_cast<const char*>(data) + 1, size - 1);
  size_t pos = 0;
  for (int i = 0; i < skipjoin::frontend::kMaxPipelined; ++i) {
    if (!skipjoin::frontend::ParseOne(stream, piece, &pos)) break;
  }
  return 0;
}
