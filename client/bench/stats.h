// What one benchmark request measured, and the aggregate metrics of a run
// (the numbers `vllm bench serve` reports, with its definitions). Plain values
// and free functions; any thread.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "client/bench/goodput.h"

namespace skipjoin::bench {

// One request's outcome. Times are seconds on the benchmark's steady clock. A
// failed request keeps the content chunks it got as output_tokens.
struct RequestRecord {
  int64_t index = 0;             // position in the dataset
  int64_t input_len = 0;         // prompt tokens: the server's usage count, else the dataset's
  int64_t output_len_asked = 0;  // max_tokens sent
  int64_t output_tokens = 0;     // usage completion_tokens, else content chunks
  bool success = false;
  int http_status = 0;        // 0: no response headers (connect failure, early timeout)
  std::string error;          // why it failed; empty on success
  double start_s = 0;         // request sent (connect began), after the benchmark start
  double ttft_s = 0;          // send -> first chunk with content
  double e2el_s = 0;          // send -> end of the stream
  std::vector<double> itl_s;  // gaps between consecutive content chunks
};

// Time per output token after the first: (E2EL - TTFT) / (output_tokens - 1),
// 0 when the request produced at most one token.
double RequestTpotSeconds(const RequestRecord& r);

// Sample statistics, in the unit of the values given.
struct Summary {
  int64_t count = 0;
  double mean = 0, median = 0, std = 0, p99 = 0, p999 = 0, max = 0;  // 0 with no samples
};

// The p-th percentile (p in [0, 100]) of ascending `sorted`, interpolating
// linearly between the closest ranks (numpy's default). 0 when empty.
double Percentile(const std::vector<double>& sorted, double p);
Summary Summarize(std::vector<double> values);

struct BenchMetrics {
  int64_t completed = 0;  // successful requests
  int64_t failed = 0;
  double duration_s = 0;              // first send to last completion
  int64_t total_input_tokens = 0;     // successful requests only
  int64_t total_output_tokens = 0;    // successful requests only
  double request_throughput = 0;      // completed / duration, req/s
  double output_throughput = 0;       // output tokens / duration, tok/s
  double total_token_throughput = 0;  // (input + output tokens) / duration, tok/s
  bool has_goodput = false;
  int64_t good_requests = 0;
  double goodput = 0;                         // good requests / duration, req/s
  int64_t peak_concurrency = 0;               // most requests in flight at once
  Summary ttft_ms, tpot_ms, itl_ms, e2el_ms;  // successful requests; TPOT of those with > 1 token
};

// slo: nullptr or an empty SLO when --goodput was not given.
BenchMetrics ComputeMetrics(const std::vector<RequestRecord>& records, double duration_s,
                            const GoodputSlo* slo);

}  // namespace skipjoin::bench
