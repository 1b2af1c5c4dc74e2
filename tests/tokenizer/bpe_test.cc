#include <gtest/gtest.h>

#include "tests/tokenizer/tiny_vocab.h"

namespace skipjoin {
namespace {

using testing_tok::Build;
using testing_tok::ByteLevelSpec;

constexpr int32_t kFirstExtra = 256;

TEST(ByteLevelBpeTest, MergesByRankIntoWholeWord) {
  // 256 he, 257 ll, 258 hell, 259 hello, 260 Ġw, 261 Ġwo
  auto tok = Build(ByteLevelSpec({"he", "ll", "hell", "hello", "Ġw", "Ġwo"},
                                 {"h e", "l l", "he ll", "hell o", "Ġ w", "Ġw o"}));
  ASSERT_NE(tok, nullptr);
  EXPECT_EQ(tok->Encode("hello", false, false), (std::vector<int32_t>{kFirstExtra + 3}));
  // " world": Ġwo + r l d; the pre-tokenizer keeps the space with the word.
  EXPECT_EQ(tok->Encode("hello world", false, false),
            (std::vector<int32_t>{kFirstExtra + 3, kFirstExtra + 5, 'r', 'l', 'd'}));
  EXPECT_EQ(tok->Decode(tok->Encode("hello world", false, false), false), "hello world");
}

TEST(ByteLevelBpeTest, LowerRankWinsOverLeftmost) {
  // "e l" has rank 0, so "hel" is h + el even though "h e" is further left.
  auto tok = Build(ByteLevelSpec({"el", "he"}, {"e l", "h e"}));
  ASSERT_NE(tok, nullptr);
  EXPECT_EQ(tok->Encode("hel", false, false), (std::vector<int32_t>{'h', kFirstExtra}));
  // Independent pairs merge everywhere.
  EXPECT_EQ(tok->Encode("hehe", false, false),
            (std::vector<int32_t>{kFirstExtra + 1, kFirstExtra + 1}));
}

TEST(ByteLevelBpeTest, NonAsciiBytesUseTheByteAlphabet) {
  auto tok = Build(ByteLevelSpec({}, {}));
  ASSERT_NE(tok, nullptr);
  const std::string text = "a\xC3\xA9 \xE6\x95\xB0";  // "aé 数"
  const std::vector<int32_t> ids = tok->Encode(text, false, false);
  EXPECT_EQ(ids, (std::vector<int32_t>{'a', 0xC3, 0xA9, ' ', 0xE6, 0x95, 0xB0}));
  EXPECT_EQ(tok->Decode(ids, false), text);
  EXPECT_EQ(tok->TokenPiece(' '), " ");
}

TEST(ByteLevelBpeTest, MergeWhoseResultIsMissingFallsBackToBytes) {
  auto tok = Build(ByteLevelSpec({}, {"a b"}));
  ASSERT_NE(tok, nullptr);
  EXPECT_EQ(tok->Encode("ab", false, false), (std::vector<int32_t>{'a', 'b'}));
}

TEST(ByteLevelBpeTest, InvalidUtf8BecomesReplacementCharacter) {
  auto tok = Build(ByteLevelSpec({}, {}));
  ASSERT_NE(tok, nullptr);
  EXPECT_EQ(tok->Encode("x\xFFy", false, false),
            (std::vector<int32_t>{'x', 0xEF, 0xBF, 0xBD, 'y'}));
}

TEST(ByteLevelBpeTest, DecodeSkipsOutOfRangeIds) {
  auto tok = Build(ByteLevelSpec({}, {}));
  ASSERT_NE(tok, nullptr);
  const std::vector<int32_t> ids = {'o', -1, 100000, 'k'};
  EXPECT_EQ(tok->Decode(ids, false), "ok");
  EXPECT_EQ(tok->TokenPiece(-5), "");
  EXPECT_FALSE(tok->IsSpecial(1 << 30));
}

TEST(ByteLevelBpeTest, RejectsMalformedSpecs) {
  EXPECT_FALSE(Tokenizer::FromSpec(ByteLevelSpec({}, {"nospace"})).ok());
  TokenizerSpec unknown_pre = ByteLevelSpec({}, {});
  unknown_pre.pre = "no-such-pre";
  auto r = Tokenizer::FromSpec(unknown_pre);
  ASSERT_FALSE(r.ok());
  EXPECT_NE(r.status().message().find("no-such-pre"), std::string::npos);
  TokenizerSpec bad_bos = ByteLevelSpec({}, {});
  bad_bos.bos_id = 5000;
  EXPECT_FALSE(Tokenizer::FromSpec(bad_bos).ok());
  EXPECT_FALSE(Tokenizer::FromSpec(TokenizerSpec{}).ok());
}

TEST(ByteLevelBpeTest, Llama3IgnoresMergesForWholeTokens) {
  // "abc" is a token but no merge chain builds it; llama3 emits it whole.
  TokenizerSpec spec = ByteLevelSpec({"abc"}, {});
  spec.pre = "llama3";
  auto tok = Build(spec);
  ASSERT_NE(tok, nullptr);
  EXPECT_EQ(tok->Encode("abc", false, false), (std::vector<int32_t>{kFirstExtra}));
  spec.pre = "gpt2";
  auto gpt2 = Build(spec);
  EXPECT_EQ(gpt2->Encode("abc", false, false), (std::vector<int32_t>{'a', 'b', 'c'}));
}

}  // namespace
}  // namespace skipjoin
