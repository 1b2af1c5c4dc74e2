#include "common/model_file.h"

#include <sys/stat.h>

#include <regex>

#include "common/model_file_internal.h"

namespace skipjoin {

Result<std::unique_ptr<ModelFile>> ModelFile::Open(const std::string& path) {
  struct stat st;
  if (::stat(path.c_str(), &st) != 0) {
    return NotFound("model path " + path + " does not exist");
  }
  if (S_ISDIR(st.st_mode)) return internal::OpenSafetensorsModelFile(path);
  return internal::OpenGgufModelFile(path);
}

std::string CanonicalTensorName(const std::string& hf) {
  static const std::pair<const char*, const char*> kTop[] = {
      {"model.embed_tokens.weight", "token_embd.weight"},
      {"model.norm.weight", "output_norm.weight"},
      {"lm_head.weight", "output.weight"},
  };
  for (auto [from, to] : kTop) {
    if (hf == from) return to;
  }
  static const std::pair<const char*, const char*> kLayer[] = {
      {"input_layernorm.weight", "attn_norm.weight"},
      {"self_attn.q_proj.weight", "attn_q.weight"},
      {"self_attn.k_proj.weight", "attn_k.weight"},
      {"self_attn.v_proj.weight", "attn_v.weight"},
      {"self_attn.o_proj.weight", "attn_output.weight"},
      {"self_attn.q_proj.bias", "attn_q.bias"},
      {"self_attn.k_proj.bias", "attn_k.bias"},
      {"self_attn.v_proj.bias", "attn_v.bias"},
      {"post_attention_layernorm.weight", "ffn_norm.weight"},
      {"mlp.gate_proj.weight", "ffn_gate.weight"},
      {"mlp.up_proj.weight", "ffn_up.weight"},
      {"mlp.down_proj.weight", "ffn_down.weight"},
  };
  static const std::regex kLayerRe(R"(model\.layers\.(\d+)\.(.+))");
  std::smatch m;
  if (std::regex_match(hf, m, kLayerRe)) {
    for (auto [from, to] : kLayer) {
      if (m[2] == from) return "blk." + m[1].str() + "." + to;
    }
  }
  return hf;
}

Status ValidateModelTensors(const ModelFile& model, const ModelConfig& c) {
  auto expect = [&](const std::string& name, std::vector<int64_t> shape) -> Status {
    if (!model.HasTensor(name)) {
      return NotFound(model.path() + ": required tensor '" + name + "' is missing");
    }
    SJ_ASSIGN_OR_RETURN(auto got, model.TensorShape(name));
    if (got != shape) {
      auto str = [](const std::vector<int64_t>& s) {
        std::string r = "[";
        for (size_t i = 0; i < s.size(); ++i) r += (i ? ", " : "") + std::to_string(s[i]);
        return r + "]";
      };
      return InvalidArgument(model.path() + ": tensor '" + name + "' has shape " + str(got) +
                             ", expected " + str(shape) + " from the model config");
    }
    return Status::Ok();
  };
  const int64_t h = c.hidden_size, q = c.num_heads * c.head_dim, kv = c.num_kv_heads * c.head_dim;
  SJ_RETURN_IF_ERROR(expect("token_embd.weight", {c.vocab_size, h}));
  SJ_RETURN_IF_ERROR(expect("output_norm.weight", {h}));
  if (!c.tied_embeddings) SJ_RETURN_IF_ERROR(expect("output.weight", {c.vocab_size, h}));
  if (c.has_rope_freqs_tensor) SJ_RETURN_IF_ERROR(expect("rope_freqs.weight", {c.head_dim / 2}));
  for (int64_t i = 0; i < c.num_layers; ++i) {
    const std::string b = "blk." + std::to_string(i) + ".";
    SJ_RETURN_IF_ERROR(expect(b + "attn_norm.weight", {h}));
    SJ_RETURN_IF_ERROR(expect(b + "attn_q.weight", {q, h}));
    SJ_RETURN_IF_ERROR(expect(b + "attn_k.weight", {kv, h}));
    SJ_RETURN_IF_ERROR(expect(b + "attn_v.weight", {kv, h}));
    SJ_RETURN_IF_ERROR(expect(b + "attn_output.weight", {h, q}));
    if (c.qkv_bias) {
      SJ_RETURN_IF_ERROR(expect(b + "attn_q.bias", {q}));
      SJ_RETURN_IF_ERROR(expect(b + "attn_k.bias", {kv}));
      SJ_RETURN_IF_ERROR(expect(b + "attn_v.bias", {kv}));
    }
    SJ_RETURN_IF_ERROR(expect(b + "ffn_norm.weight", {h}));
    SJ_RETURN_IF_ERROR(expect(b + "ffn_gate.weight", {c.intermediate_size, h}));
    SJ_RETURN_IF_ERROR(expect(b + "ffn_up.weight", {c.intermediate_size, h}));
    SJ_RETURN_IF_ERROR(expect(b + "ffn_down.weight", {h, c.intermediate_size}));
  }
  return Status::Ok();
}

namespace internal {

Result<std::pair<int64_t, int64_t>> CheckReadRange(const std::string& where,
                                                   const std::string& name,
                                                   const std::vector<int64_t>& shape,
                                                   IndexRange rows, IndexRange cols) {
  if (shape.empty() || shape.size() > 2) {
    return InvalidArgument(where + ": tensor '" + name + "' has " + std::to_string(shape.size()) +
                           " dimensions; ReadF32 reads 1-D and 2-D tensors only");
  }
  const int64_t n_rows = shape.size() == 2 ? shape[0] : 1;
  const int64_t n_cols = shape.back();
  auto bad = [](IndexRange r, int64_t n) { return r.begin < 0 || r.begin > r.end || r.end > n; };
  if (bad(rows, n_rows) || bad(cols, n_cols)) {
    return OutOfRange(where + ": read of rows [" + std::to_string(rows.begin) + ", " +
                      std::to_string(rows.end) + ") cols [" + std::to_string(cols.begin) + ", " +
                      std::to_string(cols.end) + ") outside tensor '" + name + "' of " +
                      std::to_string(n_rows) + " x " + std::to_string(n_cols));
  }
  return std::pair<int64_t, int64_t>{n_rows, n_cols};
}

}  // namespace internal
Result<GgmlType> ModelFile::TensorType(const std::string& name) const {
  return Unimplemented(path() + ": tensor '" + name + "': stored type not exposed by this format");
}

Status ModelFile::ReadRaw(const std::string& name, IndexRange, IndexRange, std::vector<uint8_t>*) const {
  return Unimplemented(path() + ": tensor '" + name + "': raw reads not supported by this format");
}

}  // namespace skipjoin
