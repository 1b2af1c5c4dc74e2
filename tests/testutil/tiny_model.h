// Tiny random Llama-family models for tests, written as GGUF and as a Hugging
// Face safetensors directory. The same spec (and seed) describes the same model
// in both formats: the GGUF writer applies llama.cpp's Q/K row permutation for
// llama-style architectures, exactly as llama.cpp's HF converter does, so
// interleaved-pair rope on the GGUF equals half-split rope on the HF weights.
// Both carry a tiny byte-level BPE tokenizer with ChatML special tokens.
// Thread-safety: free functions, no shared state.
#pragma once

#include <cstdint>
#include <map>
#include <string>
#include <vector>

#include "common/gguf.h"
#include "common/model_config.h"
#include "common/status.h"

namespace skipjoin::testutil {

// Number of tokens in the tiny tokenizer: 256 byte tokens + merges + 3 specials.
int64_t TinyTokenizerVocabSize();

struct TinyModelSpec {
  std::string arch = "llama";                     // "llama", "mistral" (GGUF says "llama"), "qwen2"
  int64_t vocab_size = TinyTokenizerVocabSize();  // >= the tokenizer's size
  int64_t hidden = 64;
  int64_t intermediate = 128;
  int64_t layers = 2;
  int64_t heads = 4;
  int64_t kv_heads = 2;
  int64_t max_context = 512;
  bool tied = false;
  bool qkv_bias = false;
  double rope_theta = 10000;
  double rms_norm_eps = 1e-5;
  RopeScaling rope_scaling;
  uint64_t seed = 1;
  // Type of 2-D weights in the GGUF (F32, F16, BF16, Q8_0, Q4_0, Q4_1); norms,
  // biases and rope_freqs stay F32.
  GgmlType gguf_weight_type = GgmlType::kF32;
  // Standard deviation of linear weights and biases; norms are 1 + N(0, 0.1).
  float weight_scale = 0.05f;
};

// One tensor by canonical name, row-major shape, HF (unpermuted) layout.
struct TinyTensor {
  std::vector<int64_t> shape;
  std::vector<float> values;
};
// The model's weights, deterministic in spec (the source of both writers).
std::map<std::string, TinyTensor> TinyModelWeights(const TinyModelSpec& spec);

Status WriteTinyGguf(const TinyModelSpec& spec, const std::string& path);
// Writes config.json, tokenizer.json, tokenizer_config.json and the weights
// as model.safetensors (num_shards == 1) or model-0000i-of-0000n.safetensors
// plus model.safetensors.index.json. dtype: "F32", "F16" or "BF16".
Status WriteTinyHfDir(const TinyModelSpec& spec, const std::string& dir, int num_shards = 1,
                      std::string dtype = "F32");

// llama.cpp's HF->GGUF Q/K permutation: within each of n_head heads, row
// j*(hd/2)+i moves to row 2i+j. rows x cols row-major (cols = 1 for a bias).
std::vector<float> PermuteQkForGguf(const std::vector<float>& w, int64_t rows, int64_t cols,
                                    int64_t n_head);
// The inverse of PermuteQkForGguf.
std::vector<float> UnpermuteQkFromGguf(const std::vector<float>& w, int64_t rows, int64_t cols,
                                       int64_t n_head);

// The tiny tokenizer: tokens by id (GPT-2 byte symbols, merge results, then
// "<|endoftext|>", "<|im_start|>", "<|im_end|>"), merges ("a b"), and ids.
struct TinyTokenizer {
  std::vector<std::string> tokens;
  std::vector<std::string> merges;
  int32_t endoftext_id = 0;
  int32_t im_start_id = 0;
  int32_t im_end_id = 0;
  int32_t bos_id = 0;  // <|im_start|>, as SmolLM2-Instruct
  int32_t eos_id = 0;  // <|im_end|>
};
const TinyTokenizer& GetTinyTokenizer();

// ChatML Jinja template (as in SmolLM2-Instruct / Qwen2).
std::string TinyChatMlTemplate();

}  // namespace skipjoin::testutil
