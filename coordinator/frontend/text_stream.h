// Per-choice output text: incremental detokenization (UTF-8 safe) plus stop
// strings. Text that might be the start of a stop string is held back until
// it is known not to be; when a stop string appears (possibly spread over
// several tokens) the text before it is released, the stop string and
// everything after it are dropped, and stopped() turns true.
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
  explicit StopStringMatcher(std::vector<std::string> stops) : stops_(std::move(stops)) {}
  // Adds text; returns what is now safe to emit. After a match, returns the
  // text before the stop string once and then nothing.
  std::string Push(std::string_view text);
  // End of output without a match: the held-back text.
  std::string Flush();
  bool stopped() const { return stopped_; }

 private:
  std::vector<std::string> stops_;
  std::string held_;
  bool stopped_ = false;
};

class ChoiceTextStream {
 public:
  ChoiceTextStream(const Tokenizer& tokenizer, std::vector<std::string> stops)
      : detok_(tokenizer, /*skip_special=*/true), matcher_(std::move(stops)) {}
  std::string Push(int32_t token);
  std::string Flush();
  bool stopped() const { return matcher_.stopped(); }

 private:
  IncrementalDetokenizer detok_;
  StopStringMatcher matcher_;
};

}  // namespace skipjoin::frontend
