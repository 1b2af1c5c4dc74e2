#include "common/utf8.h"

#include <gtest/gtest.h>

#include <string>

namespace skipjoin {
namespace {

int32_t DecodeOne(const std::string& s, size_t* pos) {
  *pos = 0;
  return DecodeUtf8At(s, pos);
}

TEST(Utf8Test, DecodesEveryLengthAndRoundTripsAppend) {
  for (uint32_t cp : {0x24u, 0x7Fu, 0x80u, 0xE9u, 0x7FFu, 0x800u, 0x20ACu, 0xFFFDu, 0x10000u,
                      0x1F600u, 0x10FFFFu}) {
    std::string s;
    AppendUtf8(cp, &s);
    size_t pos = 0;
    EXPECT_EQ(DecodeOne(s, &pos), static_cast<int32_t>(cp)) << std::hex << cp;
    EXPECT_EQ(pos, s.size());
  }
}

// Found by tests/fuzz/chat_template_fuzz.cc: the overlong C1 9A was taken for
// 'Z', while the tokenizer (rightly) reads it as two invalid bytes.
TEST(Utf8Test, RefusesOverlongFormsSurrogatesAndValuesPastTheLast) {
  for (const std::string bad :
       {"\xC0\xAF", "\xC1\x9A", "\xE0\x80\xAF", "\xE0\x9F\xBF", "\xF0\x80\x80\xAF",
        "\xF0\x8F\xBF\xBF", "\xED\xA0\x80", "\xED\xBF\xBF", "\xF4\x90\x80\x80", "\xF7\xBF\xBF\xBF",
        "\x80", "\xC3", "\xE2\x82", "\xC3\x28", "\xF8\x88\x80\x80\x80"}) {
    size_t pos = 0;
    EXPECT_EQ(DecodeOne(bad, &pos), -1) << testing::PrintToString(bad);
    EXPECT_EQ(pos, 0u) << "the position moved on a refused sequence";
  }
}

}  // namespace
}  // namespace skipjoin
