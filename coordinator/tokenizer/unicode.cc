#include "coordinator/tokenizer/unicode.h"

#include <algorithm>

#include "common/utf8.h"

namespace skipjoin::tokenizer_internal {

uint8_t CodepointFlags(uint32_t cp) {
  const CodepointRange* begin = kCodepointRanges;
  const CodepointRange* end = kCodepointRanges + kNumCodepointRanges;
  // First range whose last >= cp.
  const CodepointRange* it = std::lower_bound(
      begin, end, cp, [](const CodepointRange& r, uint32_t v) { return r.last < v; });
  if (it == end || it->first > cp) return 0;
  return it->flags;
}

namespace {

// Expected total length of a sequence from its lead byte; 0 if not a lead byte.
size_t LeadLength(uint8_t b) {
  if (b < 0x80) return 1;
  if (b >= 0xC2 && b <= 0xDF) return 2;
  if (b >= 0xE0 && b <= 0xEF) return 3;
  if (b >= 0xF0 && b <= 0xF4) return 4;
  return 0;
}

// Whether the byte at position k (1-based within the sequence) is an allowed
// continuation given the lead byte (rules out overlong forms, surrogates and
// values past U+10FFFF, as in Unicode Table 3-7).
bool ContinuationOk(uint8_t lead, size_t k, uint8_t b) {
  if (k == 1) {
    if (lead == 0xE0) return b >= 0xA0 && b <= 0xBF;
    if (lead == 0xED) return b >= 0x80 && b <= 0x9F;
    if (lead == 0xF0) return b >= 0x90 && b <= 0xBF;
    if (lead == 0xF4) return b >= 0x80 && b <= 0x8F;
  }
  return b >= 0x80 && b <= 0xBF;
}

}  // namespace

size_t ValidUtf8SequenceLength(std::string_view s, size_t i) {
  if (i >= s.size()) return 0;
  const uint8_t lead = static_cast<uint8_t>(s[i]);
  const size_t len = LeadLength(lead);
  if (len == 0 || i + len > s.size()) return 0;
  for (size_t k = 1; k < len; ++k) {
    if (!ContinuationOk(lead, k, static_cast<uint8_t>(s[i + k]))) return 0;
  }
  return len;
}

size_t IncompleteUtf8Suffix(std::string_view s) {
  // A lead byte within the last 3 bytes whose sequence needs more bytes than
  // remain, with every byte after it an allowed continuation.
  const size_t n = s.size();
  for (size_t back = 1; back <= 3 && back <= n; ++back) {
    const size_t i = n - back;
    const uint8_t b = static_cast<uint8_t>(s[i]);
    if (b >= 0x80 && b <= 0xBF) continue;  // continuation byte: look further back
    const size_t len = LeadLength(b);
    if (len <= back) return 0;  // ASCII, invalid, or already complete
    for (size_t k = 1; k < back; ++k) {
      if (!ContinuationOk(b, k, static_cast<uint8_t>(s[i + k]))) return 0;
    }
    return back;
  }
  return 0;
}

std::vector<uint32_t> DecodeUtf8(std::string_view s) {
  std::vector<uint32_t> out;
  out.reserve(s.size());
  size_t i = 0;
  while (i < s.size()) {
    const size_t len = ValidUtf8SequenceLength(s, i);
    if (len == 0) {
      out.push_back(kReplacementChar);
      ++i;
      continue;
    }
    const uint8_t b0 = static_cast<uint8_t>(s[i]);
    uint32_t cp;
    switch (len) {
      case 1:
        cp = b0;
        break;
      case 2:
        cp = (b0 & 0x1Fu) << 6 | (static_cast<uint8_t>(s[i + 1]) & 0x3Fu);
        break;
      case 3:
        cp = (b0 & 0x0Fu) << 12 | (static_cast<uint8_t>(s[i + 1]) & 0x3Fu) << 6 |
             (static_cast<uint8_t>(s[i + 2]) & 0x3Fu);
        break;
      default:
        cp = (b0 & 0x07u) << 18 | (static_cast<uint8_t>(s[i + 1]) & 0x3Fu) << 12 |
             (static_cast<uint8_t>(s[i + 2]) & 0x3Fu) << 6 |
             (static_cast<uint8_t>(s[i + 3]) & 0x3Fu);
        break;
    }
    out.push_back(cp);
    i += len;
  }
  return out;
}

void AppendUtf8(uint32_t cp, std::string* out) {
  if ((cp >= 0xD800 && cp <= 0xDFFF) || cp > 0x10FFFF) cp = kReplacementChar;
  ::skipjoin::AppendUtf8(cp, out);
}

std::string EncodeUtf8(const std::vector<uint32_t>& cps, size_t begin, size_t end) {
  std::string out;
  out.reserve(end - begin);
  for (size_t i = begin; i < end; ++i) AppendUtf8(cps[i], &out);
  return out;
}

std::string SanitizeUtf8(std::string_view s) {
  std::string out;
  out.reserve(s.size());
  size_t i = 0;
  while (i < s.size()) {
    const size_t len = ValidUtf8SequenceLength(s, i);
    if (len == 0) {
      AppendUtf8(kReplacementChar, &out);
      ++i;
    } else {
      out.append(s.substr(i, len));
      i += len;
    }
  }
  return out;
}

}  // namespace skipjoin::tokenizer_internal
