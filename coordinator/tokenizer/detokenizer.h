// IncrementalDetokenizer: turns a stream of generated token ids into text
// chunks that are always whole UTF-8 characters, for streaming responses.
//
// Contract: the concatenation of every Push() result and the final Flush()
// equals tokenizer.Decode(all ids, skip_special) whenever that is valid UTF-8.
// Bytes of a character split across tokens are held back until the character
// is complete; bytes that can never become valid UTF-8 are emitted as U+FFFD
// (so the output is always valid UTF-8). SentencePiece's leading-space rule is
// applied to the first emitted token, as in Decode. Out-of-range ids are
// skipped, as in Decode.
//
// Thread-safety: single owner (the request's handler); not thread-safe. The
// Tokenizer must outlive this object.
#pragma once

#include <cstdint>
#include <string>

#include "coordinator/tokenizer/tokenizer.h"

namespace skipjoin {

class IncrementalDetokenizer {
 public:
  explicit IncrementalDetokenizer(const Tokenizer& tokenizer, bool skip_special = true)
      : tokenizer_(tokenizer), skip_special_(skip_special) {}

  // Adds one token; returns the text that became complete (possibly "").
  std::string Push(int32_t id);
  // Returns whatever is held back, invalid bytes as U+FFFD, and resets the
  // pending state (the leading-space rule is not re-armed).
  std::string Flush();

  // Bytes held back waiting for the rest of a character (0..3).
  size_t pending_bytes() const { return pending_.size(); }

 private:
  const Tokenizer& tokenizer_;
  bool skip_special_;
  bool first_ = true;
  std::string pending_;
};

}  // namespace skipjoin
