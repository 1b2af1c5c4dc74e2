#include "common/grammar/charset.h"

#include <algorithm>
#include <array>
#include <string>

#include "common/utf8.h"

namespace skipjoin::grammar::internal {
namespace {

constexpr uint32_t kSurrogateLo = 0xD800, kSurrogateHi = 0xDFFF;

int Utf8Length(uint32_t cp) { return cp < 0x80 ? 1 : cp < 0x800 ? 2 : cp < 0x10000 ? 3 : 4; }

std::array<uint8_t, 4> Encode(uint32_t cp, int n) {
  std::string s;
  AppendUtf8(cp, &s);
  std::array<uint8_t, 4> out{};
  for (int i = 0; i < n; ++i) out[i] = static_cast<uint8_t>(s[i]);
  return out;
}

// Byte sequences lexicographically between lo[i..n) and hi[i..n), both
// encodings of the same length.
ExprId Between(const std::array<uint8_t, 4>& lo, const std::array<uint8_t, 4>& hi, int i, int n,
               GrammarBuilder* b) {
  if (i == n - 1) return b->Range(lo[i], hi[i]);
  if (lo[i] == hi[i]) return b->Seq({b->Range(lo[i], lo[i]), Between(lo, hi, i + 1, n, b)});
  std::array<uint8_t, 4> min_tail = lo, max_tail = hi;
  bool lo_full = true, hi_full = true;
  for (int j = i + 1; j < n; ++j) {
    lo_full &= lo[j] == 0x80;
    hi_full &= hi[j] == 0xBF;
    min_tail[j] = 0x80;
    max_tail[j] = 0xBF;
  }
  std::vector<ExprId> alts;
  int first = lo[i], last = hi[i];
  if (!lo_full) {
    std::array<uint8_t, 4> top = lo;
    for (int j = i + 1; j < n; ++j) top[j] = 0xBF;
    alts.push_back(b->Seq({b->Range(lo[i], lo[i]), Between(lo, top, i + 1, n, b)}));
    ++first;
  }
  if (!hi_full) {
    std::array<uint8_t, 4> bottom = hi;
    for (int j = i + 1; j < n; ++j) bottom[j] = 0x80;
    alts.push_back(b->Seq({b->Range(hi[i], hi[i]), Between(bottom, hi, i + 1, n, b)}));
    --last;
  }
  if (first <= last) {
    std::vector<ExprId> seq = {b->Range(static_cast<uint8_t>(first), static_cast<uint8_t>(last))};
    for (int j = i + 1; j < n; ++j) seq.push_back(b->Range(0x80, 0xBF));
    alts.push_back(b->Seq(std::move(seq)));
  }
  return b->Alt(std::move(alts));
}

// UTF-8 of every code point in [lo, hi] (no surrogates inside).
void AddUtf8Range(uint32_t lo, uint32_t hi, GrammarBuilder* b, std::vector<ExprId>* alts) {
  static constexpr uint32_t kLengthEnds[] = {0x7F, 0x7FF, 0xFFFF, kMaxCodePoint};
  for (uint32_t end : kLengthEnds) {
    if (lo > hi) return;
    if (lo > end) continue;
    const uint32_t piece_hi = std::min(hi, end);
    const int n = Utf8Length(lo);
    alts->push_back(Between(Encode(lo, n), Encode(piece_hi, n), 0, n, b));
    lo = piece_hi + 1;
  }
}

std::string JsonEscape(uint32_t cp) {
  switch (cp) {
    case '"':
      return "\\\"";
    case '\\':
      return "\\\\";
    case '\b':
      return "\\b";
    case '\f':
      return "\\f";
    case '\n':
      return "\\n";
    case '\r':
      return "\\r";
    case '\t':
      return "\\t";
    default: {
      static constexpr char kHex[] = "0123456789abcdef";
      return std::string("\\u00") + kHex[cp >> 4] + kHex[cp & 15];
    }
  }
}

}  // namespace

CodePointSet CodePointSet::Range(uint32_t lo, uint32_t hi) {
  CodePointSet s;
  s.Add(lo, hi);
  return s;
}

void CodePointSet::Add(uint32_t lo, uint32_t hi) {
  if (lo > hi) return;
  ranges_.emplace_back(lo, std::min(hi, kMaxCodePoint));
  std::sort(ranges_.begin(), ranges_.end());
  std::vector<std::pair<uint32_t, uint32_t>> merged;
  for (auto r : ranges_) {
    if (!merged.empty() && r.first <= merged.back().second + 1) {
      merged.back().second = std::max(merged.back().second, r.second);
    } else {
      merged.push_back(r);
    }
  }
  ranges_ = std::move(merged);
}

void CodePointSet::Add(const CodePointSet& other) {
  for (auto [lo, hi] : other.ranges_) Add(lo, hi);
}

CodePointSet CodePointSet::Complement() const {
  CodePointSet out;
  uint32_t next = 0;
  for (auto [lo, hi] : ranges_) {
    if (lo > next) out.ranges_.emplace_back(next, lo - 1);
    next = hi + 1;
  }
  if (next <= kMaxCodePoint) out.ranges_.emplace_back(next, kMaxCodePoint);
  return out;
}

bool CodePointSet::Contains(uint32_t cp) const {
  for (auto [lo, hi] : ranges_) {
    if (cp >= lo && cp <= hi) return true;
  }
  return false;
}

ExprId CharSetExpr(const CodePointSet& set, CharEncoding encoding, GrammarBuilder* b) {
  std::vector<ExprId> alts;
  for (auto [lo, hi] : set.ranges()) {
    for (uint32_t cp = lo; encoding == CharEncoding::kJsonString && cp <= std::min(hi, 0x5Cu);
         ++cp) {
      if (cp < 0x20 || cp == '"' || cp == '\\') alts.push_back(b->Literal(JsonEscape(cp)));
    }
    // The pieces written as UTF-8: [lo, hi] minus surrogates (and, for JSON,
    // minus what was escaped above).
    std::vector<std::pair<uint32_t, uint32_t>> pieces = {{lo, hi}};
    if (encoding == CharEncoding::kJsonString) {
      pieces = {{std::max(lo, 0x20u), std::min(hi, 0x21u)},
                {std::max(lo, 0x23u), std::min(hi, 0x5Bu)},
                {std::max(lo, 0x5Du), hi}};
    }
    for (auto [plo, phi] : pieces) {
      if (plo > phi) continue;
      if (plo <= kSurrogateHi && phi >= kSurrogateLo) {
        if (plo < kSurrogateLo) AddUtf8Range(plo, kSurrogateLo - 1, b, &alts);
        if (phi > kSurrogateHi) AddUtf8Range(kSurrogateHi + 1, phi, b, &alts);
      } else {
        AddUtf8Range(plo, phi, b, &alts);
      }
    }
  }
  return b->Alt(std::move(alts));
}

ExprId JsonStringCharExpr(GrammarBuilder* b) {
  CodePointSet unescaped = CodePointSet::Range(0x20, kMaxCodePoint);
  unescaped = unescaped.Complement();  // controls
  unescaped.Add('"', '"');
  unescaped.Add('\\', '\\');
  unescaped = unescaped.Complement();
  ByteSet short_escapes;
  for (char c : std::string_view("\"\\/bfnrt")) short_escapes.set(static_cast<uint8_t>(c));
  ByteSet hex;
  for (char c : std::string_view("0123456789abcdefABCDEF")) hex.set(static_cast<uint8_t>(c));
  auto hex_set = [&](std::string_view chars) {
    ByteSet s;
    for (char c : chars) s.set(static_cast<uint8_t>(c));
    return b->Bytes(s);
  };
  auto any_hex = [&] { return b->Bytes(hex); };
  const ExprId d = hex_set("Dd");
  // \uXXXX outside the surrogates, or a high surrogate then a low one.
  const ExprId non_surrogate =
      b->Alt({b->Seq({hex_set("0123456789ABCabcEFef"), any_hex(), any_hex(), any_hex()}),
              b->Seq({d, hex_set("01234567"), any_hex(), any_hex()})});
  const ExprId pair =
      b->Seq({hex_set("Dd"), hex_set("89ABab"), any_hex(), any_hex(), b->Literal("\\u"),
              hex_set("Dd"), hex_set("CDEFcdef"), any_hex(), any_hex()});
  const ExprId escape = b->Seq(
      {b->Literal("\\"), b->Alt({b->Bytes(short_escapes),
                                 b->Seq({b->Literal("u"), b->Alt({non_surrogate, pair})})})});
  return b->Alt({CharSetExpr(unescaped, CharEncoding::kRaw, b), escape});
}

}  // namespace skipjoin::grammar::internal
