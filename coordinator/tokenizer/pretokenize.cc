#include "coordinator/tokenizer/pretokenize.h"

#include <cstdint>

#include "coordinator/tokenizer/unicode.h"

namespace skipjoin::tokenizer_internal {

namespace {

// The code points of one fragment with their flags; At() past either end gives
// "no code point" so lookaheads treat the fragment end as end of input.
class CpView {
 public:
  CpView(const std::vector<uint32_t>& cps, size_t begin, size_t end)
      : cps_(cps), begin_(begin), end_(end) {}
  size_t size() const { return end_ - begin_; }
  bool Valid(size_t i) const { return i < size(); }
  uint32_t At(size_t i) const { return Valid(i) ? cps_[begin_ + i] : 0xFFFFFFFFu; }
  uint8_t Flags(size_t i) const { return Valid(i) ? CodepointFlags(cps_[begin_ + i]) : 0; }
  bool Letter(size_t i) const { return Flags(i) & kCpLetter; }
  bool Number(size_t i) const { return Flags(i) & kCpNumber; }
  bool Space(size_t i) const { return Flags(i) & kCpWhitespace; }
  // [^\s\p{L}\p{N}]: any code point that is none of the three.
  bool Other(size_t i) const {
    return Valid(i) && !(Flags(i) & (kCpLetter | kCpNumber | kCpWhitespace));
  }
  bool Newline(size_t i) const { return At(i) == '\r' || At(i) == '\n'; }

 private:
  const std::vector<uint32_t>& cps_;
  size_t begin_;
  size_t end_;
};

uint32_t ToLowerAscii(uint32_t c) { return (c >= 'A' && c <= 'Z') ? c + 32 : c; }

// Length of a contraction ('s 't 're 've 'm 'll 'd) at i, or 0.
size_t MatchContraction(const CpView& v, size_t i, bool ignore_case) {
  if (v.At(i) != '\'') return 0;
  auto c = [&](size_t k) { return ignore_case ? ToLowerAscii(v.At(k)) : v.At(k); };
  const uint32_t a = c(i + 1);
  if (a == 's' || a == 't' || a == 'm' || a == 'd') return 2;
  const uint32_t b = c(i + 2);
  if ((a == 'r' && b == 'e') || (a == 'v' && b == 'e') || (a == 'l' && b == 'l')) return 3;
  return 0;
}

// Whitespace handling shared by both families, at i where v.Space(i):
// \s+(?!\S) then \s+. Returns the match length.
size_t MatchTrailingSpace(const CpView& v, size_t i) {
  size_t j = i;
  while (v.Space(j)) ++j;
  const size_t run = j - i;
  // \s+(?!\S): a run that reaches the end is taken whole; a longer run
  // followed by a non-space gives its last whitespace to the next piece.
  if (!v.Valid(j)) return run;
  if (run > 1) return run - 1;
  return run;  // \s+
}

// Length of the GPT-2 pattern's match at i (always >= 1 when i is valid).
size_t MatchGpt2(const CpView& v, size_t i) {
  if (size_t n = MatchContraction(v, i, /*ignore_case=*/false)) return n;
  const size_t start = (v.At(i) == ' ') ? i + 1 : i;  // the optional " ?"
  size_t j = start;
  if (v.Letter(start)) {
    while (v.Letter(j)) ++j;
    return j - i;
  }
  if (v.Number(start)) {
    while (v.Number(j)) ++j;
    return j - i;
  }
  if (v.Other(start)) {
    while (v.Other(j)) ++j;
    return j - i;
  }
  if (v.Space(i)) return MatchTrailingSpace(v, i);
  return 1;  // unreachable for well-formed input; keeps the loop moving
}

// Length of the Llama 3 / Qwen2 pattern's match at i.
size_t MatchLlama3(const CpView& v, size_t i, size_t max_digits) {
  if (size_t n = MatchContraction(v, i, /*ignore_case=*/true)) return n;
  // [^\r\n\p{L}\p{N}]?\p{L}+
  if (v.Letter(i)) {
    size_t j = i;
    while (v.Letter(j)) ++j;
    return j - i;
  }
  if (!v.Newline(i) && !v.Number(i) && v.Letter(i + 1)) {
    size_t j = i + 1;
    while (v.Letter(j)) ++j;
    return j - i;
  }
  // \p{N}{1,max_digits}
  if (v.Number(i)) {
    size_t j = i;
    while (v.Number(j) && j - i < max_digits) ++j;
    return j - i;
  }
  // ' '?[^\s\p{L}\p{N}]+[\r\n]*
  {
    const size_t start = (v.At(i) == ' ') ? i + 1 : i;
    if (v.Other(start)) {
      size_t j = start;
      while (v.Other(j)) ++j;
      while (v.Newline(j)) ++j;
      return j - i;
    }
  }
  if (v.Space(i)) {
    // \s*[\r\n]+: up to and including the last newline of the whitespace run.
    size_t j = i;
    size_t last_newline_end = 0;
    while (v.Space(j)) {
      if (v.Newline(j)) last_newline_end = j + 1;
      ++j;
    }
    if (last_newline_end != 0) return last_newline_end - i;
    return MatchTrailingSpace(v, i);
  }
  return 1;
}

void SplitFragment(PreTokenizerKind kind, const std::vector<uint32_t>& cps, size_t begin,
                   size_t end, std::vector<std::string>* out) {
  const CpView v(cps, begin, end);
  size_t i = 0;
  while (i < v.size()) {
    size_t n = 0;
    switch (kind) {
      case PreTokenizerKind::kGpt2:
      case PreTokenizerKind::kSmolLM:
        n = MatchGpt2(v, i);
        break;
      case PreTokenizerKind::kLlama3:
        n = MatchLlama3(v, i, 3);
        break;
      case PreTokenizerKind::kQwen2:
        n = MatchLlama3(v, i, 1);
        break;
    }
    if (n == 0) n = 1;
    out->push_back(EncodeUtf8(cps, begin + i, begin + i + n));
    i += n;
  }
}

}  // namespace

const char* PreTokenizerName(PreTokenizerKind kind) {
  switch (kind) {
    case PreTokenizerKind::kGpt2:
      return "gpt2";
    case PreTokenizerKind::kSmolLM:
      return "smollm";
    case PreTokenizerKind::kLlama3:
      return "llama3";
    case PreTokenizerKind::kQwen2:
      return "qwen2";
  }
  return "unknown";
}

std::vector<std::string> PreTokenize(PreTokenizerKind kind, std::string_view text) {
  const std::vector<uint32_t> cps = DecodeUtf8(text);
  std::vector<std::string> out;
  if (kind != PreTokenizerKind::kSmolLM) {
    SplitFragment(kind, cps, 0, cps.size(), &out);
    return out;
  }
  // \p{N} first: every number code point is a fragment of its own; the text
  // between numbers is split by the GPT-2 pattern with fragment ends as ends.
  size_t frag = 0;
  for (size_t i = 0; i < cps.size(); ++i) {
    if (!IsNumber(cps[i])) continue;
    if (frag < i) SplitFragment(kind, cps, frag, i, &out);
    out.push_back(EncodeUtf8(cps, i, i + 1));
    frag = i + 1;
  }
  if (frag < cps.size()) SplitFragment(kind, cps, frag, cps.size(), &out);
  return out;
}

}  // namespace skipjoin::tokenizer_internal
