#include "coordinator/tokenizer/detokenizer.h"

#include "coordinator/tokenizer/unicode.h"

namespace skipjoin {

using tokenizer_internal::IncompleteUtf8Suffix;
using tokenizer_internal::SanitizeUtf8;

std::string IncrementalDetokenizer::Push(int32_t id) {
  if (id < 0 || id >= tokenizer_.vocab_size()) return "";
  if (skip_special_ && tokenizer_.IsSpecial(id)) return "";
  std::string piece = tokenizer_.TokenPiece(id);
  if (first_ && tokenizer_.strips_leading_space() && !piece.empty() && piece[0] == ' ')
    piece.erase(0, 1);
  first_ = false;
  pending_ += piece;
  // Everything but an incomplete trailing sequence is final: complete
  // characters pass through, bytes that cannot start or continue one become
  // U+FFFD.
  const size_t keep = IncompleteUtf8Suffix(pending_);
  std::string out = SanitizeUtf8(std::string_view(pending_).substr(0, pending_.size() - keep));
  pending_.erase(0, pending_.size() - keep);
  return out;
}

std::string IncrementalDetokenizer::Flush() {
  std::string out = SanitizeUtf8(pending_);
  pending_.clear();
  return out;
}

}  // namespace skipjoin
