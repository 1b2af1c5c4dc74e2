// Per-choice output text: incremental detokenization (UTF-8 safe) plus stop
// strings. Text that might be the start of a stop string is held back until
// it is known not to be; when a stop string appears (possibly spread over
// several tokens) the text before it is released (with the stop string when
// include_stop is set), everything after it is dropped, and stopped() turns
// true. Stop strings are looked for only in the text of tokens after the
// first min_tokens (vLLM's rule), so min_tokens holds for stop strings too.
//
// Thread-safety: single owner (the request's session); not thread-safe. The
// Tokenizer must outlive the object.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "coordinator/tokenizer/detokenizer.h"
#include "coordinator/tokenizer/tokenizer.h"

namespace skipjoin::frontend {

// The stop-string half, on text.
class StopStringMatcher {
 public:
  explicit StopStringMatcher(std::vector<std::string> stops, bool include_stop = false)
      : stops_(std::move(stops)), include_stop_(include_stop) {}
  // Adds text; returns what is now safe to emit. After a match, returns the
  // text before the stop string once and then nothing.
  std::string Push(std::string_view text);
  // End of output without a match: the held-back text.
  std::string Flush();
  bool stopped() const { return stopped_; }

 private:
  std::vector<std::string> stops_;
  bool include_stop_ = false;
  std::string held_;
  bool stopped_ = false;
};

struct StopOptions {
  std::vector<std::string> stops;
  bool include_stop = false;  // include_stop_str_in_output
  int32_t min_tokens = 0;     // tokens whose text is never searched for stops
};

class ChoiceTextStream {
 public:
  ChoiceTextStream(const Tokenizer& tokenizer, StopOptions options)
      : detok_(tokenizer, /*skip_special=*/true),
        matcher_(std::move(options.stops), options.include_stop),
        min_tokens_(options.min_tokens) {}
  std::string Push(int32_t token);
  std::string Flush();
  bool stopped() const { return matcher_.stopped(); }

 private:
  IncrementalDetokenizer detok_;
  StopStringMatcher matcher_;
  int32_t min_tokens_ = 0;
  int32_t tokens_ = 0;  // pushed so far
};

}  // namespace skipjoin::frontend
