// common/token_bytes.h: vocabulary texts to raw bytes for both model kinds.
#include "common/token_bytes.h"

#include <gtest/gtest.h>

namespace skipjoin {
namespace {

TEST(TokenBytesTest, ByteLevelAlphabet) {
  const auto bpe = TokenizerModel::kByteLevelBpe;
  EXPECT_EQ(TokenBytes("\xC4\xA0hello", TokenType::kNormal, bpe), " hello");  // Ġhello
  EXPECT_EQ(TokenBytes("\xC4\x8A", TokenType::kNormal, bpe), "\n");           // Ċ
  EXPECT_EQ(TokenBytes("\xC3\xA9", TokenType::kNormal, bpe), "\xE9");         // é is byte 0xE9
  // Outside the alphabet (an added token): its own text.
  EXPECT_EQ(TokenBytes("\xE2\x96\x81x", TokenType::kNormal, bpe), "\xE2\x96\x81x");
  EXPECT_EQ(TokenBytes("<|im_end|>", TokenType::kControl, bpe), "<|im_end|>");
  std::string bytes;
  EXPECT_FALSE(DecodeByteLevelText("\xFF", &bytes));
}

TEST(TokenBytesTest, SentencePiece) {
  const auto spm = TokenizerModel::kSentencePiece;
  EXPECT_EQ(TokenBytes("\xE2\x96\x81the", TokenType::kNormal, spm), " the");
  EXPECT_EQ(TokenBytes("<0x41>", TokenType::kByte, spm), "A");
  EXPECT_EQ(TokenBytes("<0x0A>", TokenType::kByte, spm), "\n");
  EXPECT_EQ(TokenBytes("<0x41>", TokenType::kNormal, spm), "<0x41>");
  EXPECT_EQ(TokenBytes("<s>", TokenType::kControl, spm), "<s>");
  EXPECT_EQ(ParseByteToken("<0xfF>"), 0xFF);
  EXPECT_EQ(ParseByteToken("<0xG0>"), -1);
}

}  // namespace
}  // namespace skipjoin
