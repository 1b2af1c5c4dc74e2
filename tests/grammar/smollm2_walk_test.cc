// Random walks over the real SmolLM2-135M vocabulary: every finished output
// parses and satisfies its schema, walks that prefer EOS once accepting end
// within a bound, masks never leave a dead end, and sampled masks equal a
// brute-force check of all 49152 tokens. Skips without the model file.
#include <gtest/gtest.h>

#include <nlohmann/json.hpp>
#include <random>

#include "common/gguf.h"
#include "common/grammar/gguf_vocabulary.h"
#include "common/grammar/matcher.h"
#include "tests/testutil/model_path.h"

namespace skipjoin::grammar {
namespace {

using nlohmann::json;

size_t CodePoints(const std::string& s) {
  size_t n = 0;
  for (char c : s) n += (static_cast<uint8_t>(c) & 0xC0) != 0x80;
  return n;
}

// A checker for the schema subset these tests use.
bool Satisfies(const json& v, const json& s, const json& root) {
  if (s.contains("$ref")) {
    return Satisfies(v, root.at(json::json_pointer(s["$ref"].get<std::string>().substr(1))), root);
  }
  if (s.contains("anyOf")) {
    for (const json& alt : s["anyOf"]) {
      if (Satisfies(v, alt, root)) return true;
    }
    return false;
  }
  if (s.contains("enum")) {
    for (const json& e : s["enum"]) {
      if (e == v) return true;
    }
    return false;
  }
  if (s.contains("type")) {
    std::vector<std::string> types;
    if (s["type"].is_array()) {
      for (const json& t : s["type"]) types.push_back(t);
    } else {
      types.push_back(s["type"]);
    }
    bool ok = false;
    for (const std::string& t : types) {
      ok |= (t == "object" && v.is_object()) || (t == "array" && v.is_array()) ||
            (t == "string" && v.is_string()) || (t == "integer" && v.is_number_integer()) ||
            (t == "number" && v.is_number()) || (t == "boolean" && v.is_boolean()) ||
            (t == "null" && v.is_null());
    }
    if (!ok) return false;
  }
  if (v.is_object()) {
    const json props = s.value("properties", json::object());
    for (const json& r : s.value("required", json::array())) {
      if (!v.contains(r.get<std::string>())) return false;
    }
    for (const auto& [k, sub] : v.items()) {
      if (!props.contains(k)) {
        if (s.value("additionalProperties", true) == false) return false;
        continue;
      }
      if (!Satisfies(sub, props[k], root)) return false;
    }
  }
  if (v.is_array()) {
    if (v.size() < s.value("minItems", size_t{0}) || v.size() > s.value("maxItems", SIZE_MAX)) {
      return false;
    }
    if (s.contains("items")) {
      for (const json& e : v) {
        if (!Satisfies(e, s["items"], root)) return false;
      }
    }
  }
  if (v.is_string()) {
    const size_t n = CodePoints(v.get<std::string>());
    if (n < s.value("minLength", size_t{0}) || n > s.value("maxLength", SIZE_MAX)) return false;
  }
  return true;
}

bool Bit(const std::vector<uint32_t>& mask, int32_t id) { return (mask[id / 32] >> (id % 32)) & 1; }

class SmolLM2WalkTest : public ::testing::Test {
 protected:
  static void SetUpTestSuite() {
    const std::string path = testutil::SmolLm2ModelPath();
    if (path.empty()) return;
    auto g = GgufFile::Open(path);
    ASSERT_TRUE(g.ok()) << g.status().ToString();
    auto v = TokenVocabularyFromGguf(**g);
    ASSERT_TRUE(v.ok()) << v.status().ToString();
    vocab_ = new std::shared_ptr<const TokenVocabulary>(*v);
  }
  static void TearDownTestSuite() {
    delete vocab_;
    vocab_ = nullptr;
  }
  void SetUp() override {
    if (vocab_ == nullptr) GTEST_SKIP() << "SmolLM2-135M-Instruct GGUF not found";
  }

  // One walk: random allowed tokens, EOS as soon as it is allowed. Returns
  // the text, and checks `exact_checks` masks against brute force on the way.
  static std::string Walk(const GrammarPtr& g, uint32_t seed, size_t max_tokens, int exact_checks,
                          bool must_end = true) {
    const TokenVocabulary& v = **vocab_;
    Matcher m(g, *vocab_);
    std::mt19937 rng(seed);
    std::string text;
    std::vector<uint32_t> mask;
    std::vector<int32_t> allowed;
    for (size_t step = 0; step < max_tokens; ++step) {
      m.FillNextTokenMask(&mask);
      if (exact_checks > 0 && step % 3 == 1 && text.size() < 120) {
        --exact_checks;
        for (int32_t id = 0; id < v.size(); ++id) {
          const bool want = v.is_eos(id)   ? g->Matches(text)
                            : v.usable(id) ? g->IsValidPrefix(text + v.bytes(id))
                                           : false;
          EXPECT_EQ(Bit(mask, id), want)
              << "after '" << text << "' token " << id << " '" << v.bytes(id) << "'";
        }
      }
      allowed.clear();
      int32_t eos = -1;
      for (int32_t id = 0; id < v.size(); ++id) {
        if (!Bit(mask, id)) continue;
        if (v.is_eos(id)) eos = id;
        allowed.push_back(id);
      }
      EXPECT_FALSE(allowed.empty()) << "dead end after '" << text << "'";
      if (allowed.empty()) return text;
      if (eos >= 0) {
        EXPECT_TRUE(m.IsAccepting());
        EXPECT_TRUE(m.AcceptToken(eos));
        return text;
      }
      const int32_t id = allowed[rng() % allowed.size()];
      EXPECT_TRUE(m.AcceptToken(id)) << "masked token refused: '" << v.bytes(id) << "'";
      text += v.bytes(id);
    }
    if (must_end) ADD_FAILURE() << "walk did not end within " << max_tokens << " tokens: " << text;
    return text;
  }

  static std::shared_ptr<const TokenVocabulary>* vocab_;
};

std::shared_ptr<const TokenVocabulary>* SmolLM2WalkTest::vocab_ = nullptr;

const char* kSchemas[] = {
    R"({"type": "object", "properties": {"name": {"type": "string", "maxLength": 12},
        "age": {"type": "integer"}, "ok": {"type": "boolean"}}, "required": ["name", "age"],
        "additionalProperties": false})",
    R"({"type": "object", "properties": {"tags": {"type": "array", "items": {"enum":
        ["red", "green", "blue"]}, "minItems": 1, "maxItems": 4}, "score": {"type":
        ["number", "null"]}}, "required": ["tags", "score"], "additionalProperties": false})",
    R"({"$defs": {"n": {"type": "object", "properties": {"v": {"type": "integer"}, "kids":
        {"type": "array", "items": {"$ref": "#/$defs/n"}, "maxItems": 2}}, "required": ["v",
        "kids"], "additionalProperties": false}}, "$ref": "#/$defs/n"})",
    R"({"anyOf": [{"type": "object", "properties": {"a": {"type": "string", "maxLength": 8}},
        "required": ["a"], "additionalProperties": false}, {"type": "array", "items":
        {"type": "integer"}, "maxItems": 3}]})",
};

TEST_F(SmolLM2WalkTest, RandomWalksSatisfyTheirSchemas) {
  for (const char* schema_text : kSchemas) {
    auto g = CompileJsonSchema(schema_text);
    ASSERT_TRUE(g.ok()) << g.status().ToString();
    const json schema = json::parse(schema_text);
    for (uint32_t seed = 1; seed <= 6; ++seed) {
      const std::string text = Walk(*g, seed, 3000, seed == 1 ? 3 : 0);
      ASSERT_TRUE((*g)->Matches(text)) << text;
      const json v = json::parse(text, nullptr, false);
      ASSERT_FALSE(v.is_discarded()) << "does not parse: " << text;
      EXPECT_TRUE(Satisfies(v, schema, schema)) << schema_text << "\n" << text;
    }
  }
}

TEST_F(SmolLM2WalkTest, RegexAndChoiceWalksMatch) {
  auto re = CompileRegex(R"([A-Z][a-z]{2,8} \d{1,3}(\.\d\d)?)");
  ASSERT_TRUE(re.ok());
  auto choice = CompileChoice({"positive", "negative", "neutral"});
  ASSERT_TRUE(choice.ok());
  for (uint32_t seed = 1; seed <= 5; ++seed) {
    EXPECT_TRUE((*re)->Matches(Walk(*re, seed, 200, seed == 1 ? 3 : 0)));
    EXPECT_TRUE((*choice)->Matches(Walk(*choice, seed, 50, seed == 1 ? 2 : 0)));
  }
}

TEST_F(SmolLM2WalkTest, MasksAreExactInsideStringsAndObjects) {
  auto obj = CompileJsonObject();
  ASSERT_TRUE(obj.ok());
  for (uint32_t seed = 1; seed <= 2; ++seed) Walk(*obj, seed, 40, 4, /*must_end=*/false);
}

}  // namespace
}  // namespace skipjoin::grammar
