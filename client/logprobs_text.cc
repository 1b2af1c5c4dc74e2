#include "client/logprobs_text.h"

#include <algorithm>
#include <cstdio>

namespace skipjoin::cli {
namespace {

// Length of the valid UTF-8 sequence at s[i], 0 when there is none.
size_t Utf8Length(std::string_view s, size_t i) {
  const auto b = static_cast<unsigned char>(s[i]);
  size_t n = 0;
  uint32_t min = 0;
  if (b < 0x80) return 1;
  if ((b & 0xE0) == 0xC0) {
    n = 2;
    min = 0x80;
  } else if ((b & 0xF0) == 0xE0) {
    n = 3;
    min = 0x800;
  } else if ((b & 0xF8) == 0xF0) {
    n = 4;
    min = 0x10000;
  } else {
    return 0;
  }
  if (i + n > s.size()) return 0;
  uint32_t cp = b & (0x7F >> n);
  for (size_t k = 1; k < n; ++k) {
    const auto c = static_cast<unsigned char>(s[i + k]);
    if ((c & 0xC0) != 0x80) return 0;
    cp = (cp << 6) | (c & 0x3F);
  }
  if (cp < min || cp > 0x10FFFF || (cp >= 0xD800 && cp <= 0xDFFF)) return 0;
  return n;
}

// Terminal columns of text that QuotedTokenText made (one per code point).
size_t Columns(std::string_view quoted) {
  return static_cast<size_t>(std::count_if(quoted.begin(), quoted.end(), [](char c) {
    return (static_cast<unsigned char>(c) & 0xC0) != 0x80;
  }));
}

std::string Padded(const std::string& s, size_t width) {
  const size_t cols = Columns(s);
  return cols >= width ? s : s + std::string(width - cols, ' ');
}

std::string Number(float logprob) {
  char buf[32];
  std::snprintf(buf, sizeof(buf), "%.4f", static_cast<double>(logprob));
  return buf;
}

}  // namespace

std::string QuotedTokenText(std::string_view bytes) {
  std::string out = "\"";
  for (size_t i = 0; i < bytes.size();) {
    const char c = bytes[i];
    const size_t n = Utf8Length(bytes, i);
    if (n > 1) {
      out.append(bytes.substr(i, n));
      i += n;
      continue;
    }
    ++i;
    switch (c) {
      case '"':
        out += "\\\"";
        continue;
      case '\\':
        out += "\\\\";
        continue;
      case '\n':
        out += "\\n";
        continue;
      case '\t':
        out += "\\t";
        continue;
      case '\r':
        out += "\\r";
        continue;
      default:
        break;
    }
    const auto b = static_cast<unsigned char>(c);
    if (n == 1 && b >= 0x20 && b != 0x7F) {
      out += c;
    } else {
      char hex[8];
      std::snprintf(hex, sizeof(hex), "\\x%02X", b);
      out += hex;
    }
  }
  return out + "\"";
}

std::string FormatLogprobsTable(const std::vector<protocol::TokenLogprobs>& logprobs,
                                const TokenTextFn& text) {
  const auto name = [&](int32_t id) {
    return text ? QuotedTokenText(text(id)) : "#" + std::to_string(id);
  };
  // Long tokens do not widen the column for all the others.
  constexpr size_t kMaxTokenColumn = 20;
  size_t width = 5;  // "token"
  for (const auto& lp : logprobs) width = std::max(width, Columns(name(lp.token)));
  width = std::min(width, kMaxTokenColumn);

  const auto right = [](const std::string& s, size_t w) {
    return s.size() >= w ? s : std::string(w - s.size(), ' ') + s;
  };
  const size_t index_width = std::to_string(logprobs.size()).size();
  std::string out = right("#", index_width) + "  " + Padded("token", width) + "  " +
                    right("logprob", 8) + "  alternatives, most likely first\n";
  for (size_t i = 0; i < logprobs.size(); ++i) {
    const auto& lp = logprobs[i];
    std::string line = right(std::to_string(i), index_width) + "  " +
                       Padded(name(lp.token), width) + "  " + right(Number(lp.logprob), 8);
    for (size_t k = 0; k < lp.top.size(); ++k) {
      line += k == 0 ? "  " : " | ";
      line += name(lp.top[k].token) + " " + Number(lp.top[k].logprob);
    }
    out += line + "\n";
  }
  return out;
}

}  // namespace skipjoin::cli
