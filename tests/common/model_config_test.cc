#include "common/model_config.h"

#include <gtest/gtest.h>
#include <unistd.h>

#include "common/gguf.h"
#include "tests/testutil/tiny_model.h"

namespace skipjoin {
namespace {

ModelConfig Valid() {
  ModelConfig c;
  c.architecture = "llama";
  c.vocab_size = 100;
  c.hidden_size = 64;
  c.intermediate_size = 128;
  c.num_layers = 2;
  c.num_heads = 4;
  c.num_kv_heads = 2;
  c.head_dim = 16;
  c.max_context = 256;
  return c;
}

TEST(ModelConfigTest, ValidateAcceptsAndNamesProblems) {
  EXPECT_EQ(ValidateModelConfig(Valid()), "");
  ModelConfig c = Valid();
  c.num_heads = 7;
  c.head_dim = 0;
  EXPECT_EQ(ValidateModelConfig(c), "num_heads (7) does not divide hidden_size (64)");
  c = Valid();
  c.num_kv_heads = 3;
  EXPECT_NE(ValidateModelConfig(c).find("num_kv_heads (3)"), std::string::npos);
  c = Valid();
  c.num_layers = 0;
  EXPECT_NE(ValidateModelConfig(c).find("num_layers"), std::string::npos);
  c = Valid();
  c.head_dim = 15;
  EXPECT_NE(ValidateModelConfig(c).find("even"), std::string::npos);
  c = Valid();
  c.eos_token_id = 100;
  EXPECT_NE(ValidateModelConfig(c), "");
  c = Valid();
  c.rope_scaling.type = RopeScaling::Type::kLlama3;
  c.rope_scaling.low_freq_factor = 4;
  c.rope_scaling.high_freq_factor = 1;
  EXPECT_NE(ValidateModelConfig(c), "");
}

constexpr char kLlama3Json[] = R"({
  "model_type": "llama", "vocab_size": 1000, "hidden_size": 256, "intermediate_size": 512,
  "num_hidden_layers": 3, "num_attention_heads": 8, "num_key_value_heads": 2,
  "rms_norm_eps": 1e-5, "rope_theta": 500000.0, "max_position_embeddings": 4096,
  "tie_word_embeddings": true, "bos_token_id": 7, "eos_token_id": [9, 8],
  "rope_scaling": {"rope_type": "llama3", "factor": 8.0, "low_freq_factor": 1.0,
                   "high_freq_factor": 4.0, "original_max_position_embeddings": 8192}
})";

TEST(ModelConfigTest, ParsesHfLlama3) {
  auto c = ModelConfigFromHfJson(kLlama3Json, "cfg.json");
  ASSERT_TRUE(c.ok()) << c.status().ToString();
  EXPECT_EQ(c->architecture, "llama");
  EXPECT_EQ(c->vocab_size, 1000);
  EXPECT_EQ(c->hidden_size, 256);
  EXPECT_EQ(c->intermediate_size, 512);
  EXPECT_EQ(c->num_layers, 3);
  EXPECT_EQ(c->num_heads, 8);
  EXPECT_EQ(c->num_kv_heads, 2);
  EXPECT_EQ(c->head_dim, 32);
  EXPECT_EQ(c->max_context, 4096);
  EXPECT_EQ(c->rope_theta, 500000.0);
  EXPECT_FLOAT_EQ(c->rms_norm_eps, 1e-5f);
  EXPECT_TRUE(c->tied_embeddings);
  EXPECT_TRUE(c->rope_neox);
  EXPECT_FALSE(c->qkv_bias);
  EXPECT_EQ(c->bos_token_id, 7);
  EXPECT_EQ(c->eos_token_id, 9);
  EXPECT_EQ(c->eos_token_ids, (std::vector<int32_t>{9, 8}));
  EXPECT_EQ(c->rope_scaling.type, RopeScaling::Type::kLlama3);
  EXPECT_EQ(c->rope_scaling.factor, 8.0);
  EXPECT_EQ(c->rope_scaling.low_freq_factor, 1.0);
  EXPECT_EQ(c->rope_scaling.high_freq_factor, 4.0);
  EXPECT_EQ(c->rope_scaling.original_max_position, 8192);
}

TEST(ModelConfigTest, ParsesHfQwen2AndDefaults) {
  auto c = ModelConfigFromHfJson(R"({"model_type": "qwen2", "vocab_size": 50,
      "hidden_size": 64, "intermediate_size": 96, "num_hidden_layers": 1,
      "num_attention_heads": 4, "head_dim": 32, "max_position_embeddings": 128,
      "rope_scaling": {"type": "linear", "factor": 2.0}, "eos_token_id": 3,
      "bos_token_id": null})",
                                 "q.json");
  ASSERT_TRUE(c.ok()) << c.status().ToString();
  EXPECT_TRUE(c->qkv_bias);
  EXPECT_EQ(c->num_kv_heads, 4);  // defaults to num_attention_heads
  EXPECT_EQ(c->head_dim, 32);     // explicit, not hidden / heads
  EXPECT_FALSE(c->tied_embeddings);
  EXPECT_EQ(c->rope_theta, 10000.0);
  EXPECT_EQ(c->rope_scaling.type, RopeScaling::Type::kLinear);
  EXPECT_EQ(c->rope_scaling.factor, 2.0);
  EXPECT_EQ(c->bos_token_id, -1);
  EXPECT_EQ(c->eos_token_ids, (std::vector<int32_t>{3}));
  auto m = ModelConfigFromHfJson(R"({"model_type": "mistral", "vocab_size": 50,
      "hidden_size": 64, "intermediate_size": 96, "num_hidden_layers": 1,
      "num_attention_heads": 4, "max_position_embeddings": 128})",
                                 "m.json");
  ASSERT_TRUE(m.ok()) << m.status().ToString();
  EXPECT_EQ(m->architecture, "mistral");
}

TEST(ModelConfigTest, HfErrorsNameFileAndKey) {
  auto bad = [](const std::string& json) { return ModelConfigFromHfJson(json, "dir/config.json"); };
  auto r = bad("{not json");
  ASSERT_FALSE(r.ok());
  EXPECT_NE(r.status().message().find("dir/config.json"), std::string::npos);
  r = bad(R"({"model_type": "gpt2"})");
  EXPECT_EQ(r.status().code(), StatusCode::kUnimplemented);
  EXPECT_NE(r.status().message().find("unsupported architecture 'gpt2' in dir/config.json"),
            std::string::npos);
  r = bad(R"({"model_type": "llama", "vocab_size": 10})");
  ASSERT_FALSE(r.ok());
  EXPECT_NE(r.status().message().find("hidden_size"), std::string::npos);
  r = bad(R"({"model_type": "llama", "vocab_size": "ten"})");
  ASSERT_FALSE(r.ok());
  EXPECT_NE(r.status().message().find("vocab_size"), std::string::npos);
  r = bad(R"({"model_type": "llama", "vocab_size": 50, "hidden_size": 64,
      "intermediate_size": 96, "num_hidden_layers": 1, "num_attention_heads": 7,
      "max_position_embeddings": 128})");
  ASSERT_FALSE(r.ok());
  EXPECT_NE(r.status().message().find("does not divide"), std::string::npos);
  r = bad(R"({"model_type": "llama", "vocab_size": 50, "hidden_size": 64,
      "intermediate_size": 96, "num_hidden_layers": 1, "num_attention_heads": 4,
      "max_position_embeddings": 128, "rope_scaling": {"rope_type": "yarn", "factor": 4}})");
  EXPECT_EQ(r.status().code(), StatusCode::kUnimplemented);
}

std::string TempPath(const std::string& name) {
  return ::testing::TempDir() + "/model_config_test_" + std::to_string(::getpid()) + "_" + name;
}

Result<ModelConfig> GgufConfig(const testutil::TinyModelSpec& spec, const std::string& name) {
  const std::string path = TempPath(name);
  SJ_RETURN_IF_ERROR(testutil::WriteTinyGguf(spec, path));
  SJ_ASSIGN_OR_RETURN(auto g, GgufFile::Open(path));
  return ModelConfigFromGguf(*g);
}

TEST(ModelConfigTest, ReadsTinyGgufLlama) {
  testutil::TinyModelSpec spec;
  spec.rope_theta = 50000;
  auto c = GgufConfig(spec, "llama.gguf");
  ASSERT_TRUE(c.ok()) << c.status().ToString();
  EXPECT_EQ(c->architecture, "llama");
  EXPECT_EQ(c->vocab_size, testutil::TinyTokenizerVocabSize());
  EXPECT_EQ(c->hidden_size, 64);
  EXPECT_EQ(c->intermediate_size, 128);
  EXPECT_EQ(c->num_layers, 2);
  EXPECT_EQ(c->num_heads, 4);
  EXPECT_EQ(c->num_kv_heads, 2);
  EXPECT_EQ(c->head_dim, 16);
  EXPECT_EQ(c->max_context, 512);
  EXPECT_EQ(c->rope_theta, 50000);
  EXPECT_FLOAT_EQ(c->rms_norm_eps, 1e-5f);
  EXPECT_FALSE(c->rope_neox);
  EXPECT_FALSE(c->tied_embeddings);
  EXPECT_FALSE(c->qkv_bias);
  EXPECT_FALSE(c->has_rope_freqs_tensor);
  EXPECT_EQ(c->bos_token_id, testutil::GetTinyTokenizer().bos_id);
  EXPECT_EQ(c->eos_token_id, testutil::GetTinyTokenizer().eos_id);
}

TEST(ModelConfigTest, ReadsTinyGgufVariants) {
  testutil::TinyModelSpec spec;
  spec.arch = "qwen2";
  spec.qkv_bias = true;
  spec.tied = true;
  auto c = GgufConfig(spec, "qwen2.gguf");
  ASSERT_TRUE(c.ok()) << c.status().ToString();
  EXPECT_EQ(c->architecture, "qwen2");
  EXPECT_TRUE(c->rope_neox);
  EXPECT_TRUE(c->qkv_bias);
  EXPECT_TRUE(c->tied_embeddings);

  spec = {};
  spec.rope_scaling.type = RopeScaling::Type::kLlama3;
  spec.rope_scaling.factor = 8;
  spec.rope_scaling.original_max_position = 64;
  c = GgufConfig(spec, "llama3.gguf");
  ASSERT_TRUE(c.ok()) << c.status().ToString();
  EXPECT_TRUE(c->has_rope_freqs_tensor);
  EXPECT_EQ(c->rope_scaling.type, RopeScaling::Type::kNone);

  spec = {};
  spec.rope_scaling.type = RopeScaling::Type::kLinear;
  spec.rope_scaling.factor = 4;
  c = GgufConfig(spec, "linear.gguf");
  ASSERT_TRUE(c.ok()) << c.status().ToString();
  EXPECT_EQ(c->rope_scaling.type, RopeScaling::Type::kLinear);
  EXPECT_EQ(c->rope_scaling.factor, 4);

  spec = {};
  spec.arch = "mistral";  // written as a "llama" GGUF, as llama.cpp does
  c = GgufConfig(spec, "mistral.gguf");
  ASSERT_TRUE(c.ok()) << c.status().ToString();
  EXPECT_EQ(c->architecture, "llama");
}

}  // namespace
}  // namespace skipjoin
