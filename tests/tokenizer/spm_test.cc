#include <gtest/gtest.h>

#include <cstdio>

#include "coordinator/tokenizer/detokenizer.h"
#include "tests/tokenizer/tiny_vocab.h"

namespace skipjoin {
namespace {

// 0 <unk>, 1 <s>, 2 </s>, 3..258 <0x00>..<0xFF>, then pieces with scores.
constexpr int32_t kByte0 = 3;
constexpr int32_t kPieces = 3 + 256;

TokenizerSpec SpmSpec() {
  TokenizerSpec spec;
  spec.model = TokenizerModel::kSentencePiece;
  spec.tokens = {"<unk>", "<s>", "</s>"};
  spec.types = {TokenType::kUnknown, TokenType::kControl, TokenType::kControl};
  for (int b = 0; b < 256; ++b) {
    char buf[8];
    std::snprintf(buf, sizeof(buf), "<0x%02X>", b);
    spec.tokens.push_back(buf);
    spec.types.push_back(TokenType::kByte);
  }
  spec.scores.assign(spec.tokens.size(), 0.0f);
  // kPieces + 0.. : single chars, then merged pieces; higher score merges first.
  const std::vector<std::pair<std::string, float>> pieces = {
      {"▁", -1},     {"h", -1},       {"i", -1},      {"e", -1},    {"l", -1},
      {"o", -1},     {"▁h", -2},      {"▁hi", -3},    {"ll", -0.5}, {"he", -5},
      {"▁he", -1.5}, {"▁hell", -2.5}, {"▁hello", -4},
  };
  for (const auto& [text, score] : pieces) {
    spec.tokens.push_back(text);
    spec.types.push_back(TokenType::kNormal);
    spec.scores.push_back(score);
  }
  spec.bos_id = 1;
  spec.eos_id = 2;
  spec.unk_id = 0;
  spec.add_bos = true;
  spec.add_space_prefix = true;
  return spec;
}

int32_t Id(const Tokenizer& t, const std::string& text) { return t.TokenId(text); }

TEST(SentencePieceTest, MergesByScoreWithSpacePrefix) {
  auto tok = testing_tok::Build(SpmSpec());
  ASSERT_NE(tok, nullptr);
  EXPECT_EQ(tok->Encode("hi", false, false), (std::vector<int32_t>{Id(*tok, "▁hi")}));
  // ll (-0.5) first, then ▁h (-2)... ending in ▁hello.
  EXPECT_EQ(tok->Encode("hello hi", true, false),
            (std::vector<int32_t>{1, Id(*tok, "▁hello"), Id(*tok, "▁hi")}));
}

TEST(SentencePieceTest, ByteFallbackForUnknownCharacters) {
  auto tok = testing_tok::Build(SpmSpec());
  ASSERT_NE(tok, nullptr);
  const std::string text = "hi 😀";  // F0 9F 98 80
  const std::vector<int32_t> ids = tok->Encode(text, false, false);
  EXPECT_EQ(ids, (std::vector<int32_t>{Id(*tok, "▁hi"), Id(*tok, "▁"), kByte0 + 0xF0, kByte0 + 0x9F,
                                       kByte0 + 0x98, kByte0 + 0x80}));
  EXPECT_EQ(tok->Decode(ids, true), text);  // leading space of ▁hi dropped
  EXPECT_EQ(tok->TokenPiece(kByte0 + 0x41), "A");
  EXPECT_EQ(tok->TokenPiece(Id(*tok, "▁hi")), " hi");
}

TEST(SentencePieceTest, SpacePrefixAfterSpecialTokensAndDecodeRule) {
  auto tok = testing_tok::Build(SpmSpec());
  ASSERT_NE(tok, nullptr);
  // "</s>" is a control token: parsed only with parse_special.
  const std::vector<int32_t> ids = tok->Encode("hi</s>hi", true, true);
  EXPECT_EQ(ids, (std::vector<int32_t>{1, Id(*tok, "▁hi"), 2, Id(*tok, "▁hi")}));
  EXPECT_EQ(tok->Decode(ids, true), "hi hi");
  EXPECT_EQ(tok->Decode(ids, false), "<s> hi</s> hi");
  EXPECT_NE(tok->Encode("hi</s>", false, false).back(), 2);
}

TEST(SentencePieceTest, DetokenizerDropsFirstLeadingSpaceOnly) {
  auto tok = testing_tok::Build(SpmSpec());
  ASSERT_NE(tok, nullptr);
  IncrementalDetokenizer detok(*tok);
  std::string out;
  for (int32_t id : tok->Encode("hi hi", true, false)) out += detok.Push(id);
  out += detok.Flush();
  EXPECT_EQ(out, "hi hi");
}

}  // namespace
}  // namespace skipjoin
