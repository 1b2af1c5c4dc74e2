// Internal to skipjoin_grammar: sets of Unicode code points and their byte
// encodings as grammar expressions. Pure functions; any thread.
#pragma once

#include <cstdint>
#include <utility>
#include <vector>

#include "common/grammar/builder.h"

namespace skipjoin::grammar::internal {

inline constexpr uint32_t kMaxCodePoint = 0x10FFFF;

// Sorted, disjoint, non-adjacent inclusive ranges.
class CodePointSet {
 public:
  CodePointSet() = default;
  static CodePointSet Range(uint32_t lo, uint32_t hi);
  static CodePointSet All() { return Range(0, kMaxCodePoint); }

  void Add(uint32_t lo, uint32_t hi);
  void Add(const CodePointSet& other);
  CodePointSet Complement() const;
  bool Contains(uint32_t cp) const;
  bool empty() const { return ranges_.empty(); }
  const std::vector<std::pair<uint32_t, uint32_t>>& ranges() const { return ranges_; }

 private:
  std::vector<std::pair<uint32_t, uint32_t>> ranges_;
};

// How a character of a value is written in the output.
enum class CharEncoding {
  kRaw,         // its UTF-8 bytes
  kJsonString,  // inside a JSON string: " \ and controls as their escape, else UTF-8
};

// One character from `set` (surrogates excluded), encoded as asked.
ExprId CharSetExpr(const CodePointSet& set, CharEncoding encoding, GrammarBuilder* b);

// One character of a JSON string body in any form JSON allows: unescaped
// UTF-8 other than " \ and controls, the short escapes, \uXXXX for a
// non-surrogate, or a surrogate pair \uD8xx\uDCxx.
ExprId JsonStringCharExpr(GrammarBuilder* b);

}  // namespace skipjoin::grammar::internal
