// The HTTP half of `skipjoin bench serve` on Boost.Beast: resolve the server
// once, a blocking GET for set-up calls, and streaming POSTs that measure
// TTFT, inter-token gaps and end-to-end latency as the chunks arrive.
//
// Threading: everything runs on the caller's io_context; the benchmark runs
// it on one thread, so a request's session and its completion callback never
// run concurrently with another's. Each streaming request has its own
// connection (servers may end a stream by closing it).
#pragma once

#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <chrono>
#include <functional>
#include <string>
#include <vector>

#include "client/bench/openai_api.h"
#include "client/bench/stats.h"
#include "client/bench/url.h"
#include "common/status.h"

namespace skipjoin::bench {

// Where every request goes, and the credentials it carries.
struct HttpTarget {
  HttpUrl url;
  std::vector<boost::asio::ip::tcp::endpoint> endpoints;
  std::string api_key;  // sent as "Authorization: Bearer <key>" unless empty
};

// Resolves the host name once; the error names --base-url.
Result<HttpTarget> ResolveTarget(const HttpUrl& url, std::string api_key);

struct HttpReply {
  int status = 0;
  std::string body;
};

// GET prefix + path, running `io` until the reply or the timeout. Unavailable
// (naming the URL) when the server cannot be reached in time.
Result<HttpReply> HttpGet(boost::asio::io_context& io, const HttpTarget& target,
                          const std::string& path, std::chrono::milliseconds timeout);

struct StreamRequestSpec {
  std::string path;  // endpoint, appended to the URL prefix
  std::string body;  // the JSON request (stream: true)
  ApiFlavor flavor = ApiFlavor::kCompletions;
  std::chrono::milliseconds timeout{0};  // whole request, connect included; 0: none
  // Prefilled index, input_len and output_len_asked; the rest is measured.
  RequestRecord record;
  // Zero of RequestRecord::start_s.
  std::chrono::steady_clock::time_point bench_start;
};

// Starts one streaming POST on `io`; `done` runs exactly once on io's thread
// with the finished record (success, or the HTTP status and the error).
// `target` must outlive the request.
void StartStreamRequest(boost::asio::io_context& io, const HttpTarget& target,
                        StreamRequestSpec spec, std::function<void(RequestRecord)> done);

}  // namespace skipjoin::bench
