#include "common/grammar/regex.h"

#include <string>

#include "common/utf8.h"

namespace skipjoin::grammar::internal {
namespace {

class RegexParser {
 public:
  RegexParser(std::string_view p, RegexAnchoring anchoring, CharEncoding encoding,
              GrammarBuilder* b)
      : p_(p), anchoring_(anchoring), encoding_(encoding), b_(b) {}

  Result<ExprId> Parse() {
    SJ_ASSIGN_OR_RETURN(ExprId e, ParseAlternation(0));
    if (pos_ < p_.size()) return Error("unmatched ')'");
    return e;
  }

 private:
  Status Error(const std::string& what, size_t at) const {
    return InvalidArgument(what + " at offset " + std::to_string(at) + " in regex");
  }
  Status Error(const std::string& what) const { return Error(what, pos_); }
  bool AtEnd() const { return pos_ >= p_.size(); }
  char Peek() const { return p_[pos_]; }

  ExprId AnyChar() { return CharSetExpr(CodePointSet::All(), encoding_, b_); }

  Result<ExprId> ParseAlternation(int depth) {
    if (depth > kMaxRegexDepth) {
      return Error("groups nested deeper than " + std::to_string(kMaxRegexDepth));
    }
    std::vector<ExprId> alts;
    while (true) {
      SJ_ASSIGN_OR_RETURN(ExprId e, ParseConcat(depth));
      alts.push_back(e);
      if (AtEnd() || Peek() != '|') break;
      ++pos_;
    }
    return b_->Alt(std::move(alts));
  }

  // One alternative. At depth 0, ^ may open it and $ close it.
  Result<ExprId> ParseConcat(int depth) {
    std::vector<ExprId> parts;
    bool start_anchor = false, end_anchor = false;
    if (!AtEnd() && Peek() == '^') {
      if (depth > 0) return Error("anchor '^' inside a group is not supported");
      start_anchor = true;
      ++pos_;
    }
    while (!AtEnd() && Peek() != '|' && Peek() != ')') {
      if (Peek() == '$') {
        const size_t at = pos_++;
        if (depth > 0 || (!AtEnd() && Peek() != '|')) {
          return Error("anchor '$' is only supported at the end of the pattern", at);
        }
        end_anchor = true;
        break;
      }
      if (Peek() == '^') return Error("anchor '^' is only supported at the start of the pattern");
      SJ_ASSIGN_OR_RETURN(ExprId e, ParseQuantified(depth));
      parts.push_back(e);
    }
    if (anchoring_ == RegexAnchoring::kSearch && depth == 0) {
      if (!start_anchor) parts.insert(parts.begin(), b_->Star(AnyChar()));
      if (!end_anchor) parts.push_back(b_->Star(AnyChar()));
    }
    return parts.empty() ? b_->Empty() : b_->Seq(std::move(parts));
  }

  Result<ExprId> ParseQuantified(int depth) {
    SJ_ASSIGN_OR_RETURN(ExprId e, ParseAtom(depth));
    bool quantified = false;
    while (!AtEnd()) {
      const size_t at = pos_;
      int min = 0, max = 0;
      const char c = Peek();
      if (c == '*' || c == '+' || c == '?') {
        ++pos_;
        min = c == '+' ? 1 : 0;
        max = c == '?' ? 1 : kUnbounded;
      } else if (c == '{') {
        SJ_ASSIGN_OR_RETURN(bool counted, ParseCount(&min, &max));
        if (!counted) break;  // a literal '{'
      } else {
        break;
      }
      if (quantified) return Error("repeated quantifier", at);
      quantified = true;
      if (!AtEnd() && Peek() == '?') {
        ++pos_;  // lazy: the same language
      } else if (!AtEnd() && Peek() == '+') {
        return Error("possessive quantifier is not supported");
      }
      e = b_->Repeat(e, min, max);
    }
    return e;
  }

  // {m} {m,} {m,n}; false (nothing consumed) when '{' does not start one.
  Result<bool> ParseCount(int* min, int* max) {
    const size_t start = pos_;
    size_t i = pos_ + 1;
    auto number = [&](int* out) {
      const size_t from = i;
      long long v = 0;
      while (i < p_.size() && p_[i] >= '0' && p_[i] <= '9') {
        v = std::min<long long>(v * 10 + (p_[i] - '0'), 1LL << 40);
        ++i;
      }
      *out = static_cast<int>(std::min<long long>(v, INT32_MAX));
      return i > from;
    };
    if (!number(min)) return false;
    *max = *min;
    if (i < p_.size() && p_[i] == ',') {
      ++i;
      if (!number(max)) *max = kUnbounded;
    }
    if (i >= p_.size() || p_[i] != '}') return false;
    pos_ = i + 1;
    if (*min > kMaxRegexRepeat || *max > kMaxRegexRepeat) {
      return Error("repetition count above the limit of " + std::to_string(kMaxRegexRepeat), start);
    }
    if (*max != kUnbounded && *max < *min) return Error("repetition {m,n} with n < m", start);
    return true;
  }

  Result<ExprId> ParseAtom(int depth) {
    const size_t at = pos_;
    const char c = Peek();
    switch (c) {
      case '(':
        return ParseGroup(depth);
      case '[':
        return ParseClassAtom();
      case '.': {
        ++pos_;
        CodePointSet nl = CodePointSet::Range('\n', '\n');
        return CharSetExpr(nl.Complement(), encoding_, b_);
      }
      case '*':
      case '+':
      case '?':
        return Error(std::string("nothing to repeat before '") + c + "'");
      case '\\': {
        CodePointSet set;
        SJ_RETURN_IF_ERROR(ParseEscape(/*in_class=*/false, &set));
        return CharSetExpr(set, encoding_, b_);
      }
      default: {
        SJ_ASSIGN_OR_RETURN(uint32_t cp, NextCodePoint());
        (void)at;
        return CharSetExpr(CodePointSet::Range(cp, cp), encoding_, b_);
      }
    }
  }

  Result<ExprId> ParseGroup(int depth) {
    const size_t at = pos_++;
    if (!AtEnd() && Peek() == '?') {
      const std::string_view rest = p_.substr(pos_);
      if (rest.starts_with("?:")) {
        pos_ += 2;
      } else if (rest.starts_with("?=") || rest.starts_with("?!") || rest.starts_with("?<=") ||
                 rest.starts_with("?<!")) {
        return Error("lookaround is not supported", at);
      } else if (rest.starts_with("?P<") || rest.starts_with("?<")) {
        const size_t close = p_.find('>', pos_);
        if (close == std::string_view::npos) return Error("unterminated group name", at);
        pos_ = close + 1;
      } else if (rest.starts_with("?P=")) {
        return Error("backreference is not supported", at);
      } else {
        return Error("inline flags and other (? groups are not supported", at);
      }
    }
    SJ_ASSIGN_OR_RETURN(ExprId e, ParseAlternation(depth + 1));
    if (AtEnd() || Peek() != ')') return Error("unterminated group", at);
    ++pos_;
    return e;
  }

  Result<uint32_t> NextCodePoint() {
    const int32_t cp = DecodeUtf8At(p_, &pos_);
    if (cp < 0) return Error("invalid UTF-8");
    return static_cast<uint32_t>(cp);
  }

  Result<uint32_t> Hex(size_t digits) {
    if (pos_ + digits > p_.size()) return Error("truncated hex escape");
    uint32_t v = 0;
    for (size_t i = 0; i < digits; ++i) {
      const char c = p_[pos_ + i];
      const int d = c >= '0' && c <= '9'   ? c - '0'
                    : c >= 'a' && c <= 'f' ? c - 'a' + 10
                    : c >= 'A' && c <= 'F' ? c - 'A' + 10
                                           : -1;
      if (d < 0) return Error("invalid hex escape");
      v = v * 16 + d;
    }
    pos_ += digits;
    return v;
  }

  static CodePointSet Digits() { return CodePointSet::Range('0', '9'); }
  static CodePointSet Word() {
    CodePointSet s = CodePointSet::Range('a', 'z');
    s.Add('A', 'Z');
    s.Add('0', '9');
    s.Add('_', '_');
    return s;
  }
  static CodePointSet Space() {
    CodePointSet s = CodePointSet::Range('\t', '\r');  // \t \n \v \f \r
    s.Add(' ', ' ');
    return s;
  }

  // After a backslash: the character or class it stands for.
  Status ParseEscape(bool in_class, CodePointSet* out) {
    const size_t at = pos_++;
    if (AtEnd()) return Error("trailing backslash", at);
    const char c = p_[pos_++];
    auto single = [&](uint32_t cp) {
      *out = CodePointSet::Range(cp, cp);
      return Status::Ok();
    };
    switch (c) {
      case 'd':
        *out = Digits();
        return Status::Ok();
      case 'D':
        *out = Digits().Complement();
        return Status::Ok();
      case 'w':
        *out = Word();
        return Status::Ok();
      case 'W':
        *out = Word().Complement();
        return Status::Ok();
      case 's':
        *out = Space();
        return Status::Ok();
      case 'S':
        *out = Space().Complement();
        return Status::Ok();
      case 'n':
        return single('\n');
      case 't':
        return single('\t');
      case 'r':
        return single('\r');
      case 'f':
        return single('\f');
      case 'v':
        return single('\v');
      case '0':
        return single(0);
      case 'x': {
        SJ_ASSIGN_OR_RETURN(uint32_t v, Hex(2));
        return single(v);
      }
      case 'u': {
        SJ_ASSIGN_OR_RETURN(uint32_t v, Hex(4));
        return single(v);
      }
      case 'b':
        if (in_class) return single('\b');
        return Error("word boundary \\b is not supported", at);
      case 'B':
        return Error("word boundary \\B is not supported", at);
      case 'A':
      case 'z':
      case 'Z':
      case 'G':
        return Error(std::string("anchor \\") + c + " is not supported", at);
      case 'p':
      case 'P':
        return Error("Unicode property classes \\p are not supported", at);
      case 'k':
        return Error("backreference is not supported", at);
      default:
        break;
    }
    if (c >= '1' && c <= '9') return Error("backreference is not supported", at);
    if ((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z')) {
      return Error(std::string("unknown escape \\") + c, at);
    }
    --pos_;
    SJ_ASSIGN_OR_RETURN(uint32_t cp, NextCodePoint());  // escaped punctuation or any other char
    return single(cp);
  }

  Result<ExprId> ParseClassAtom() {
    CodePointSet set;
    SJ_RETURN_IF_ERROR(ParseClass(&set));
    if (set.empty()) return Error("character class matches nothing");
    return CharSetExpr(set, encoding_, b_);
  }

  Status ParseClass(CodePointSet* out) {
    const size_t at = pos_++;
    bool negate = false;
    if (!AtEnd() && Peek() == '^') {
      negate = true;
      ++pos_;
    }
    CodePointSet set;
    bool first = true;
    while (true) {
      if (AtEnd()) return Error("unterminated character class", at);
      if (Peek() == ']' && !first) {
        ++pos_;
        break;
      }
      if (p_.substr(pos_).starts_with("[:")) {
        return Error("POSIX character classes are not supported");
      }
      first = false;
      // One item: a character (maybe starting a range) or an escaped class.
      CodePointSet item;
      bool single = true;
      uint32_t lo = 0;
      if (Peek() == '\\') {
        SJ_RETURN_IF_ERROR(ParseEscape(/*in_class=*/true, &item));
        single = item.ranges().size() == 1 && item.ranges()[0].first == item.ranges()[0].second;
        lo = single ? item.ranges()[0].first : 0;
      } else {
        SJ_ASSIGN_OR_RETURN(lo, NextCodePoint());
        item = CodePointSet::Range(lo, lo);
      }
      if (single && pos_ + 1 < p_.size() && Peek() == '-' && p_[pos_ + 1] != ']') {
        const size_t range_at = pos_++;
        uint32_t hi = 0;
        if (Peek() == '\\') {
          CodePointSet end;
          SJ_RETURN_IF_ERROR(ParseEscape(true, &end));
          if (end.ranges().size() != 1 || end.ranges()[0].first != end.ranges()[0].second) {
            return Error("class escape as a range end", range_at);
          }
          hi = end.ranges()[0].first;
        } else {
          SJ_ASSIGN_OR_RETURN(hi, NextCodePoint());
        }
        if (hi < lo) return Error("character range out of order", range_at);
        item = CodePointSet::Range(lo, hi);
      }
      set.Add(item);
    }
    *out = negate ? set.Complement() : set;
    return Status::Ok();
  }

  std::string_view p_;
  size_t pos_ = 0;
  RegexAnchoring anchoring_;
  CharEncoding encoding_;
  GrammarBuilder* b_;
};

}  // namespace

Result<ExprId> ParseRegex(std::string_view pattern, RegexAnchoring anchoring, CharEncoding encoding,
                          GrammarBuilder* b) {
  return RegexParser(pattern, anchoring, encoding, b).Parse();
}

}  // namespace skipjoin::grammar::internal
