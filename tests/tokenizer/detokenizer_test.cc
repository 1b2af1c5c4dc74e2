#include "coordinator/tokenizer/detokenizer.h"

#include <gtest/gtest.h>

#include "tests/tokenizer/tiny_vocab.h"

namespace skipjoin {
namespace {

using testing_tok::Build;
using testing_tok::ByteLevelSpec;

std::vector<std::string> PushAll(IncrementalDetokenizer* d, const std::vector<int32_t>& ids) {
  std::vector<std::string> out;
  for (int32_t id : ids) out.push_back(d->Push(id));
  out.push_back(d->Flush());
  return out;
}

TEST(IncrementalDetokenizerTest, HoldsBackEmojiSplitAcrossTokens) {
  auto tok = Build(ByteLevelSpec({}, {}));
  ASSERT_NE(tok, nullptr);
  IncrementalDetokenizer d(*tok);
  // "a😀b" with the emoji as four byte tokens.
  const auto out = PushAll(&d, {'a', 0xF0, 0x9F, 0x98, 0x80, 'b'});
  EXPECT_EQ(out, (std::vector<std::string>{"a", "", "", "", "😀", "b", ""}));
}

TEST(IncrementalDetokenizerTest, CjkSplitInsideAMergedToken) {
  // Token 256 = bytes E6 95 (first two bytes of 数), then B0 completes it.
  tokenizer_internal::ByteLevelAlphabet a;
  auto tok = Build(ByteLevelSpec({a.Encode(0xE6) + a.Encode(0x95)}, {}));
  ASSERT_NE(tok, nullptr);
  IncrementalDetokenizer d(*tok);
  EXPECT_EQ(d.Push(256), "");
  EXPECT_EQ(d.pending_bytes(), 2u);
  EXPECT_EQ(d.Push(0xB0), "数");
  EXPECT_EQ(d.Flush(), "");
}

TEST(IncrementalDetokenizerTest, ConcatenationEqualsDecode) {
  auto tok = Build(ByteLevelSpec({}, {}));
  ASSERT_NE(tok, nullptr);
  const std::string text = "héllo 数据 😀 ok";
  const std::vector<int32_t> ids = tok->Encode(text, false, false);
  IncrementalDetokenizer d(*tok);
  std::string joined;
  for (const auto& s : PushAll(&d, ids)) joined += s;
  EXPECT_EQ(joined, tok->Decode(ids, true));
  EXPECT_EQ(joined, text);
}

TEST(IncrementalDetokenizerTest, InvalidBytesBecomeReplacementCharacters) {
  auto tok = Build(ByteLevelSpec({}, {}));
  ASSERT_NE(tok, nullptr);
  IncrementalDetokenizer d(*tok);
  // A lead byte interrupted by ASCII can never complete.
  EXPECT_EQ(d.Push(0xE6), "");
  EXPECT_EQ(d.Push('x'), "\xEF\xBF\xBDx");
  // A truncated sequence at the end is flushed as U+FFFD.
  EXPECT_EQ(d.Push(0xF0), "");
  EXPECT_EQ(d.Push(0x9F), "");
  EXPECT_EQ(d.Flush(), "\xEF\xBF\xBD\xEF\xBF\xBD");
  // A stray continuation byte is emitted at once.
  EXPECT_EQ(d.Push(0x80), "\xEF\xBF\xBD");
}

TEST(IncrementalDetokenizerTest, SkipsSpecialAndOutOfRangeIds) {
  auto tok = Build(ByteLevelSpec({}, {}, {{"<|im_end|>", TokenType::kControl}}));
  ASSERT_NE(tok, nullptr);
  IncrementalDetokenizer skip(*tok, /*skip_special=*/true);
  EXPECT_EQ(skip.Push(256), "");
  EXPECT_EQ(skip.Push(-3), "");
  EXPECT_EQ(skip.Push(99999), "");
  IncrementalDetokenizer keep(*tok, /*skip_special=*/false);
  EXPECT_EQ(keep.Push(256), "<|im_end|>");
}

}  // namespace
}  // namespace skipjoin
