// Internal to skipjoin_tokenizer: UTF-8 coding and Unicode code point classes
// (from the generated unicode_tables.cc) used by the pre-tokenizer matchers and
// the incremental detokenizer. Pure functions; safe from any thread.
#pragma once

#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

namespace skipjoin::tokenizer_internal {

// Flags of one code point; a code point may carry several (none for controls,
// unassigned and separators other than whitespace).
enum CodepointFlag : uint8_t {
  kCpLetter = 1,       // \p{L}
  kCpNumber = 2,       // \p{N}
  kCpMark = 4,         // \p{M}
  kCpPunctuation = 8,  // \p{P}
  kCpSymbol = 16,      // \p{S}
  kCpWhitespace = 32,  // \s (Unicode White_Space)
};

struct CodepointRange {
  uint32_t first;
  uint32_t last;  // inclusive
  uint8_t flags;
};

extern const char kUnicodeVersion[];
extern const CodepointRange kCodepointRanges[];
extern const size_t kNumCodepointRanges;

constexpr uint32_t kReplacementChar = 0xFFFD;

// Flags of cp (binary search over the generated ranges).
uint8_t CodepointFlags(uint32_t cp);

inline bool IsLetter(uint32_t cp) { return CodepointFlags(cp) & kCpLetter; }
inline bool IsNumber(uint32_t cp) { return CodepointFlags(cp) & kCpNumber; }
inline bool IsWhitespace(uint32_t cp) { return CodepointFlags(cp) & kCpWhitespace; }

// Decodes UTF-8 into code points. Each byte that does not start a valid,
// complete, shortest-form sequence (or that encodes a surrogate or a value past
// U+10FFFF) becomes one U+FFFD, and decoding resumes at the next byte.
std::vector<uint32_t> DecodeUtf8(std::string_view s);

// Appends the UTF-8 encoding of cp (U+FFFD for surrogates and values past
// U+10FFFF).
void AppendUtf8(uint32_t cp, std::string* out);
std::string EncodeUtf8(const std::vector<uint32_t>& cps, size_t begin, size_t end);

// Length of the valid UTF-8 sequence starting at s[i], or 0 when the bytes at
// i do not form one (including a sequence cut short by the end of s).
size_t ValidUtf8SequenceLength(std::string_view s, size_t i);

// Number of bytes at the end of s that form a proper prefix of a valid UTF-8
// sequence (a lead byte followed by fewer continuation bytes than it needs),
// i.e. bytes that could still become valid when more bytes arrive. 0..3.
size_t IncompleteUtf8Suffix(std::string_view s);

// Replaces every byte that is not part of a valid UTF-8 sequence with U+FFFD.
std::string SanitizeUtf8(std::string_view s);

}  // namespace skipjoin::tokenizer_internal
