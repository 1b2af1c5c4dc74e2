// Matcher over a small hand-made vocabulary: masks equal a brute-force check
// of every token, EOS and special tokens follow the rules, and rejected
// tokens leave the state alone.
#include "common/grammar/matcher.h"

#include <gtest/gtest.h>

namespace skipjoin::grammar {
namespace {

struct TinyVocab {
  std::vector<std::string> tokens = {
      "{",    "}",   "\"", "\"a",  "a",  "b",    ":",    ",",  " ",   "\",",   "\"}", "1",
      "12",   "1,",  "[",  "]",    "],", "true", "tr",   "\\", "n",   "\\n",   "é",   "\xC3",
      "\xA9", "\":", "  ", "null", "},", "<s>",  "</s>", "",   "{\"", "\":\"", "x\"", ": "};
  int32_t special_id = 29;  // <s>
  int32_t eos_id = 30;      // </s>
  std::shared_ptr<const TokenVocabulary> Build() const {
    std::vector<bool> special(tokens.size(), false);
    special[special_id] = true;
    special[eos_id] = true;
    auto v = TokenVocabulary::Create(tokens, special, {eos_id});
    EXPECT_TRUE(v.ok()) << v.status().ToString();
    return *v;
  }
};

bool Bit(const std::vector<uint32_t>& mask, int32_t id) { return (mask[id / 32] >> (id % 32)) & 1; }

// The mask a brute force gives after `text`.
std::vector<bool> BruteForce(const Grammar& g, const TokenVocabulary& v, const std::string& text) {
  std::vector<bool> allowed(v.size(), false);
  for (int32_t id = 0; id < v.size(); ++id) {
    if (v.is_eos(id)) {
      allowed[id] = g.Matches(text);
    } else if (v.usable(id)) {
      allowed[id] = g.IsValidPrefix(text + v.bytes(id));
    }
  }
  return allowed;
}

// Drives a matcher along `tokens`, checking every mask against brute force.
void CheckAlong(const GrammarPtr& g, const std::vector<std::string>& tokens) {
  TinyVocab tv;
  auto vocab = tv.Build();
  Matcher m(g, vocab);
  std::string text;
  std::vector<uint32_t> mask;
  for (const std::string& t : tokens) {
    m.FillNextTokenMask(&mask);
    ASSERT_EQ(mask.size(), vocab->mask_words());
    const std::vector<bool> want = BruteForce(*g, *vocab, text);
    for (int32_t id = 0; id < vocab->size(); ++id) {
      EXPECT_EQ(Bit(mask, id), want[id])
          << "after '" << text << "' token '" << vocab->bytes(id) << "'";
    }
    int32_t id = 0;
    while (id < vocab->size() && vocab->bytes(id) != t) ++id;
    ASSERT_LT(id, vocab->size()) << t;
    ASSERT_TRUE(m.AcceptToken(id)) << "after '" << text << "' token '" << t << "'";
    text += t;
  }
}

GrammarPtr Schema(std::string_view s) {
  auto g = CompileJsonSchema(s);
  EXPECT_TRUE(g.ok()) << g.status().ToString();
  return *g;
}

TEST(MatcherTest, MaskMatchesBruteForceAlongAnObject) {
  auto g = Schema(R"({"type": "object", "properties": {"a": {"type": "string"},
      "b": {"type": "array", "items": {"type": "integer"}}}, "required": ["a"]})");
  CheckAlong(
      g, {"{\"", "a", "\":\"", "x\"", ",", " ", "\"", "b", "\":", "[", "12", ",", "1", "]", "}"});
  CheckAlong(g, {"{", "\"a", "\":", " ", "\"", "é", "\\n", "\xC3", "\xA9", "\"}"});
}

TEST(MatcherTest, MaskMatchesBruteForceForJsonObjectAndRegex) {
  auto obj = CompileJsonObject();
  ASSERT_TRUE(obj.ok());
  CheckAlong(*obj,
             {"{\"", "a", "\":", "[", "true", ",", "null", "],", "\"", "b", "\":", "{", "}", "}"});
  auto re = CompileRegex("(ab|a)*12?");
  ASSERT_TRUE(re.ok());
  CheckAlong(*re, {"a", "b", "a", "1"});
}

TEST(MatcherTest, EosOnlyWhenAcceptingAndTerminatedAtTheEnd) {
  TinyVocab tv;
  auto vocab = tv.Build();
  Matcher m(Schema(R"({"type": "integer"})"), vocab);
  std::vector<uint32_t> mask;
  m.FillNextTokenMask(&mask);
  EXPECT_FALSE(Bit(mask, tv.eos_id));
  EXPECT_FALSE(m.AcceptToken(tv.eos_id));
  EXPECT_FALSE(m.IsAccepting());
  ASSERT_TRUE(m.AcceptToken(11));  // "1"
  EXPECT_TRUE(m.IsAccepting());
  EXPECT_FALSE(m.IsTerminated());  // more digits may follow
  m.FillNextTokenMask(&mask);
  EXPECT_TRUE(Bit(mask, tv.eos_id));
  EXPECT_FALSE(Bit(mask, tv.special_id));
  EXPECT_TRUE(m.AcceptToken(tv.eos_id));
  EXPECT_TRUE(m.IsTerminated());
  m.FillNextTokenMask(&mask);
  for (uint32_t w : mask) EXPECT_EQ(w, 0u);
  EXPECT_FALSE(m.AcceptToken(11));

  Matcher obj(Schema(R"({"type": "object", "additionalProperties": false})"), vocab);
  ASSERT_TRUE(obj.AcceptToken(0));  // "{"
  ASSERT_TRUE(obj.AcceptToken(1));  // "}"
  EXPECT_TRUE(obj.IsTerminated());
  obj.FillNextTokenMask(&mask);
  for (int32_t id = 0; id < vocab->size(); ++id) EXPECT_EQ(Bit(mask, id), id == tv.eos_id) << id;
}

TEST(MatcherTest, RejectedTokenLeavesStateUnchanged) {
  TinyVocab tv;
  auto vocab = tv.Build();
  auto g = CompileChoice({"true", "null"});
  ASSERT_TRUE(g.ok());
  Matcher m(*g, vocab);
  ASSERT_TRUE(m.AcceptToken(18));   // "tr"
  EXPECT_FALSE(m.AcceptToken(27));  // "null"
  EXPECT_FALSE(m.AcceptToken(tv.special_id));
  EXPECT_FALSE(m.AcceptToken(31));  // the empty token
  EXPECT_FALSE(m.AcceptToken(-1));
  EXPECT_FALSE(m.AcceptToken(1000));
  EXPECT_FALSE(m.IsAccepting());
  std::vector<uint32_t> mask;
  m.FillNextTokenMask(&mask);
  for (int32_t id = 0; id < vocab->size(); ++id) EXPECT_EQ(Bit(mask, id), false) << id;
}

TEST(MatcherTest, SharedMaskCacheGivesTheSameMasks) {
  TinyVocab tv;
  auto vocab = tv.Build();
  auto g = Schema(R"({"type": "array", "items": {"type": "string"}})");
  auto cache = std::make_shared<MaskCache>(g, vocab);
  Matcher a(g, vocab, cache), b(g, vocab, cache), alone(g, vocab);
  std::vector<uint32_t> ma, mb, ml;
  for (int32_t id : {14, 2, 4, 22, 2, 7, 3, 2, 15}) {  // [ " a é " , "a " ]
    a.FillNextTokenMask(&ma);
    b.FillNextTokenMask(&mb);
    alone.FillNextTokenMask(&ml);
    EXPECT_EQ(ma, ml);
    EXPECT_EQ(mb, ml);
    ASSERT_TRUE(a.AcceptToken(id)) << vocab->bytes(id);
    ASSERT_TRUE(b.AcceptToken(id));
    ASSERT_TRUE(alone.AcceptToken(id));
  }
  EXPECT_TRUE(a.IsTerminated());
}

TEST(MatcherTest, VocabularyErrors) {
  EXPECT_EQ(TokenVocabulary::Create({}, {}, {}).status().message(), "token vocabulary is empty");
  EXPECT_EQ(TokenVocabulary::Create({"a"}, {true, false}, {}).status().message(),
            "special has 2 flags for 1 tokens");
  EXPECT_EQ(TokenVocabulary::Create({"a"}, {}, {3}).status().message(),
            "end-of-sequence id 3 outside the vocabulary of 1");
}

}  // namespace
}  // namespace skipjoin::grammar
