// Byte-level acceptance of the regex subset (grammar.h CompileRegex), and the
// errors for what it refuses.
#include <gtest/gtest.h>

#include "common/grammar/grammar.h"

namespace skipjoin::grammar {
namespace {

GrammarPtr Regex(std::string_view pattern) {
  auto g = CompileRegex(pattern);
  EXPECT_TRUE(g.ok()) << pattern << ": " << g.status().ToString();
  return g.ok() ? *g : nullptr;
}

std::string RegexError(std::string_view pattern) {
  auto g = CompileRegex(pattern);
  EXPECT_FALSE(g.ok()) << pattern;
  return g.ok() ? "" : g.status().message();
}

TEST(RegexTest, LiteralsAndFullMatch) {
  auto g = Regex("abc");
  EXPECT_TRUE(g->Matches("abc"));
  EXPECT_FALSE(g->Matches("ab"));
  EXPECT_FALSE(g->Matches("abcd"));
  EXPECT_TRUE(g->IsValidPrefix("ab"));
  EXPECT_FALSE(g->IsValidPrefix("ax"));
}

TEST(RegexTest, AnchorsAtTheEndsAreAccepted) {
  auto g = Regex("^a+$");
  EXPECT_TRUE(g->Matches("aaa"));
  EXPECT_FALSE(g->Matches(""));
}

TEST(RegexTest, ClassesEscapesAndDot) {
  auto g = Regex(R"(\d{3}-[a-fA-F]\w\s[^x-z]\.)");
  EXPECT_TRUE(g->Matches("123-fZ a."));
  EXPECT_TRUE(g->Matches("123-A_\tb."));
  EXPECT_FALSE(g->Matches("123-gZ a."));
  EXPECT_FALSE(g->Matches("123-fZ y."));
  EXPECT_FALSE(g->Matches("123-fZ ab"));
  auto dot = Regex("a.b");
  EXPECT_TRUE(dot->Matches("a-b"));
  EXPECT_TRUE(
      dot->Matches("a\xC3\xA9"
                   "b"));  // one two-byte character
  EXPECT_FALSE(dot->Matches("a\nb"));
  EXPECT_FALSE(
      dot->Matches("a\xC3"
                   "b"));  // not UTF-8
  auto negated = Regex("[^a]");
  EXPECT_TRUE(negated->Matches("\xE2\x82\xAC"));      // U+20AC
  EXPECT_TRUE(negated->Matches("\xF0\x9F\x98\x80"));  // U+1F600
  EXPECT_FALSE(negated->Matches("\xED\xA0\x80"));     // a surrogate is not UTF-8
  EXPECT_FALSE(negated->Matches("a"));
  auto unicode_range = Regex("[α-ω]+");
  EXPECT_TRUE(unicode_range->Matches("αβγ"));
  EXPECT_FALSE(unicode_range->Matches("αA"));
  auto hex = Regex(R"(\x41\u00e9)");
  EXPECT_TRUE(hex->Matches("A\xC3\xA9"));
}

TEST(RegexTest, AlternationGroupsAndQuantifiers) {
  auto g = Regex("(?:ab|cd)*(e|f)?g+");
  EXPECT_TRUE(g->Matches("g"));
  EXPECT_TRUE(g->Matches("abcdabfggg"));
  EXPECT_FALSE(g->Matches("abcg_"));
  auto counted = Regex("a{2}b{1,3}c{2,}");
  EXPECT_TRUE(counted->Matches("aabcc"));
  EXPECT_TRUE(counted->Matches("aabbbccccc"));
  EXPECT_FALSE(counted->Matches("abcc"));
  EXPECT_FALSE(counted->Matches("aabbbbcc"));
  EXPECT_FALSE(counted->Matches("aabc"));
  auto named = Regex("(?<year>\\d{4})-(?P<m>\\d\\d)");
  EXPECT_TRUE(named->Matches("2024-05"));
  auto lazy = Regex("a+?b*?");
  EXPECT_TRUE(lazy->Matches("aab"));
  auto brace = Regex("a{b");  // not a quantifier: a literal '{'
  EXPECT_TRUE(brace->Matches("a{b"));
}

TEST(RegexTest, RefusesUnsupportedConstructsWithOffset) {
  EXPECT_EQ(RegexError("(a)\\1"), "backreference is not supported at offset 3 in regex");
  EXPECT_EQ(RegexError("a(?=b)"), "lookaround is not supported at offset 1 in regex");
  EXPECT_EQ(RegexError("a(?<!b)"), "lookaround is not supported at offset 1 in regex");
  EXPECT_EQ(RegexError("\\bword"), "word boundary \\b is not supported at offset 0 in regex");
  EXPECT_EQ(RegexError("a^b"),
            "anchor '^' is only supported at the start of the pattern at offset 1 in regex");
  EXPECT_EQ(RegexError("a$b"),
            "anchor '$' is only supported at the end of the pattern at offset 1 in regex");
  EXPECT_EQ(RegexError("(?i)a"),
            "inline flags and other (? groups are not supported at offset 0 in regex");
  EXPECT_EQ(RegexError("a++"), "possessive quantifier is not supported at offset 2 in regex");
  EXPECT_EQ(RegexError("*a"), "nothing to repeat before '*' at offset 0 in regex");
  EXPECT_EQ(RegexError("(ab"), "unterminated group at offset 0 in regex");
  EXPECT_EQ(RegexError("ab)"), "unmatched ')' at offset 2 in regex");
  EXPECT_EQ(RegexError("[ab"), "unterminated character class at offset 0 in regex");
  EXPECT_EQ(RegexError("\\p{L}"),
            "Unicode property classes \\p are not supported at offset 0 in regex");
  EXPECT_EQ(RegexError("[z-a]"), "character range out of order at offset 2 in regex");
  EXPECT_EQ(RegexError("\\q"), "unknown escape \\q at offset 0 in regex");
}

TEST(RegexTest, HostileRepetitionIsBounded) {
  EXPECT_EQ(RegexError("a{100000}"),
            "repetition count above the limit of 1000 at offset 1 in regex");
  EXPECT_EQ(RegexError("a{99999999999999999999}"),
            "repetition count above the limit of 1000 at offset 1 in regex");
  // Nested counted repetition multiplies: refused by the automaton size bound.
  auto nested = CompileRegex("((a{1000}){1000}){1000}");
  ASSERT_FALSE(nested.ok());
  EXPECT_EQ(nested.status().code(), StatusCode::kResourceExhausted);
  std::string deep(300, '(');
  deep += "a";
  deep += std::string(300, ')');
  EXPECT_EQ(RegexError(deep), "groups nested deeper than 256 at offset 257 in regex");
}

TEST(RegexTest, DfaStaysSmallForAlternationHeavyPatterns) {
  // (a|b)*a(a|b){8}: the classic DFA blowup is 2^9 states; fine within bounds.
  auto g = Regex("(a|b)*a(a|b){8}");
  EXPECT_TRUE(g->Matches("bbbabbbbbbbb"));
  EXPECT_FALSE(
      g->Matches("bbbbabbbbbbbb"
                 "b"));
  EXPECT_LT(g->state_count(), 2000u);
}

}  // namespace
}  // namespace skipjoin::grammar
