// The results of `skipjoin bench serve`: the text block (laid out like
// `vllm bench serve`'s so the numbers read the same) and the --json document
// with every metric and one record per request. Free functions; any thread.
#pragma once

#include <cstddef>
#include <nlohmann/json.hpp>
#include <string>
#include <vector>

#include "client/bench/bench_options.h"
#include "client/bench/stats.h"

namespace skipjoin::bench {

std::string FormatReport(const BenchMetrics& metrics, const BenchServeOptions& options);

// The distinct errors of the failed requests, most frequent first, at most
// max_kinds lines ("  3 x HTTP 400: ..."); "" when none failed.
std::string FormatErrors(const std::vector<RequestRecord>& records, size_t max_kinds = 5);

// model: the name actually sent (--model or the discovered one).
nlohmann::json ResultJson(const BenchMetrics& metrics, const BenchServeOptions& options,
                          const std::string& model, const std::vector<RequestRecord>& records);

}  // namespace skipjoin::bench
