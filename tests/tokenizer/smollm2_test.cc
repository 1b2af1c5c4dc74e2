// Tokenization of the real SmolLM2-135M-Instruct GGUF against llama.cpp's ids
// (tests/fixtures/smollm2/tokenize_corpus.json). Skips when the model or the
// fixture is absent.
#include <gtest/gtest.h>

#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <nlohmann/json.hpp>
#include <random>
#include <sstream>
#include <thread>

#include "common/gguf.h"
#include "common/model_file.h"
#include "coordinator/tokenizer/chat_template.h"
#include "coordinator/tokenizer/detokenizer.h"
#include "coordinator/tokenizer/tokenizer.h"
#include "tests/testutil/model_path.h"

namespace skipjoin {
namespace {

std::string FixturePath() {
  const char* src = std::getenv("SKIPJOIN_SOURCE_DIR");
  return std::string(src ? src : ".") + "/tests/fixtures/smollm2/tokenize_corpus.json";
}

class SmolLM2Test : public ::testing::Test {
 protected:
  static void SetUpTestSuite() {
    const std::string path = testutil::SmolLm2ModelPath();
    if (path.empty()) return;
    auto g = GgufFile::Open(path);
    ASSERT_TRUE(g.ok()) << g.status().ToString();
    gguf_ = std::move(*g).release();
    auto t = Tokenizer::FromGguf(*gguf_);
    ASSERT_TRUE(t.ok()) << t.status().ToString();
    tok_ = std::move(*t).release();
  }
  static void TearDownTestSuite() {
    delete tok_;
    delete gguf_;
    tok_ = nullptr;
    gguf_ = nullptr;
  }
  void SetUp() override {
    if (tok_ == nullptr) GTEST_SKIP() << "SmolLM2 GGUF not found (set SKIPJOIN_MODEL_PATH)";
  }
  static GgufFile* gguf_;
  static Tokenizer* tok_;
};
GgufFile* SmolLM2Test::gguf_ = nullptr;
Tokenizer* SmolLM2Test::tok_ = nullptr;

TEST_F(SmolLM2Test, MetadataMatchesModel) {
  EXPECT_EQ(tok_->vocab_size(), 49152);
  EXPECT_EQ(tok_->bos_id(), 1);
  EXPECT_EQ(tok_->eos_id(), 2);
  EXPECT_EQ(tok_->pre(), "smollm");
  EXPECT_FALSE(tok_->add_bos());
  EXPECT_TRUE(tok_->IsSpecial(2));
  EXPECT_FALSE(tok_->IsSpecial(17));
  const std::vector<int32_t> stops = tok_->StopTokenIds();
  EXPECT_EQ(stops, (std::vector<int32_t>{0, 2}));  // <|endoftext|>, <|im_end|>
}

TEST_F(SmolLM2Test, MatchesLlamaCppCorpus) {
  std::ifstream in(FixturePath());
  if (!in) GTEST_SKIP() << "fixture " << FixturePath() << " not found";
  std::stringstream ss;
  ss << in.rdbuf();
  const nlohmann::json corpus = nlohmann::json::parse(ss.str());
  ASSERT_GE(corpus["cases"].size(), 200u);
  int mismatches = 0;
  for (const auto& c : corpus["cases"]) {
    const std::string text = c["text"].get<std::string>();
    const bool add_special = c["add_special"].get<bool>();
    const bool parse_special = c["parse_special"].get<bool>();
    const std::vector<int32_t> want = c["ids"].get<std::vector<int32_t>>();
    const std::vector<int32_t> got = tok_->Encode(text, add_special, parse_special);
    if (got != want) {
      ++mismatches;
      ADD_FAILURE() << "text: " << nlohmann::json(text).dump() << " add_special=" << add_special
                    << " parse_special=" << parse_special << "\n want "
                    << nlohmann::json(want).dump() << "\n got  " << nlohmann::json(got).dump();
    }
    bool has_special = false;
    for (int32_t id : want) has_special = has_special || tok_->IsSpecial(id);
    if (!has_special) {
      EXPECT_EQ(tok_->Decode(want, /*skip_special=*/false), text);
      // Streaming gives the same text.
      IncrementalDetokenizer detok(*tok_, /*skip_special=*/false);
      std::string streamed;
      for (int32_t id : want) streamed += detok.Push(id);
      streamed += detok.Flush();
      EXPECT_EQ(streamed, text);
    }
  }
  EXPECT_EQ(mismatches, 0);
}

TEST_F(SmolLM2Test, RandomTextRoundTripsAndNeverCrashes) {
  std::mt19937 rng(7);
  const std::vector<std::string> alphabet = {
      "a", "Z",          " ", "  ",       "\n",           "\t",
      "7", "'",          "s", "\xC3\xA9", "\xE6\x95\xB0", "\xF0\x9F\x98\x80",
      ".", "<|im_end|>", "_"};
  for (int iter = 0; iter < 300; ++iter) {
    std::string text;
    const int n = static_cast<int>(rng() % 40);
    for (int i = 0; i < n; ++i) text += alphabet[rng() % alphabet.size()];
    const std::vector<int32_t> ids = tok_->Encode(text, false, false);
    EXPECT_EQ(tok_->Decode(ids, false), text);
    // Arbitrary bytes: no crash, output is replacement-sanitised UTF-8.
    std::string bytes;
    for (int i = 0; i < n; ++i) bytes.push_back(static_cast<char>(rng() & 0xFF));
    const std::vector<int32_t> raw = tok_->Encode(bytes, true, true);
    IncrementalDetokenizer detok(*tok_);
    for (int32_t id : raw) detok.Push(id);
    detok.Flush();
  }
}

TEST_F(SmolLM2Test, ConcurrentEncodesAgree) {
  const std::string text = "The quick brown fox 123 数据 😀 <|im_start|>user\nhi<|im_end|>";
  const std::vector<int32_t> want = tok_->Encode(text, true, true);
  std::vector<std::thread> threads;
  std::vector<int> bad(4, 0);
  for (int t = 0; t < 4; ++t) {
    threads.emplace_back([&, t] {
      for (int i = 0; i < 200; ++i) bad[t] += tok_->Encode(text, true, true) != want;
    });
  }
  for (auto& th : threads) th.join();
  EXPECT_EQ(bad, std::vector<int>(4, 0));
}

TEST_F(SmolLM2Test, ChatTemplateInjectsSmolLMSystemPrompt) {
  const ChatTemplate tmpl = ChatTemplate::FromTemplateText(tok_->chat_template());
  EXPECT_EQ(tmpl.family(), ChatTemplateFamily::kChatMl);
  const std::vector<ChatMessage> msgs = {{"user", "Hi"}};
  auto out = tmpl.Apply(msgs, true);
  ASSERT_TRUE(out.ok()) << out.status().ToString();
  EXPECT_EQ(*out,
            "<|im_start|>system\nYou are a helpful AI assistant named SmolLM, trained by Hugging "
            "Face<|im_end|>\n<|im_start|>user\nHi<|im_end|>\n<|im_start|>assistant\n");
  const std::vector<int32_t> ids = tok_->Encode(*out, false, true);
  ASSERT_GE(ids.size(), 3u);
  EXPECT_EQ(ids[0], 1);  // <|im_start|>
}

TEST_F(SmolLM2Test, LoadsThroughModelFile) {
  auto mf = ModelFile::Open(testutil::SmolLm2ModelPath());
  ASSERT_TRUE(mf.ok()) << mf.status().ToString();
  auto t = Tokenizer::FromModelFile(**mf);
  ASSERT_TRUE(t.ok()) << t.status().ToString();
  EXPECT_EQ((*t)->Encode("Hello world", false, false), tok_->Encode("Hello world", false, false));
}

}  // namespace
}  // namespace skipjoin
