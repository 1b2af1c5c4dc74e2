// GgufWriter: builds GGUF v3 (or v2) files for tests: typed metadata, arrays,
// and tensors given in row-major shape (written in ggml's reversed dim order).
// Also quantizers for the block types tests write (the ggml reference
// rounding), and a minimal safetensors writer.
// Thread-compatible: one writer per thread.
#pragma once

#include <cstdint>
#include <string>
#include <utility>
#include <vector>

#include "common/gguf.h"
#include "common/status.h"

namespace skipjoin::testutil {

// GGUF metadata value type codes (as stored in the file).
enum class GgufType : uint32_t {
  kU8 = 0,
  kI8 = 1,
  kU16 = 2,
  kI16 = 3,
  kU32 = 4,
  kI32 = 5,
  kF32 = 6,
  kBool = 7,
  kString = 8,
  kArray = 9,
  kU64 = 10,
  kI64 = 11,
  kF64 = 12,
};

class GgufWriter {
 public:
  void AddU8(const std::string& key, uint8_t v) { AddScalar(key, GgufType::kU8, &v, 1); }
  void AddI8(const std::string& key, int8_t v) { AddScalar(key, GgufType::kI8, &v, 1); }
  void AddU16(const std::string& key, uint16_t v) { AddScalar(key, GgufType::kU16, &v, 2); }
  void AddI16(const std::string& key, int16_t v) { AddScalar(key, GgufType::kI16, &v, 2); }
  void AddU32(const std::string& key, uint32_t v) { AddScalar(key, GgufType::kU32, &v, 4); }
  void AddI32(const std::string& key, int32_t v) { AddScalar(key, GgufType::kI32, &v, 4); }
  void AddU64(const std::string& key, uint64_t v) { AddScalar(key, GgufType::kU64, &v, 8); }
  void AddI64(const std::string& key, int64_t v) { AddScalar(key, GgufType::kI64, &v, 8); }
  void AddF32(const std::string& key, float v) { AddScalar(key, GgufType::kF32, &v, 4); }
  void AddF64(const std::string& key, double v) { AddScalar(key, GgufType::kF64, &v, 8); }
  void AddBool(const std::string& key, bool v) {
    uint8_t b = v;
    AddScalar(key, GgufType::kBool, &b, 1);
  }
  void AddString(const std::string& key, const std::string& v);
  void AddStringArray(const std::string& key, const std::vector<std::string>& v);
  // Integers written as elem_type (any integer type or kBool).
  void AddIntArray(const std::string& key, GgufType elem_type, const std::vector<int64_t>& v);
  // Floats written as kF32 or kF64.
  void AddFloatArray(const std::string& key, GgufType elem_type, const std::vector<double>& v);
  // An array of string arrays (nested arrays are legal GGUF).
  void AddNestedStringArray(const std::string& key, const std::vector<std::vector<std::string>>& v);
  // Raw escape hatch for malformed-file tests: key, type code, encoded payload.
  void AddRaw(const std::string& key, uint32_t type, const std::vector<uint8_t>& payload);

  // shape is row-major (outermost first); data is the encoded tensor bytes.
  void AddTensor(const std::string& name, const std::vector<int64_t>& shape, GgmlType type,
                 std::vector<uint8_t> data);
  // Encodes f32 values as `type` (F32, F16, BF16, Q8_0, Q4_0, Q4_1).
  Status AddTensorF32(const std::string& name, const std::vector<int64_t>& shape, GgmlType type,
                      const std::vector<float>& values);

  void set_version(uint32_t v) { version_ = v; }
  // Also writes general.alignment when not 32.
  void set_alignment(uint32_t a) { alignment_ = a; }

  std::vector<uint8_t> Serialize() const;
  Status Write(const std::string& path) const;

 private:
  void AddScalar(const std::string& key, GgufType type, const void* v, size_t n);
  void Key(const std::string& key, GgufType type);

  struct Tensor {
    std::string name;
    std::vector<int64_t> shape;
    GgmlType type;
    std::vector<uint8_t> data;
  };
  uint32_t version_ = 3;
  uint32_t alignment_ = 32;
  uint64_t n_kv_ = 0;
  std::vector<uint8_t> kv_;
  std::vector<Tensor> tensors_;
};

// ggml reference quantization of n values (a multiple of the block size).
// InvalidArgument for types without a quantizer here.
Result<std::vector<uint8_t>> QuantizeF32(GgmlType type, const float* x, int64_t n);
uint16_t F32ToF16(float f);   // round to nearest even
uint16_t F32ToBF16(float f);  // round to nearest even, NaN kept quiet

// One safetensors tensor: HF name, dtype ("F32", "F16", "BF16"), row-major
// shape, and f32 values converted to dtype on write.
struct SafetensorsTensor {
  std::string name;
  std::vector<int64_t> shape;
  std::vector<float> values;
};
Status WriteSafetensors(const std::string& path, const std::vector<SafetensorsTensor>& tensors,
                        const std::string& dtype);

}  // namespace skipjoin::testutil
