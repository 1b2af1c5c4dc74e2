#include "common/model_config.h"

#include <cmath>
#include <limits>
#include <nlohmann/json.hpp>

#include "common/gguf.h"

namespace skipjoin {

std::string ValidateModelConfig(const ModelConfig& c) {
  auto pos = [](const char* name, int64_t v) -> std::string {
    return v > 0 ? "" : std::string(name) + " must be positive (got " + std::to_string(v) + ")";
  };
  for (auto [name, v] : {std::pair<const char*, int64_t>{"vocab_size", c.vocab_size},
                         {"hidden_size", c.hidden_size},
                         {"intermediate_size", c.intermediate_size},
                         {"num_layers", c.num_layers},
                         {"num_heads", c.num_heads},
                         {"num_kv_heads", c.num_kv_heads},
                         {"max_context", c.max_context}}) {
    if (std::string e = pos(name, v); !e.empty()) return e;
  }
  if (c.head_dim <= 0) {
    if (c.hidden_size % c.num_heads != 0) {
      return "num_heads (" + std::to_string(c.num_heads) + ") does not divide hidden_size (" +
             std::to_string(c.hidden_size) + ")";
    }
    return "head_dim must be positive (got " + std::to_string(c.head_dim) + ")";
  }
  if (c.head_dim % 2 != 0) {
    return "head_dim (" + std::to_string(c.head_dim) + ") must be even for rotary embeddings";
  }
  if (c.num_heads % c.num_kv_heads != 0) {
    return "num_kv_heads (" + std::to_string(c.num_kv_heads) + ") does not divide num_heads (" +
           std::to_string(c.num_heads) + ")";
  }
  // Guard the products the engine forms when sizing buffers.
  constexpr int64_t kMaxDim = int64_t{1} << 24;
  if (c.hidden_size > kMaxDim || c.intermediate_size > kMaxDim || c.vocab_size > kMaxDim ||
      c.num_heads > 4096 || c.head_dim > 4096 || c.num_layers > 4096 ||
      c.max_context > (int64_t{1} << 26)) {
    return "model dimensions are implausibly large";
  }
  if (!(c.rope_theta > 0) || !std::isfinite(c.rope_theta)) {
    return "rope_theta must be positive";
  }
  if (!(c.rms_norm_eps > 0) || !std::isfinite(c.rms_norm_eps)) {
    return "rms_norm_eps must be positive";
  }
  switch (c.rope_scaling.type) {
    case RopeScaling::Type::kNone:
      break;
    case RopeScaling::Type::kLinear:
      if (!(c.rope_scaling.factor > 0)) return "rope_scaling.factor must be positive";
      break;
    case RopeScaling::Type::kLlama3:
      if (!(c.rope_scaling.factor > 0)) return "rope_scaling.factor must be positive";
      if (!(c.rope_scaling.high_freq_factor > c.rope_scaling.low_freq_factor)) {
        return "rope_scaling.high_freq_factor must exceed low_freq_factor";
      }
      if (c.rope_scaling.original_max_position <= 0) {
        return "rope_scaling.original_max_position_embeddings must be positive";
      }
      break;
  }
  if (c.bos_token_id >= c.vocab_size || c.eos_token_id >= c.vocab_size) {
    return "bos/eos token id outside the vocabulary (" + std::to_string(c.vocab_size) + ")";
  }
  return "";
}

namespace {

Status Finish(ModelConfig* c, const std::string& path) {
  if (c->head_dim == 0 && c->num_heads > 0 && c->hidden_size % c->num_heads == 0) {
    c->head_dim = c->hidden_size / c->num_heads;
  }
  if (c->eos_token_ids.empty() && c->eos_token_id >= 0) c->eos_token_ids = {c->eos_token_id};
  if (std::string e = ValidateModelConfig(*c); !e.empty()) {
    return InvalidArgument(path + ": invalid model config: " + e);
  }
  return Status::Ok();
}

}  // namespace

Result<ModelConfig> ModelConfigFromGguf(const GgufFile& g) {
  const std::string& path = g.path();
  ModelConfig c;
  SJ_ASSIGN_OR_RETURN(std::string arch, g.GetString("general.architecture"));
  if (arch != "llama" && arch != "qwen2") {
    return Unimplemented("unsupported architecture '" + arch + "' in " + path);
  }
  c.architecture = arch;
  if (auto n = g.GetString("general.name"); n.ok()) c.name = *n;
  const std::string p = arch + ".";
  SJ_ASSIGN_OR_RETURN(c.num_layers, g.GetInt(p + "block_count"));
  SJ_ASSIGN_OR_RETURN(c.hidden_size, g.GetInt(p + "embedding_length"));
  SJ_ASSIGN_OR_RETURN(c.intermediate_size, g.GetInt(p + "feed_forward_length"));
  SJ_ASSIGN_OR_RETURN(c.num_heads, g.GetInt(p + "attention.head_count"));
  c.num_kv_heads = c.num_heads;
  if (g.Has(p + "attention.head_count_kv")) {
    SJ_ASSIGN_OR_RETURN(c.num_kv_heads, g.GetInt(p + "attention.head_count_kv"));
  }
  SJ_ASSIGN_OR_RETURN(c.max_context, g.GetInt(p + "context_length"));
  SJ_ASSIGN_OR_RETURN(double eps, g.GetFloat(p + "attention.layer_norm_rms_epsilon"));
  c.rms_norm_eps = static_cast<float>(eps);
  if (g.Has(p + "rope.freq_base")) {
    SJ_ASSIGN_OR_RETURN(c.rope_theta, g.GetFloat(p + "rope.freq_base"));
  }
  if (g.Has(p + "attention.key_length")) {
    SJ_ASSIGN_OR_RETURN(c.head_dim, g.GetInt(p + "attention.key_length"));
  } else if (c.num_heads > 0 && c.hidden_size % c.num_heads == 0) {
    c.head_dim = c.hidden_size / c.num_heads;
  }
  if (g.Has(p + "rope.dimension_count")) {
    SJ_ASSIGN_OR_RETURN(int64_t rot, g.GetInt(p + "rope.dimension_count"));
    if (rot != c.head_dim) {
      return Unimplemented(path + ": partial rotary embeddings (" + p +
                           "rope.dimension_count=" + std::to_string(rot) +
                           ", head_dim=" + std::to_string(c.head_dim) + ") are not supported");
    }
  }
  // Rope scaling. llama3-style scaling arrives as the rope_freqs.weight tensor.
  std::string scaling = "none";
  if (g.Has(p + "rope.scaling.type")) {
    SJ_ASSIGN_OR_RETURN(scaling, g.GetString(p + "rope.scaling.type"));
  } else if (g.Has(p + "rope.scale_linear")) {
    scaling = "linear";  // pre-2024 files
  }
  if (scaling == "linear") {
    c.rope_scaling.type = RopeScaling::Type::kLinear;
    const std::string key =
        g.Has(p + "rope.scaling.factor") ? p + "rope.scaling.factor" : p + "rope.scale_linear";
    SJ_ASSIGN_OR_RETURN(c.rope_scaling.factor, g.GetFloat(key));
    if (c.rope_scaling.factor == 1.0) c.rope_scaling.type = RopeScaling::Type::kNone;
  } else if (scaling != "none") {
    return Unimplemented(path + ": rope scaling type '" + scaling + "' (" + p +
                         "rope.scaling.type) is not supported");
  }
  if (g.Has(p + "rope.scaling.original_context_length")) {
    SJ_ASSIGN_OR_RETURN(c.rope_scaling.original_max_position,
                        g.GetInt(p + "rope.scaling.original_context_length"));
  }
  c.has_rope_freqs_tensor = g.FindTensor("rope_freqs.weight") != nullptr;

  if (g.Has("tokenizer.ggml.tokens")) {
    SJ_ASSIGN_OR_RETURN(auto tokens, g.GetStringArray("tokenizer.ggml.tokens"));
    c.vocab_size = static_cast<int64_t>(tokens.size());
  } else if (g.Has(p + "vocab_size")) {
    SJ_ASSIGN_OR_RETURN(c.vocab_size, g.GetInt(p + "vocab_size"));
  } else if (const GgufTensorInfo* t = g.FindTensor("token_embd.weight");
             t && t->dims.size() == 2) {
    c.vocab_size = t->dims[1];
  }
  c.tied_embeddings = g.FindTensor("output.weight") == nullptr;
  c.qkv_bias = g.FindTensor("blk.0.attn_q.bias") != nullptr;
  // llama.cpp converts HF llama Q/K to interleaved pairs; qwen2 keeps halves.
  c.rope_neox = arch == "qwen2";
  auto token_id = [&](const std::string& key, int32_t* out) -> Status {
    if (!g.Has(key)) return Status::Ok();
    SJ_ASSIGN_OR_RETURN(int64_t v, g.GetInt(key));
    if (v < 0 || v > std::numeric_limits<int32_t>::max()) {
      return InvalidArgument(path + ": metadata key '" + key + "' is out of range");
    }
    *out = static_cast<int32_t>(v);
    return Status::Ok();
  };
  SJ_RETURN_IF_ERROR(token_id("tokenizer.ggml.bos_token_id", &c.bos_token_id));
  SJ_RETURN_IF_ERROR(token_id("tokenizer.ggml.eos_token_id", &c.eos_token_id));
  SJ_RETURN_IF_ERROR(Finish(&c, path));
  return c;
}

namespace {

using nlohmann::json;

// Typed field access with errors naming the file and key.
template <typename T>
Status GetField(const json& j, const std::string& key, const std::string& path, T* out,
                bool required) {
  auto it = j.find(key);
  if (it == j.end() || it->is_null()) {
    if (required) return InvalidArgument(path + ": missing required key '" + key + "'");
    return Status::Ok();
  }
  if constexpr (std::is_same_v<T, bool>) {
    if (!it->is_boolean()) return InvalidArgument(path + ": key '" + key + "' must be a bool");
  } else if constexpr (std::is_integral_v<T>) {
    if (!it->is_number_integer()) {
      return InvalidArgument(path + ": key '" + key + "' must be an integer");
    }
  } else if constexpr (std::is_floating_point_v<T>) {
    if (!it->is_number()) return InvalidArgument(path + ": key '" + key + "' must be a number");
  } else {
    if (!it->is_string()) return InvalidArgument(path + ": key '" + key + "' must be a string");
  }
  *out = it->get<T>();
  return Status::Ok();
}

Status ParseTokenIds(const json& j, const std::string& key, const std::string& path,
                     std::vector<int32_t>* out) {
  auto it = j.find(key);
  if (it == j.end() || it->is_null()) return Status::Ok();
  auto one = [&](const json& v) -> Status {
    if (!v.is_number_integer() || v.get<int64_t>() < 0 ||
        v.get<int64_t>() > std::numeric_limits<int32_t>::max()) {
      return InvalidArgument(path + ": key '" + key + "' must hold non-negative token ids");
    }
    out->push_back(v.get<int32_t>());
    return Status::Ok();
  };
  if (it->is_array()) {
    for (const json& v : *it) SJ_RETURN_IF_ERROR(one(v));
    return Status::Ok();
  }
  return one(*it);
}

}  // namespace

Result<ModelConfig> ModelConfigFromHfJson(const std::string& json_text, const std::string& path) {
  json j = json::parse(json_text, nullptr, /*allow_exceptions=*/false);
  if (j.is_discarded() || !j.is_object()) {
    return InvalidArgument(path + ": not a valid JSON object");
  }
  ModelConfig c;
  std::string model_type;
  SJ_RETURN_IF_ERROR(GetField(j, "model_type", path, &model_type, true));
  if (model_type != "llama" && model_type != "mistral" && model_type != "qwen2") {
    return Unimplemented("unsupported architecture '" + model_type + "' in " + path);
  }
  c.architecture = model_type;
  SJ_RETURN_IF_ERROR(GetField(j, "_name_or_path", path, &c.name, false));
  SJ_RETURN_IF_ERROR(GetField(j, "vocab_size", path, &c.vocab_size, true));
  SJ_RETURN_IF_ERROR(GetField(j, "hidden_size", path, &c.hidden_size, true));
  SJ_RETURN_IF_ERROR(GetField(j, "intermediate_size", path, &c.intermediate_size, true));
  SJ_RETURN_IF_ERROR(GetField(j, "num_hidden_layers", path, &c.num_layers, true));
  SJ_RETURN_IF_ERROR(GetField(j, "num_attention_heads", path, &c.num_heads, true));
  c.num_kv_heads = c.num_heads;
  SJ_RETURN_IF_ERROR(GetField(j, "num_key_value_heads", path, &c.num_kv_heads, false));
  SJ_RETURN_IF_ERROR(GetField(j, "head_dim", path, &c.head_dim, false));
  double eps = 1e-6;
  SJ_RETURN_IF_ERROR(GetField(j, "rms_norm_eps", path, &eps, false));
  c.rms_norm_eps = static_cast<float>(eps);
  SJ_RETURN_IF_ERROR(GetField(j, "rope_theta", path, &c.rope_theta, false));
  SJ_RETURN_IF_ERROR(GetField(j, "max_position_embeddings", path, &c.max_context, true));
  SJ_RETURN_IF_ERROR(GetField(j, "tie_word_embeddings", path, &c.tied_embeddings, false));

  if (auto it = j.find("rope_scaling"); it != j.end() && !it->is_null()) {
    if (!it->is_object()) return InvalidArgument(path + ": key 'rope_scaling' must be an object");
    std::string type;
    SJ_RETURN_IF_ERROR(GetField(*it, "rope_type", path, &type, false));
    if (type.empty()) SJ_RETURN_IF_ERROR(GetField(*it, "type", path, &type, false));
    RopeScaling& r = c.rope_scaling;
    if (type == "llama3") {
      r.type = RopeScaling::Type::kLlama3;
      SJ_RETURN_IF_ERROR(GetField(*it, "factor", path, &r.factor, true));
      SJ_RETURN_IF_ERROR(GetField(*it, "low_freq_factor", path, &r.low_freq_factor, false));
      SJ_RETURN_IF_ERROR(GetField(*it, "high_freq_factor", path, &r.high_freq_factor, false));
      SJ_RETURN_IF_ERROR(
          GetField(*it, "original_max_position_embeddings", path, &r.original_max_position, false));
    } else if (type == "linear") {
      r.type = RopeScaling::Type::kLinear;
      SJ_RETURN_IF_ERROR(GetField(*it, "factor", path, &r.factor, true));
    } else if (type != "default") {
      return Unimplemented(path + ": rope_scaling type '" + type + "' is not supported");
    }
  }
  // HF checkpoints keep Q/K in the half-split rotary layout.
  c.rope_neox = true;
  c.qkv_bias = model_type == "qwen2";
  std::vector<int32_t> bos;
  SJ_RETURN_IF_ERROR(ParseTokenIds(j, "bos_token_id", path, &bos));
  if (!bos.empty()) c.bos_token_id = bos[0];
  SJ_RETURN_IF_ERROR(ParseTokenIds(j, "eos_token_id", path, &c.eos_token_ids));
  if (!c.eos_token_ids.empty()) c.eos_token_id = c.eos_token_ids[0];
  SJ_RETURN_IF_ERROR(Finish(&c, path));
  return c;
}

}  // namespace skipjoin
