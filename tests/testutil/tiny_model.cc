#include "tests/testutil/tiny_model.h"

#include <sys/stat.h>

#include <cmath>
#include <fstream>
#include <nlohmann/json.hpp>

#include "tests/testutil/gguf_writer.h"

namespace skipjoin::testutil {
namespace {

using nlohmann::json;

// Merges of the tiny BPE, in priority order; each joins two existing tokens.
// "Ġ" is GPT-2's symbol for the space byte.
constexpr std::pair<const char*, const char*> kMerges[] = {
    {"Ġ", "t"},  {"h", "e"},   {"i", "n"},   {"Ġ", "a"},  {"e", "r"},    {"o", "n"},
    {"r", "e"},  {"Ġt", "he"}, {"a", "n"},   {"e", "n"},  {"a", "t"},    {"o", "r"},
    {"Ġ", "s"},  {"Ġ", "w"},   {"e", "s"},   {"i", "s"},  {"Ġ", "o"},    {"i", "t"},
    {"Ġ", "c"},  {"Ġ", "b"},   {"Ġ", "f"},   {"Ġ", "m"},  {"a", "l"},    {"n", "d"},
    {"Ġ", "p"},  {"n", "g"},   {"in", "g"},  {"Ġ", "h"},  {"Ġ", "i"},    {"o", "u"},
    {"l", "l"},  {"Ġ", "d"},   {"Ġa", "nd"}, {"Ġo", "f"}, {"Ġt", "o"},   {"Ġi", "n"},
    {"Ġi", "s"}, {"Ġ", "l"},   {"Ġ", "n"},   {"e", "d"},  {"Ġ", "y"},    {"Ġy", "ou"},
    {"Ġw", "h"}, {"Ġh", "e"},  {"Ġ", "I"},   {"l", "e"},  {"Ġ", "e"},    {"Ġc", "on"},
    {"i", "c"},  {"Ġs", "t"},  {"Ġ", "H"},   {"e", "ll"}, {"ĠH", "ell"}, {"ĠHell", "o"},
};

std::string Utf8(uint32_t cp) {
  std::string s;
  if (cp < 0x80) {
    s += static_cast<char>(cp);
  } else if (cp < 0x800) {
    s += static_cast<char>(0xC0 | (cp >> 6));
    s += static_cast<char>(0x80 | (cp & 0x3F));
  } else {
    s += static_cast<char>(0xE0 | (cp >> 12));
    s += static_cast<char>(0x80 | ((cp >> 6) & 0x3F));
    s += static_cast<char>(0x80 | (cp & 0x3F));
  }
  return s;
}

TinyTokenizer BuildTokenizer() {
  TinyTokenizer t;
  // GPT-2 bytes_to_unicode: printable bytes map to themselves, the rest to
  // 256 + n in byte order; ids follow the printable-first order.
  std::vector<int> bs, cs;
  for (int b = '!'; b <= '~'; ++b) bs.push_back(b);
  for (int b = 0xA1; b <= 0xAC; ++b) bs.push_back(b);
  for (int b = 0xAE; b <= 0xFF; ++b) bs.push_back(b);
  cs = bs;
  int n = 0;
  for (int b = 0; b < 256; ++b) {
    if (std::find(bs.begin(), bs.end(), b) == bs.end()) {
      bs.push_back(b);
      cs.push_back(256 + n++);
    }
  }
  for (int c : cs) t.tokens.push_back(Utf8(c));
  for (auto [a, b] : kMerges) {
    t.merges.push_back(std::string(a) + " " + b);
    t.tokens.push_back(std::string(a) + b);
  }
  t.endoftext_id = static_cast<int32_t>(t.tokens.size());
  t.tokens.push_back("<|endoftext|>");
  t.im_start_id = static_cast<int32_t>(t.tokens.size());
  t.tokens.push_back("<|im_start|>");
  t.im_end_id = static_cast<int32_t>(t.tokens.size());
  t.tokens.push_back("<|im_end|>");
  t.bos_id = t.im_start_id;
  t.eos_id = t.im_end_id;
  return t;
}

// Tokens padded to the model's vocab size with reserved control tokens.
Result<std::vector<std::string>> ModelTokens(const TinyModelSpec& spec) {
  std::vector<std::string> tokens = GetTinyTokenizer().tokens;
  if (spec.vocab_size < static_cast<int64_t>(tokens.size())) {
    return InvalidArgument("TinyModelSpec.vocab_size is smaller than the tiny tokenizer (" +
                           std::to_string(tokens.size()) + ")");
  }
  for (int64_t i = tokens.size(); i < spec.vocab_size; ++i) {
    tokens.push_back("<|reserved_" + std::to_string(i) + "|>");
  }
  return tokens;
}

bool IsSpecial(const std::string& tok) { return tok.size() > 4 && tok.rfind("<|", 0) == 0; }

// splitmix64 + Box-Muller: deterministic on every platform, unlike
// std::normal_distribution.
class Rng {
 public:
  explicit Rng(uint64_t s) : s_(s) {}
  uint64_t Next() {
    uint64_t z = (s_ += 0x9E3779B97F4A7C15ull);
    z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ull;
    z = (z ^ (z >> 27)) * 0x94D049BB133111EBull;
    return z ^ (z >> 31);
  }
  double Uniform() { return (Next() >> 11) * (1.0 / 9007199254740992.0); }  // [0, 1)
  float Normal() {
    const double u1 = 1.0 - Uniform(), u2 = Uniform();
    return static_cast<float>(std::sqrt(-2.0 * std::log(u1)) * std::cos(6.283185307179586 * u2));
  }

 private:
  uint64_t s_;
};

uint64_t Fnv1a(const std::string& s) {
  uint64_t h = 0xcbf29ce484222325ull;
  for (unsigned char c : s) h = (h ^ c) * 0x100000001b3ull;
  return h;
}

int64_t HeadDim(const TinyModelSpec& s) { return s.hidden / s.heads; }

// Canonical -> HF name.
std::string HfName(const std::string& canonical) {
  static const std::pair<const char*, const char*> kTop[] = {
      {"token_embd.weight", "model.embed_tokens.weight"},
      {"output_norm.weight", "model.norm.weight"},
      {"output.weight", "lm_head.weight"},
  };
  for (auto [c, h] : kTop) {
    if (canonical == c) return h;
  }
  static const std::pair<const char*, const char*> kLayer[] = {
      {"attn_norm.weight", "input_layernorm.weight"},
      {"attn_q.weight", "self_attn.q_proj.weight"},
      {"attn_k.weight", "self_attn.k_proj.weight"},
      {"attn_v.weight", "self_attn.v_proj.weight"},
      {"attn_output.weight", "self_attn.o_proj.weight"},
      {"attn_q.bias", "self_attn.q_proj.bias"},
      {"attn_k.bias", "self_attn.k_proj.bias"},
      {"attn_v.bias", "self_attn.v_proj.bias"},
      {"ffn_norm.weight", "post_attention_layernorm.weight"},
      {"ffn_gate.weight", "mlp.gate_proj.weight"},
      {"ffn_up.weight", "mlp.up_proj.weight"},
      {"ffn_down.weight", "mlp.down_proj.weight"},
  };
  const size_t dot = canonical.find('.', 4);
  const std::string layer = canonical.substr(4, dot - 4), rest = canonical.substr(dot + 1);
  for (auto [c, h] : kLayer) {
    if (rest == c) return "model.layers." + layer + "." + h;
  }
  return canonical;
}

// llama3 rope scaling as llama.cpp's converter encodes it in rope_freqs.weight:
// one divisor per rotary frequency.
std::vector<float> Llama3RopeFreqs(const TinyModelSpec& s) {
  const RopeScaling& r = s.rope_scaling;
  const int64_t dim = HeadDim(s);
  const double low_wavelen = r.original_max_position / r.low_freq_factor;
  const double high_wavelen = r.original_max_position / r.high_freq_factor;
  std::vector<float> out;
  for (int64_t i = 0; i < dim; i += 2) {
    const double freq = 1.0 / std::pow(s.rope_theta, static_cast<double>(i) / dim);
    const double wavelen = 2 * M_PI / freq;
    if (wavelen < high_wavelen) {
      out.push_back(1.0f);
    } else if (wavelen > low_wavelen) {
      out.push_back(static_cast<float>(r.factor));
    } else {
      const double smooth = (r.original_max_position / wavelen - r.low_freq_factor) /
                            (r.high_freq_factor - r.low_freq_factor);
      out.push_back(static_cast<float>(1.0 / ((1 - smooth) / r.factor + smooth)));
    }
  }
  return out;
}

std::string ModelType(const TinyModelSpec& s) { return s.arch; }
std::string GgufArch(const TinyModelSpec& s) { return s.arch == "mistral" ? "llama" : s.arch; }
bool PermutesQk(const TinyModelSpec& s) { return GgufArch(s) == "llama"; }

Status WriteText(const std::string& path, const std::string& text) {
  std::ofstream f(path, std::ios::binary | std::ios::trunc);
  f << text;
  if (!f) return Internal("cannot write " + path);
  return Status::Ok();
}

}  // namespace

const TinyTokenizer& GetTinyTokenizer() {
  static const TinyTokenizer* t = new TinyTokenizer(BuildTokenizer());
  return *t;
}

int64_t TinyTokenizerVocabSize() { return static_cast<int64_t>(GetTinyTokenizer().tokens.size()); }

std::string TinyChatMlTemplate() {
  return "{% for message in messages %}{{'<|im_start|>' + message['role'] + '\\n' + "
         "message['content'] + '<|im_end|>' + '\\n'}}{% endfor %}{% if add_generation_prompt %}"
         "{{ '<|im_start|>assistant\\n' }}{% endif %}";
}

std::vector<float> PermuteQkForGguf(const std::vector<float>& w, int64_t rows, int64_t cols,
                                    int64_t n_head) {
  const int64_t hd = rows / n_head, half = hd / 2;
  std::vector<float> out(w.size());
  for (int64_t h = 0; h < n_head; ++h) {
    for (int64_t j = 0; j < 2; ++j) {
      for (int64_t i = 0; i < half; ++i) {
        const int64_t src = h * hd + j * half + i, dst = h * hd + 2 * i + j;
        std::copy_n(w.begin() + src * cols, cols, out.begin() + dst * cols);
      }
    }
  }
  return out;
}

std::vector<float> UnpermuteQkFromGguf(const std::vector<float>& w, int64_t rows, int64_t cols,
                                       int64_t n_head) {
  const int64_t hd = rows / n_head, half = hd / 2;
  std::vector<float> out(w.size());
  for (int64_t h = 0; h < n_head; ++h) {
    for (int64_t j = 0; j < 2; ++j) {
      for (int64_t i = 0; i < half; ++i) {
        const int64_t src = h * hd + 2 * i + j, dst = h * hd + j * half + i;
        std::copy_n(w.begin() + src * cols, cols, out.begin() + dst * cols);
      }
    }
  }
  return out;
}

std::map<std::string, TinyTensor> TinyModelWeights(const TinyModelSpec& s) {
  std::map<std::string, TinyTensor> w;
  auto make = [&](const std::string& name, std::vector<int64_t> shape, bool is_norm) {
    int64_t n = 1;
    for (int64_t d : shape) n *= d;
    Rng rng(s.seed * 0x9E3779B97F4A7C15ull ^ Fnv1a(name));
    TinyTensor t{shape, std::vector<float>(n)};
    for (float& v : t.values) {
      v = is_norm ? 1.0f + 0.1f * rng.Normal() : s.weight_scale * rng.Normal();
    }
    w[name] = std::move(t);
  };
  const int64_t hd = HeadDim(s), q = s.heads * hd, kv = s.kv_heads * hd;
  make("token_embd.weight", {s.vocab_size, s.hidden}, false);
  make("output_norm.weight", {s.hidden}, true);
  if (!s.tied) make("output.weight", {s.vocab_size, s.hidden}, false);
  for (int64_t i = 0; i < s.layers; ++i) {
    const std::string b = "blk." + std::to_string(i) + ".";
    make(b + "attn_norm.weight", {s.hidden}, true);
    make(b + "attn_q.weight", {q, s.hidden}, false);
    make(b + "attn_k.weight", {kv, s.hidden}, false);
    make(b + "attn_v.weight", {kv, s.hidden}, false);
    make(b + "attn_output.weight", {s.hidden, q}, false);
    if (s.qkv_bias) {
      make(b + "attn_q.bias", {q}, false);
      make(b + "attn_k.bias", {kv}, false);
      make(b + "attn_v.bias", {kv}, false);
    }
    make(b + "ffn_norm.weight", {s.hidden}, true);
    make(b + "ffn_gate.weight", {s.intermediate, s.hidden}, false);
    make(b + "ffn_up.weight", {s.intermediate, s.hidden}, false);
    make(b + "ffn_down.weight", {s.hidden, s.intermediate}, false);
  }
  return w;
}

Status WriteTinyGguf(const TinyModelSpec& s, const std::string& path) {
  SJ_ASSIGN_OR_RETURN(std::vector<std::string> tokens, ModelTokens(s));
  const TinyTokenizer& tok = GetTinyTokenizer();
  const std::string arch = GgufArch(s);
  GgufWriter g;
  g.AddString("general.architecture", arch);
  g.AddString("general.name", "tiny-" + s.arch);
  g.AddU32("general.quantization_version", 2);
  const std::string p = arch + ".";
  g.AddU32(p + "context_length", s.max_context);
  g.AddU32(p + "embedding_length", s.hidden);
  g.AddU32(p + "block_count", s.layers);
  g.AddU32(p + "feed_forward_length", s.intermediate);
  g.AddU32(p + "attention.head_count", s.heads);
  g.AddU32(p + "attention.head_count_kv", s.kv_heads);
  g.AddU32(p + "rope.dimension_count", HeadDim(s));
  g.AddF32(p + "rope.freq_base", static_cast<float>(s.rope_theta));
  g.AddF32(p + "attention.layer_norm_rms_epsilon", static_cast<float>(s.rms_norm_eps));
  g.AddU32(p + "vocab_size", s.vocab_size);
  if (s.rope_scaling.type == RopeScaling::Type::kLinear) {
    g.AddString(p + "rope.scaling.type", "linear");
    g.AddF32(p + "rope.scaling.factor", static_cast<float>(s.rope_scaling.factor));
  }
  g.AddString("tokenizer.ggml.model", "gpt2");
  g.AddString("tokenizer.ggml.pre", "smollm");
  g.AddStringArray("tokenizer.ggml.tokens", tokens);
  std::vector<int64_t> types;
  for (const auto& t : tokens) types.push_back(IsSpecial(t) ? 3 : 1);
  g.AddIntArray("tokenizer.ggml.token_type", GgufType::kI32, types);
  g.AddStringArray("tokenizer.ggml.merges", tok.merges);
  g.AddU32("tokenizer.ggml.bos_token_id", tok.bos_id);
  g.AddU32("tokenizer.ggml.eos_token_id", tok.eos_id);
  g.AddU32("tokenizer.ggml.padding_token_id", tok.endoftext_id);
  g.AddBool("tokenizer.ggml.add_bos_token", false);
  g.AddString("tokenizer.chat_template", TinyChatMlTemplate());

  if (s.rope_scaling.type == RopeScaling::Type::kLlama3) {
    std::vector<float> f = Llama3RopeFreqs(s);
    SJ_RETURN_IF_ERROR(
        g.AddTensorF32("rope_freqs.weight", {static_cast<int64_t>(f.size())}, GgmlType::kF32, f));
  }
  for (auto& [name, t] : TinyModelWeights(s)) {
    std::vector<float> v = t.values;
    const bool is_q = name.find("attn_q.") != std::string::npos;
    const bool is_k = name.find("attn_k.") != std::string::npos;
    if (PermutesQk(s) && (is_q || is_k)) {
      const int64_t cols = t.shape.size() == 2 ? t.shape[1] : 1;
      v = PermuteQkForGguf(v, t.shape[0], cols, is_q ? s.heads : s.kv_heads);
    }
    const GgmlType type = t.shape.size() == 2 ? s.gguf_weight_type : GgmlType::kF32;
    SJ_RETURN_IF_ERROR(g.AddTensorF32(name, t.shape, type, v));
  }
  return g.Write(path);
}

Status WriteTinyHfDir(const TinyModelSpec& s, const std::string& dir, int num_shards,
                      std::string dtype) {
  ::mkdir(dir.c_str(), 0755);
  SJ_ASSIGN_OR_RETURN(std::vector<std::string> tokens, ModelTokens(s));
  const TinyTokenizer& tok = GetTinyTokenizer();

  json config = {
      {"architectures",
       {s.arch == "qwen2"     ? "Qwen2ForCausalLM"
        : s.arch == "mistral" ? "MistralForCausalLM"
                              : "LlamaForCausalLM"}},
      {"model_type", ModelType(s)},
      {"vocab_size", s.vocab_size},
      {"hidden_size", s.hidden},
      {"intermediate_size", s.intermediate},
      {"num_hidden_layers", s.layers},
      {"num_attention_heads", s.heads},
      {"num_key_value_heads", s.kv_heads},
      {"head_dim", HeadDim(s)},
      {"rms_norm_eps", s.rms_norm_eps},
      {"rope_theta", s.rope_theta},
      {"max_position_embeddings", s.max_context},
      {"tie_word_embeddings", s.tied},
      {"hidden_act", "silu"},
      {"bos_token_id", tok.bos_id},
      {"eos_token_id", tok.eos_id},
      {"torch_dtype", dtype == "F32"   ? "float32"
                      : dtype == "F16" ? "float16"
                                       : "bfloat16"},
  };
  if (s.arch == "llama") config["attention_bias"] = s.qkv_bias;
  switch (s.rope_scaling.type) {
    case RopeScaling::Type::kNone:
      config["rope_scaling"] = nullptr;
      break;
    case RopeScaling::Type::kLinear:
      config["rope_scaling"] = {{"rope_type", "linear"}, {"factor", s.rope_scaling.factor}};
      break;
    case RopeScaling::Type::kLlama3:
      config["rope_scaling"] = {
          {"rope_type", "llama3"},
          {"factor", s.rope_scaling.factor},
          {"low_freq_factor", s.rope_scaling.low_freq_factor},
          {"high_freq_factor", s.rope_scaling.high_freq_factor},
          {"original_max_position_embeddings", s.rope_scaling.original_max_position}};
      break;
  }
  SJ_RETURN_IF_ERROR(WriteText(dir + "/config.json", config.dump(2)));

  // tokenizer.json (HF tokenizers format) and tokenizer_config.json.
  json vocab = json::object();
  json added = json::array();
  json added_decoder = json::object();
  for (size_t i = 0; i < tokens.size(); ++i) {
    vocab[tokens[i]] = i;
    if (IsSpecial(tokens[i])) {
      json a = {{"id", i},         {"content", tokens[i]}, {"single_word", false},
                {"lstrip", false}, {"rstrip", false},      {"normalized", false},
                {"special", true}};
      added.push_back(a);
      a.erase("id");
      added_decoder[std::to_string(i)] = a;
    }
  }
  json byte_level = {{"type", "ByteLevel"},
                     {"add_prefix_space", false},
                     {"trim_offsets", true},
                     {"use_regex", true}};
  json tokenizer = {
      {"version", "1.0"},
      {"truncation", nullptr},
      {"padding", nullptr},
      {"added_tokens", added},
      {"normalizer", nullptr},
      {"pre_tokenizer", byte_level},
      {"post_processor", byte_level},
      {"decoder", byte_level},
      {"model",
       {{"type", "BPE"},
        {"dropout", nullptr},
        {"unk_token", nullptr},
        {"continuing_subword_prefix", nullptr},
        {"end_of_word_suffix", nullptr},
        {"fuse_unk", false},
        {"byte_fallback", false},
        {"vocab", vocab},
        {"merges", tok.merges}}},
  };
  SJ_RETURN_IF_ERROR(WriteText(dir + "/tokenizer.json", tokenizer.dump(2)));
  json tconfig = {
      {"add_bos_token", false},
      {"add_prefix_space", false},
      {"added_tokens_decoder", added_decoder},
      {"bos_token", tokens[tok.bos_id]},
      {"eos_token", tokens[tok.eos_id]},
      {"pad_token", tokens[tok.endoftext_id]},
      {"unk_token", tokens[tok.endoftext_id]},
      {"chat_template", TinyChatMlTemplate()},
      {"model_max_length", s.max_context},
      {"tokenizer_class", "GPT2Tokenizer"},
  };
  SJ_RETURN_IF_ERROR(WriteText(dir + "/tokenizer_config.json", tconfig.dump(2)));

  // Weights, split into shards in a fixed order.
  std::vector<SafetensorsTensor> all;
  for (auto& [name, t] : TinyModelWeights(s)) all.push_back({HfName(name), t.shape, t.values});
  if (num_shards <= 1) return WriteSafetensors(dir + "/model.safetensors", all, dtype);
  json weight_map = json::object();
  const size_t per = (all.size() + num_shards - 1) / num_shards;
  uint64_t total = 0;
  for (int k = 0; k < num_shards; ++k) {
    char fname[64];
    std::snprintf(fname, sizeof(fname), "model-%05d-of-%05d.safetensors", k + 1, num_shards);
    std::vector<SafetensorsTensor> part;
    for (size_t i = k * per; i < std::min(all.size(), (k + 1) * per); ++i) {
      part.push_back(all[i]);
      weight_map[all[i].name] = fname;
      total += all[i].values.size() * (dtype == "F32" ? 4 : 2);
    }
    SJ_RETURN_IF_ERROR(WriteSafetensors(dir + "/" + fname, part, dtype));
  }
  json index = {{"metadata", {{"total_size", total}}}, {"weight_map", weight_map}};
  return WriteText(dir + "/model.safetensors.index.json", index.dump(2));
}

}  // namespace skipjoin::testutil
