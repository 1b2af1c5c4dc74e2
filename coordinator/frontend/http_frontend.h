// HttpFrontend: the OpenAI-compatible HTTP API on Boost.Beast.
//   POST /v1/completions, POST /v1/chat/completions (JSON or SSE streaming),
//   GET /v1/models, GET /v1/models/{id}, POST /tokenize, POST /detokenize,
//   GET /health, GET /metrics, GET /version. A known path with another method
//   is a 405 with an Allow header. Every response carries X-Request-Id: the
//   client's (printable ASCII, at most 128 bytes; else a 400) or a generated one.
//   With CORS on (cors_origins), OPTIONS on a known path is a preflight (204),
//   and responses to an allowed Origin carry Access-Control-Allow-Origin.
// docs/API.md documents fields and errors.
//
// Threading: `threads` Asio threads run the io_context; every connection is a
// session on its own strand, which owns its parsing, tokenization,
// detokenization and stop-string state. Token events arrive from the
// CoordinatorCore's thread through asio::post onto the session's strand. A
// client that disconnects (streaming or not, queued or running) cancels its
// requests in the core.
//
// Out of file descriptors (EMFILE/ENFILE on accept): the frontend closes its
// oldest idle connection (one waiting for a request) and accepts again; with
// none to close it retries after a backoff of 10 ms doubling to 1 s, and logs
// once per 10 s with a count, never once per failure.
#pragma once

#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "common/config/cluster_config.h"
#include "common/status.h"
#include "coordinator/server/core.h"
#include "coordinator/server/metrics.h"
#include "coordinator/tokenizer/tokenizer.h"

namespace skipjoin::frontend {

struct HttpFrontendOptions {
  std::string host = "127.0.0.1";  // address to bind
  uint16_t port = 8000;            // 0: an ephemeral port (see port())
  int threads = 2;                 // Asio threads
  config::RequestLimits limits;
  std::optional<std::string> api_key;      // required as "Authorization: Bearer <key>" when set
  std::string model_name;                  // the served model id
  std::vector<std::string> model_aliases;  // more ids for it (config model.aliases)
  int64_t max_context = 0;                 // tokens
  // Browser origins allowed to call the API ("scheme://host[:port]", or "*"
  // for any; config coordinator.cors_origins). Empty: CORS is off and no
  // response carries Access-Control-* headers.
  std::vector<std::string> cors_origins;
};

class HttpFrontend {
 public:
  // Binds and starts serving. core, tokenizer and metrics must outlive it.
  static Result<std::unique_ptr<HttpFrontend>> Start(const HttpFrontendOptions& options,
                                                     server::CoordinatorCore* core,
                                                     const Tokenizer* tokenizer,
                                                     server::CoordinatorMetrics* metrics);
  ~HttpFrontend();  // Stop()
  uint16_t port() const;
  // accept() calls that failed, and idle connections closed to make room.
  int64_t accept_errors() const;
  int64_t idle_evictions() const;
  // Stops accepting, closes connections, joins the threads. Idempotent; any
  // thread but the frontend's own.
  void Stop();

  class Impl;

 private:
  explicit HttpFrontend(std::unique_ptr<Impl> impl);
  std::unique_ptr<Impl> impl_;
};

}  // namespace skipjoin::frontend
