// RunLoad: sends the benchmark's requests at their arrival times, keeps at
// most max_concurrency in flight (later arrivals wait for a slot, as with
// `vllm bench serve --max-concurrency`), and collects one RequestRecord each.
// Runs the caller's io_context on the calling thread until every request has
// ended: timers and sockets only, no polling.
#pragma once

#include <boost/asio/io_context.hpp>
#include <chrono>
#include <cstdint>
#include <string>
#include <vector>

#include "client/bench/http_client.h"
#include "client/bench/stats.h"

namespace skipjoin::bench {

struct LoadRequest {
  std::string body;        // the JSON request
  int64_t input_len = 0;   // prompt tokens (dataset)
  int64_t output_len = 0;  // max_tokens asked
};

struct LoadOptions {
  std::string path;  // endpoint
  ApiFlavor flavor = ApiFlavor::kCompletions;
  std::vector<double> arrivals_s;        // send time of each request after the start; ascending
  int64_t max_concurrency = 0;           // requests in flight at most; 0: no limit
  std::chrono::milliseconds timeout{0};  // per request; 0: none
  bool progress = true;                  // the progress bar on stderr
};

struct LoadResult {
  std::vector<RequestRecord> records;  // in dataset order
  double duration_s = 0;               // the start to the last request's end
};

// arrivals_s.size() must equal requests.size().
LoadResult RunLoad(boost::asio::io_context& io, const HttpTarget& target,
                   const std::vector<LoadRequest>& requests, const LoadOptions& options);

}  // namespace skipjoin::bench
