// Goodput service-level objectives (`--goodput ttft:MS tpot:MS e2el:MS`): a
// request is good when it meets every objective given. Plain values; any
// thread.
#pragma once

#include <optional>
#include <string>

#include "common/status.h"

namespace skipjoin::bench {

struct GoodputSlo {
  std::optional<double> ttft_ms;  // time to first token, at most
  std::optional<double> tpot_ms;  // time per output token after the first, at most
  std::optional<double> e2el_ms;  // end-to-end latency, at most
  bool empty() const { return !ttft_ms && !tpot_ms && !e2el_ms; }
};

// Parses "ttft:500 tpot:50" (items separated by spaces or commas, each
// NAME:MILLISECONDS with a positive value, each name at most once). The
// errors quote the item and name --goodput.
Result<GoodputSlo> ParseGoodput(const std::string& spec);

// Whether one successful request with these latencies (ms) meets the SLO.
bool MeetsSlo(const GoodputSlo& slo, double ttft_ms, double tpot_ms, double e2el_ms);

}  // namespace skipjoin::bench
