// ModelFile: read-only access to a model on disk, either one GGUF file or a
// Hugging Face directory (config.json + *.safetensors, optionally sharded with
// model.safetensors.index.json). Both are memory-mapped with bounds checks;
// nothing is read past the end of a file whatever its header says.
//
// Tensors are addressed by canonical (GGUF-style) names whatever the format:
//   token_embd.weight, output_norm.weight, output.weight,
//   blk.N.attn_norm.weight, blk.N.attn_q.weight, blk.N.attn_k.weight,
//   blk.N.attn_v.weight, blk.N.attn_output.weight, blk.N.attn_q.bias,
//   blk.N.attn_k.bias, blk.N.attn_v.bias, blk.N.ffn_norm.weight,
//   blk.N.ffn_gate.weight, blk.N.ffn_up.weight, blk.N.ffn_down.weight
// Shapes are row-major, outermost first: a linear weight is {out, in}, a norm
// weight {dim}, the embedding {vocab, hidden}.
//
// Thread-safety: immutable after Open; any thread may call the const methods.
#pragma once

#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include "common/model_config.h"
#include "common/status.h"

namespace skipjoin {

class GgufFile;
enum class GgmlType : uint32_t;

struct IndexRange {
  int64_t begin = 0;
  int64_t end = 0;  // exclusive
  int64_t size() const { return end - begin; }
};

class ModelFile {
 public:
  virtual ~ModelFile() = default;

  // path: a .gguf file or a directory holding config.json and safetensors.
  // Errors name the file (and tensor) that is wrong.
  static Result<std::unique_ptr<ModelFile>> Open(const std::string& path);

  virtual const std::string& path() const = 0;
  virtual const ModelConfig& config() const = 0;
  // "gguf" or "safetensors"
  virtual const char* format() const = 0;

  virtual bool HasTensor(const std::string& name) const = 0;
  // NotFound naming the tensor and file when absent.
  virtual Result<std::vector<int64_t>> TensorShape(const std::string& name) const = 0;

  // Dequantizes rows x cols of a 1-D or 2-D tensor into dst, row-major,
  // rows.size() * cols.size() floats. A 1-D tensor is one row: rows must be
  // {0, 1}. Errors: unknown tensor, range outside the shape, unsupported type.
  virtual Status ReadF32(const std::string& name, IndexRange rows, IndexRange cols,
                         float* dst) const = 0;

  // The storage encoding of a tensor (GGUF: its ggml type). Unimplemented for
  // formats that only offer ReadF32.
  virtual Result<GgmlType> TensorType(const std::string& name) const;
  // Appends rows x cols of a tensor in its stored encoding to out: each row's
  // whole quant blocks covering cols, rows back to back. cols must start and
  // end on block boundaries. Lets an engine keep quantized weights quantized.
  virtual Status ReadRaw(const std::string& name, IndexRange rows, IndexRange cols,
                         std::vector<uint8_t>* out) const;

  // The GGUF file behind this model (for tokenizer metadata), or nullptr.
  virtual const GgufFile* gguf() const { return nullptr; }
};

// Maps a Hugging Face tensor name to its canonical (GGUF) name, e.g.
// "model.layers.3.self_attn.q_proj.weight" -> "blk.3.attn_q.weight". Names
// with no canonical form are returned unchanged.
std::string CanonicalTensorName(const std::string& hf_name);

// Checks that every tensor the Llama-family engine needs exists with the shape
// `config` implies (biases only when config.qkv_bias, output.weight only when
// not tied). NotFound / InvalidArgument naming the file and tensor.
Status ValidateModelTensors(const ModelFile& model, const ModelConfig& config);

}  // namespace skipjoin
