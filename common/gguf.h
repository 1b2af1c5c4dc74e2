// GgufFile: a parsed GGUF v2/v3 file (header, metadata, tensor infos) over a
// bounds-checked memory map. Open() validates every offset and size against the
// file length, so TensorData() never points past the end of the mapping.
// Thread-safety: immutable after Open; any thread may call the const methods.
#pragma once

#include <cstdint>
#include <map>
#include <memory>
#include <span>
#include <string>
#include <variant>
#include <vector>

#include "common/status.h"

namespace skipjoin {

// ggml tensor types (values as stored in the file).
enum class GgmlType : uint32_t {
  kF32 = 0,
  kF16 = 1,
  kQ4_0 = 2,
  kQ4_1 = 3,
  kQ5_0 = 6,
  kQ5_1 = 7,
  kQ8_0 = 8,
  kQ8_1 = 9,
  kQ2_K = 10,
  kQ3_K = 11,
  kQ4_K = 12,
  kQ5_K = 13,
  kQ6_K = 14,
  kQ8_K = 15,
  kBF16 = 30,
};

const char* GgmlTypeName(GgmlType t);
// Elements per block and bytes per block; InvalidArgument for unknown types.
Result<std::pair<int64_t, int64_t>> GgmlBlockInfo(GgmlType t);
// Dequantizes n elements (a multiple of the block size) starting at src, which
// holds at least src_bytes bytes, into dst. DataLoss if src_bytes is too small;
// Unimplemented for types without a dequantizer (supported: F32, F16, BF16,
// Q8_0, Q4_0, Q4_1, Q4_K, Q6_K).
Status DequantizeRow(GgmlType t, const uint8_t* src, size_t src_bytes, int64_t n, float* dst);

struct GgufTensorInfo {
  std::string name;
  std::vector<int64_t> dims;  // ggml order: dims[0] is the fastest-varying
  GgmlType type = GgmlType::kF32;
  uint64_t offset = 0;  // absolute byte offset in the file
  uint64_t nbytes = 0;
};

// One metadata value. Arrays of strings and of numbers are kept as vectors.
using GgufValue = std::variant<int64_t, uint64_t, double, bool, std::string, std::vector<int64_t>,
                               std::vector<double>, std::vector<std::string>>;

class MappedFile;

class GgufFile {
 public:
  static Result<std::unique_ptr<GgufFile>> Open(const std::string& path);
  ~GgufFile();

  const std::string& path() const { return path_; }
  uint32_t version() const { return version_; }

  bool Has(const std::string& key) const { return kv_.count(key) != 0; }
  // Typed getters: NotFound when absent, InvalidArgument on a type mismatch.
  // GetInt accepts any integer type; GetFloat any float or integer type.
  Result<int64_t> GetInt(const std::string& key) const;
  Result<double> GetFloat(const std::string& key) const;
  Result<bool> GetBool(const std::string& key) const;
  Result<std::string> GetString(const std::string& key) const;
  Result<std::vector<std::string>> GetStringArray(const std::string& key) const;
  Result<std::vector<int64_t>> GetIntArray(const std::string& key) const;
  Result<std::vector<double>> GetFloatArray(const std::string& key) const;
  const std::map<std::string, GgufValue>& metadata() const { return kv_; }

  const std::vector<GgufTensorInfo>& tensors() const { return tensors_; }
  const GgufTensorInfo* FindTensor(const std::string& name) const;
  std::span<const uint8_t> TensorData(const GgufTensorInfo& t) const;

 private:
  GgufFile() = default;
  std::string path_;
  uint32_t version_ = 0;
  std::unique_ptr<MappedFile> file_;
  std::map<std::string, GgufValue> kv_;
  std::vector<GgufTensorInfo> tensors_;
  std::map<std::string, size_t> tensor_index_;
};

}  // namespace skipjoin
