#include <gtest/gtest.h>

#include "tests/tokenizer/tiny_vocab.h"

namespace skipjoin {
namespace {

using testing_tok::Build;
using testing_tok::ByteLevelSpec;

// 256 <|im_start|> (control), 257 <|im_end|> (control), 258 <x> (control),
// 259 <x><y> (control), 260 <tool> (user-defined)
TokenizerSpec SpecialSpec() {
  TokenizerSpec spec = ByteLevelSpec({}, {},
                                     {{"<|im_start|>", TokenType::kControl},
                                      {"<|im_end|>", TokenType::kControl},
                                      {"<x>", TokenType::kControl},
                                      {"<x><y>", TokenType::kControl},
                                      {"<tool>", TokenType::kUserDefined}});
  spec.bos_id = 256;
  spec.eos_id = 257;
  return spec;
}

TEST(SpecialTokensTest, ParsedOnlyWithParseSpecial) {
  auto tok = Build(SpecialSpec());
  ASSERT_NE(tok, nullptr);
  EXPECT_EQ(tok->Encode("<|im_start|>a", false, true), (std::vector<int32_t>{256, 'a'}));
  const std::vector<int32_t> plain = tok->Encode("<|im_start|>a", false, false);
  EXPECT_EQ(plain.size(), 13u);  // "<|", "im", ... as bytes: no merges in this vocab
  EXPECT_EQ(tok->Decode(plain, true), "<|im_start|>a");
}

TEST(SpecialTokensTest, UserDefinedTokensAreAlwaysParsed) {
  auto tok = Build(SpecialSpec());
  ASSERT_NE(tok, nullptr);
  EXPECT_EQ(tok->Encode("a<tool>b", false, false), (std::vector<int32_t>{'a', 260, 'b'}));
  EXPECT_FALSE(tok->IsSpecial(260));
  EXPECT_EQ(tok->Decode(std::vector<int32_t>{'a', 260}, true), "a<tool>");
}

TEST(SpecialTokensTest, LongestTokenTextWins) {
  auto tok = Build(SpecialSpec());
  ASSERT_NE(tok, nullptr);
  EXPECT_EQ(tok->Encode("<x><y><x>", false, true), (std::vector<int32_t>{259, 258}));
}

TEST(SpecialTokensTest, AddSpecialFollowsTheModelFlag) {
  TokenizerSpec spec = SpecialSpec();
  auto no_bos = Build(spec);
  EXPECT_EQ(no_bos->Encode("a", true, false), (std::vector<int32_t>{'a'}));
  spec.add_bos = true;
  auto with_bos = Build(spec);
  EXPECT_EQ(with_bos->Encode("a", true, false), (std::vector<int32_t>{256, 'a'}));
  EXPECT_EQ(with_bos->Encode("a", false, false), (std::vector<int32_t>{'a'}));
}

TEST(SpecialTokensTest, DecodeSkipsControlTokensOnRequest) {
  auto tok = Build(SpecialSpec());
  ASSERT_NE(tok, nullptr);
  const std::vector<int32_t> ids = tok->Encode("<|im_start|>hi<|im_end|>", false, true);
  EXPECT_EQ(tok->Decode(ids, false), "<|im_start|>hi<|im_end|>");
  EXPECT_EQ(tok->Decode(ids, true), "hi");
  EXPECT_TRUE(tok->IsSpecial(257));
}

TEST(SpecialTokensTest, StopTokensIncludeEosAndEndOfTurn) {
  auto tok = Build(SpecialSpec());
  ASSERT_NE(tok, nullptr);
  EXPECT_EQ(tok->StopTokenIds(), (std::vector<int32_t>{257}));
  TokenizerSpec spec = ByteLevelSpec(
      {}, {}, {{"<|eot_id|>", TokenType::kControl}, {"<|end_of_text|>", TokenType::kControl}});
  spec.eos_id = 257;
  auto llama = Build(spec);
  EXPECT_EQ(llama->StopTokenIds(), (std::vector<int32_t>{256, 257}));
}

}  // namespace
}  // namespace skipjoin
