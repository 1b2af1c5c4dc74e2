#include "common/token_bytes.h"

#include <array>

#include "common/utf8.h"

namespace skipjoin {
namespace {

// U+2581, the SentencePiece space.
constexpr std::string_view kSpmSpace = "\xE2\x96\x81";

bool PrintableInByteLevel(int b) {
  return (b >= '!' && b <= '~') || (b >= 0xA1 && b <= 0xAC) || (b >= 0xAE && b <= 0xFF);
}

// Code point -> byte for the GPT-2 alphabet: printable Latin-1 bytes stand for
// themselves, the other 68 bytes for U+0100 onwards in byte order. -1 outside.
struct ByteLevelTable {
  std::array<int16_t, 324> cp_to_byte;
  ByteLevelTable() {
    cp_to_byte.fill(-1);
    int next_extra = 256;
    for (int b = 0; b < 256; ++b) {
      const int cp = PrintableInByteLevel(b) ? b : next_extra++;
      cp_to_byte[cp] = static_cast<int16_t>(b);
    }
  }
};

std::string ReplaceSpmSpaces(std::string_view text) {
  std::string out;
  out.reserve(text.size());
  size_t pos = 0;
  while (pos < text.size()) {
    if (text.substr(pos, kSpmSpace.size()) == kSpmSpace) {
      out += ' ';
      pos += kSpmSpace.size();
    } else {
      out += text[pos++];
    }
  }
  return out;
}

}  // namespace

int ParseByteToken(std::string_view text) {
  if (text.size() != 6 || text.substr(0, 3) != "<0x" || text[5] != '>') return -1;
  int v = 0;
  for (char c : text.substr(3, 2)) {
    const int d = c >= '0' && c <= '9'   ? c - '0'
                  : c >= 'a' && c <= 'f' ? c - 'a' + 10
                  : c >= 'A' && c <= 'F' ? c - 'A' + 10
                                         : -1;
    if (d < 0) return -1;
    v = v * 16 + d;
  }
  return v;
}

bool DecodeByteLevelText(std::string_view text, std::string* bytes) {
  static const ByteLevelTable kTable;  // immutable after its thread-safe construction
  size_t pos = 0;
  while (pos < text.size()) {
    const int32_t cp = DecodeUtf8At(text, &pos);
    if (cp < 0 || cp >= static_cast<int32_t>(kTable.cp_to_byte.size()) ||
        kTable.cp_to_byte[cp] < 0) {
      return false;
    }
    bytes->push_back(static_cast<char>(kTable.cp_to_byte[cp]));
  }
  return true;
}

std::string TokenBytes(std::string_view text, TokenType type, TokenizerModel model) {
  if (type == TokenType::kControl || type == TokenType::kUserDefined ||
      type == TokenType::kUnknown) {
    return std::string(text);
  }
  switch (model) {
    case TokenizerModel::kByteLevelBpe: {
      std::string bytes;
      return DecodeByteLevelText(text, &bytes) ? bytes : std::string(text);
    }
    case TokenizerModel::kSentencePiece: {
      const int b = type == TokenType::kByte ? ParseByteToken(text) : -1;
      return b >= 0 ? std::string(1, static_cast<char>(b)) : ReplaceSpmSpaces(text);
    }
  }
  return std::string(text);
}

}  // namespace skipjoin
