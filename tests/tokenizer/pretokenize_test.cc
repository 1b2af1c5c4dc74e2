#include "coordinator/tokenizer/pretokenize.h"

#include <gtest/gtest.h>

namespace skipjoin::tokenizer_internal {
namespace {

using V = std::vector<std::string>;

TEST(PreTokenizeTest, Gpt2KeepsOneSpaceWithTheWord) {
  EXPECT_EQ(PreTokenize(PreTokenizerKind::kGpt2, "Hello  world!"),
            (V{"Hello", " ", " world", "!"}));
  EXPECT_EQ(PreTokenize(PreTokenizerKind::kGpt2, "a   "), (V{"a", "   "}));
  EXPECT_EQ(PreTokenize(PreTokenizerKind::kGpt2, "x\n\ny"), (V{"x", "\n", "\n", "y"}));
  EXPECT_EQ(PreTokenize(PreTokenizerKind::kGpt2, " 123 abc"), (V{" 123", " abc"}));
  EXPECT_EQ(PreTokenize(PreTokenizerKind::kGpt2, ""), V{});
}

TEST(PreTokenizeTest, Gpt2ContractionsAreCaseSensitive) {
  EXPECT_EQ(PreTokenize(PreTokenizerKind::kGpt2, "don't"), (V{"don", "'t"}));
  EXPECT_EQ(PreTokenize(PreTokenizerKind::kGpt2, "DON'T"), (V{"DON", "'", "T"}));
  EXPECT_EQ(PreTokenize(PreTokenizerKind::kGpt2, "we'll"), (V{"we", "'ll"}));
}

TEST(PreTokenizeTest, SmolLMSplitsEveryDigit) {
  EXPECT_EQ(PreTokenize(PreTokenizerKind::kSmolLM, "abc 123"), (V{"abc", " ", "1", "2", "3"}));
  EXPECT_EQ(PreTokenize(PreTokenizerKind::kSmolLM, "x٣y"),
            (V{"x", "٣", "y"}));  // Arabic-Indic digit
}

TEST(PreTokenizeTest, Llama3GroupsDigitsByThreeAndIgnoresCase) {
  EXPECT_EQ(PreTokenize(PreTokenizerKind::kLlama3, "12345"), (V{"123", "45"}));
  EXPECT_EQ(PreTokenize(PreTokenizerKind::kLlama3, "DON'T"), (V{"DON", "'T"}));
  EXPECT_EQ(PreTokenize(PreTokenizerKind::kLlama3, "a.\n\n  b"), (V{"a", ".\n\n", " ", " b"}));
  EXPECT_EQ(PreTokenize(PreTokenizerKind::kLlama3, "x \n \ty"), (V{"x", " \n", " ", "\ty"}));
}

TEST(PreTokenizeTest, Qwen2SplitsDigitsIndividually) {
  EXPECT_EQ(PreTokenize(PreTokenizerKind::kQwen2, "v12"), (V{"v", "1", "2"}));
}

TEST(PreTokenizeTest, UnicodeLettersAndWhitespace) {
  // U+3000 ideographic space is \s; CJK ideographs are letters.
  EXPECT_EQ(PreTokenize(PreTokenizerKind::kGpt2, "数据\xE3\x80\x80测试"),
            (V{"数据", "\xE3\x80\x80", "测试"}));
  // Emoji are symbols: grouped as "other" with a leading space.
  EXPECT_EQ(PreTokenize(PreTokenizerKind::kGpt2, "hi 😀😀"), (V{"hi", " 😀😀"}));
}

}  // namespace
}  // namespace skipjoin::tokenizer_internal
