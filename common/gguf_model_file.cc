// ModelFile over one GGUF file. GGUF stores dims in ggml order (fastest first),
// so the row-major shape is the reversed dims; a row of a 2-D tensor is dims[0]
// elements stored as whole quant blocks.
#include <algorithm>
#include <cstring>

#include "common/gguf.h"
#include "common/model_file_internal.h"

namespace skipjoin::internal {
namespace {

class GgufModelFile final : public ModelFile {
 public:
  GgufModelFile(std::unique_ptr<GgufFile> g, ModelConfig c) : g_(std::move(g)), config_(c) {}

  const std::string& path() const override { return g_->path(); }
  const ModelConfig& config() const override { return config_; }
  const char* format() const override { return "gguf"; }
  const GgufFile* gguf() const override { return g_.get(); }

  bool HasTensor(const std::string& name) const override { return g_->FindTensor(name) != nullptr; }

  Result<std::vector<int64_t>> TensorShape(const std::string& name) const override {
    SJ_ASSIGN_OR_RETURN(const GgufTensorInfo* t, Find(name));
    return std::vector<int64_t>(t->dims.rbegin(), t->dims.rend());
  }

  Status ReadF32(const std::string& name, IndexRange rows, IndexRange cols,
                 float* dst) const override {
    SJ_ASSIGN_OR_RETURN(const GgufTensorInfo* t, Find(name));
    const std::vector<int64_t> shape(t->dims.rbegin(), t->dims.rend());
    SJ_ASSIGN_OR_RETURN(auto rc, CheckReadRange(path(), name, shape, rows, cols));
    const int64_t n_cols = rc.second;
    if (rows.size() == 0 || cols.size() == 0) return Status::Ok();
    SJ_ASSIGN_OR_RETURN(auto info, GgmlBlockInfo(t->type));
    const auto [block, block_bytes] = info;
    const int64_t row_bytes = n_cols / block * block_bytes;
    // Whole blocks covering [cols.begin, cols.end).
    const int64_t first_block = cols.begin / block;
    const int64_t end_block = (cols.end + block - 1) / block;
    const int64_t n_blocks = std::max<int64_t>(end_block - first_block, 0);
    const bool aligned = cols.begin % block == 0 && cols.end % block == 0;
    std::vector<float> tmp(aligned ? 0 : n_blocks * block);
    const std::span<const uint8_t> data = g_->TensorData(*t);
    for (int64_t r = rows.begin; r < rows.end; ++r) {
      const uint64_t off = static_cast<uint64_t>(r * row_bytes + first_block * block_bytes);
      float* out = dst + (r - rows.begin) * cols.size();
      float* buf = aligned ? out : tmp.data();
      Status s =
          DequantizeRow(t->type, data.data() + off, data.size() - off, n_blocks * block, buf);
      if (!s.ok()) return s.WithContext(path() + ": tensor '" + name + "'");
      if (!aligned) {
        std::memcpy(out, tmp.data() + (cols.begin - first_block * block),
                    cols.size() * sizeof(float));
      }
    }
    return Status::Ok();
  }

  Result<GgmlType> TensorType(const std::string& name) const override {
    SJ_ASSIGN_OR_RETURN(const GgufTensorInfo* t, Find(name));
    return t->type;
  }

  Status ReadRaw(const std::string& name, IndexRange rows, IndexRange cols,
                 std::vector<uint8_t>* out) const override {
    SJ_ASSIGN_OR_RETURN(const GgufTensorInfo* t, Find(name));
    const std::vector<int64_t> shape(t->dims.rbegin(), t->dims.rend());
    SJ_ASSIGN_OR_RETURN(auto rc, CheckReadRange(path(), name, shape, rows, cols));
    SJ_ASSIGN_OR_RETURN(auto info, GgmlBlockInfo(t->type));
    const auto [block, block_bytes] = info;
    if (cols.begin % block != 0 || cols.end % block != 0) {
      return InvalidArgument(path() + ": tensor '" + name + "': columns [" +
                             std::to_string(cols.begin) + ", " + std::to_string(cols.end) +
                             ") are not on " + std::to_string(block) + "-element block boundaries");
    }
    const int64_t row_bytes = rc.second / block * block_bytes;
    const int64_t off0 = cols.begin / block * block_bytes;
    const int64_t len = cols.size() / block * block_bytes;
    const std::span<const uint8_t> data = g_->TensorData(*t);
    for (int64_t r = rows.begin; r < rows.end; ++r) {
      const int64_t off = r * row_bytes + off0;
      if (off + len > static_cast<int64_t>(data.size())) {
        return DataLoss(path() + ": tensor '" + name + "': row " + std::to_string(r) + " past its data");
      }
      out->insert(out->end(), data.begin() + off, data.begin() + off + len);
    }
    return Status::Ok();
  }

 private:
  Result<const GgufTensorInfo*> Find(const std::string& name) const {
    const GgufTensorInfo* t = g_->FindTensor(name);
    if (t == nullptr) return NotFound(path() + ": tensor '" + name + "' not found");
    return t;
  }

  std::unique_ptr<GgufFile> g_;
  ModelConfig config_;
};

}  // namespace

Result<std::unique_ptr<ModelFile>> OpenGgufModelFile(const std::string& path) {
  SJ_ASSIGN_OR_RETURN(auto g, GgufFile::Open(path));
  SJ_ASSIGN_OR_RETURN(ModelConfig c, ModelConfigFromGguf(*g));
  auto m = std::make_unique<GgufModelFile>(std::move(g), c);
  SJ_RETURN_IF_ERROR(ValidateModelTensors(*m, c));
  return std::unique_ptr<ModelFile>(std::move(m));
}

}  // namespace skipjoin::internal
