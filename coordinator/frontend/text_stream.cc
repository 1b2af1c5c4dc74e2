#include "coordinator/frontend/text_stream.h"

#include <algorithm>

namespace skipjoin::frontend {

std::string StopStringMatcher::Push(std::string_view text) {
  if (stopped_) return "";
  if (stops_.empty()) return std::string(text);
  held_.append(text);
  // Earliest stop string wins; held_ never starts inside a stop string that
  // began earlier, because any suffix that could start one is held back.
  size_t best = std::string::npos;
  for (const std::string& s : stops_) {
    const size_t pos = held_.find(s);
    if (pos < best) best = pos;
  }
  if (best != std::string::npos) {
    stopped_ = true;
    size_t end = best;
    if (include_stop_) {
      // The earliest match; among stops starting there, the one found first.
      for (const std::string& s : stops_) {
        if (held_.compare(best, s.size(), s) == 0) {
          end = best + s.size();
          break;
        }
      }
    }
    std::string out = held_.substr(0, end);
    held_.clear();
    return out;
  }
  // Keep the longest suffix of held_ that is a proper prefix of a stop string.
  size_t keep = 0;
  for (const std::string& s : stops_) {
    const size_t max_len = std::min(s.size() - 1, held_.size());
    for (size_t len = max_len; len > keep; --len) {
      if (held_.compare(held_.size() - len, len, s, 0, len) == 0) {
        keep = len;
        break;
      }
    }
  }
  std::string out = held_.substr(0, held_.size() - keep);
  held_.erase(0, held_.size() - keep);
  return out;
}

std::string StopStringMatcher::Flush() {
  if (stopped_) return "";
  std::string out;
  out.swap(held_);
  return out;
}

std::string ChoiceTextStream::Push(int32_t token) {
  if (matcher_.stopped()) return "";
  // The first min_tokens tokens' text bypasses the matcher (nothing held back).
  if (tokens_++ < min_tokens_) return detok_.Push(token);
  return matcher_.Push(detok_.Push(token));
}

std::string ChoiceTextStream::Flush() {
  if (matcher_.stopped()) return "";
  std::string out = matcher_.Push(detok_.Flush());
  if (!matcher_.stopped()) out += matcher_.Flush();
  return out;
}

}  // namespace skipjoin::frontend
