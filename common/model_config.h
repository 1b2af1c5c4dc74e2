// ModelConfig: the architecture hyper-parameters of a Llama-family model, read
// from GGUF metadata or a Hugging Face config.json. Plain value type.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "common/status.h"

namespace skipjoin {

class GgufFile;

struct RopeScaling {
  enum class Type { kNone, kLinear, kLlama3 };
  Type type = Type::kNone;
  double factor = 1.0;                   // linear and llama3
  double low_freq_factor = 1.0;          // llama3
  double high_freq_factor = 4.0;         // llama3
  int64_t original_max_position = 8192;  // llama3
};

struct ModelConfig {
  std::string architecture;  // "llama", "mistral", "qwen2" (SmolLM2 is "llama")
  std::string name;          // human-readable model name, may be empty
  int64_t vocab_size = 0;
  int64_t hidden_size = 0;
  int64_t intermediate_size = 0;
  int64_t num_layers = 0;
  int64_t num_heads = 0;
  int64_t num_kv_heads = 0;
  int64_t head_dim = 0;     // usually hidden_size / num_heads
  int64_t max_context = 0;  // context window in tokens
  double rope_theta = 10000.0;
  RopeScaling rope_scaling;
  // Rotary pairing: false = adjacent pairs (x[2i], x[2i+1]), the layout of
  // llama.cpp's "llama" GGUF tensors (Q/K rows permuted at conversion);
  // true = halves (x[i], x[i + d/2]), the layout of HF checkpoints and qwen2 GGUF.
  bool rope_neox = false;
  float rms_norm_eps = 1e-5f;
  bool tied_embeddings = false;  // LM head reuses token_embd.weight
  bool qkv_bias = false;         // Qwen2
  int32_t bos_token_id = -1;
  int32_t eos_token_id = -1;
  // Every end-of-sequence id (HF eos_token_id may be a list); eos_token_id is
  // the first of them. Empty when the model names none.
  std::vector<int32_t> eos_token_ids;
  // GGUF llama3-style scaling: the file carries rope_freqs.weight ({head_dim/2}
  // F32), and the engine divides rotary frequency i by rope_freqs[i]. When true,
  // rope_scaling.type is kNone (the tensor already encodes the scaling).
  bool has_rope_freqs_tensor = false;
};

// Returns "" when the config is usable, else what is wrong (e.g. "num_heads (7)
// does not divide hidden_size (64)").
std::string ValidateModelConfig(const ModelConfig& c);

// Reads the config from GGUF metadata ({arch}.block_count, ...) and tensor
// presence (tied embeddings, QKV bias, rope_freqs). Unimplemented for
// architectures other than llama and qwen2; InvalidArgument naming the file and
// key for a missing or bad key, or when ValidateModelConfig fails.
Result<ModelConfig> ModelConfigFromGguf(const GgufFile& gguf);

// Parses a Hugging Face config.json (model_type llama, mistral or qwen2).
// `path` names the file in error messages. Tied embeddings come from
// tie_word_embeddings only; the caller may also check for lm_head.weight.
Result<ModelConfig> ModelConfigFromHfJson(const std::string& json_text, const std::string& path);

}  // namespace skipjoin
