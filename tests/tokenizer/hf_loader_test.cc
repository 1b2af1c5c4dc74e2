// Loading from a Hugging Face directory (tokenizer.json + tokenizer_config.json).
#include <gtest/gtest.h>
#include <unistd.h>

#include <filesystem>
#include <fstream>

#include "coordinator/tokenizer/tokenizer.h"

namespace skipjoin {
namespace {

TEST(HfTokenizerTest, LoadsByteLevelBpeWithDigitsPreTokenizer) {
  const std::filesystem::path dir = std::filesystem::temp_directory_path() /
                                    ("skipjoin_tok_hf_test_" + std::to_string(::getpid()));
  std::filesystem::create_directories(dir);
  {
    std::ofstream tj(dir / "tokenizer.json");
    tj << R"({"added_tokens": [{"id": 4, "content": "<|im_end|>", "special": true}],
      "pre_tokenizer": {"type": "Sequence", "pretokenizers": [
        {"type": "Digits", "individual_digits": true},
        {"type": "ByteLevel", "add_prefix_space": false, "use_regex": true}]},
      "model": {"type": "BPE", "vocab": {"a": 0, "b": 1, "ab": 2, "1": 3, "Ġ": 5},
                "merges": [["a", "b"]]}})";
    std::ofstream cfg(dir / "tokenizer_config.json");
    cfg << R"({"eos_token": "<|im_end|>", "add_bos_token": false, "chat_template": "<|im_start|>"})";
  }
  auto tok = Tokenizer::FromHfDir(dir.string());
  ASSERT_TRUE(tok.ok()) << tok.status().ToString();
  EXPECT_EQ((*tok)->pre(), "smollm");
  EXPECT_EQ((*tok)->eos_id(), 4);
  EXPECT_EQ((*tok)->chat_template(), "<|im_start|>");
  EXPECT_EQ((*tok)->Encode("ab 11<|im_end|>", false, true), (std::vector<int32_t>{2, 5, 3, 3, 4}));
  EXPECT_EQ((*tok)->Decode(std::vector<int32_t>{2, 5, 3, 4}, true), "ab 1");
  std::filesystem::remove_all(dir);
  EXPECT_EQ(Tokenizer::FromHfDir(dir.string()).status().code(), StatusCode::kNotFound);
}

}  // namespace
}  // namespace skipjoin
