// The flags of `skipjoin bench serve`, parsed and checked into one options
// struct. Plain values; any thread.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "client/bench/arrivals.h"
#include "client/bench/dataset.h"
#include "client/bench/goodput.h"
#include "client/bench/openai_api.h"
#include "client/bench/url.h"
#include "common/status.h"

namespace skipjoin::bench {

struct BenchServeOptions {
  HttpUrl url;                                 // --base-url
  std::string endpoint = "/v1/completions";    // --endpoint
  ApiFlavor flavor = ApiFlavor::kCompletions;  // from the endpoint
  std::string model;                           // --model; "" asks GET /v1/models
  DatasetOptions dataset;                      // --dataset and its length flags, --seed
  ArrivalOptions arrivals;                     // --request-rate, --burstiness, --seed
  int64_t max_concurrency = 0;                 // 0: no limit
  bool ignore_eos = false;
  GoodputSlo goodput;      // empty when --goodput is not given
  std::string json_path;   // --json; "" writes no file
  std::string api_key;     // --api-key, else $OPENAI_API_KEY
  double timeout_s = 600;  // per request; 0: no limit
  bool progress = true;    // false with --no-progress
};

struct ParsedBenchArgs {
  bool help = false;  // --help: print help_text and exit 0
  std::string help_text;
  BenchServeOptions options;
};

// Parses and validates the arguments after `bench serve`. Errors name the
// flag and say what it takes. `--goodput` takes its items as one argument
// ("ttft:500,tpot:50") or as the following words (ttft:500 tpot:50), as
// vLLM's flag does.
Result<ParsedBenchArgs> ParseBenchServeArgs(const std::vector<std::string>& args);

}  // namespace skipjoin::bench
