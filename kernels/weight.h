// How a weight matrix is stored in backend memory. Dense weights use the
// backend's activation dtype; quantized weights keep the GGUF block encoding
// of the model file ([rows, k / 32] blocks, rows back to back), and the Linear
// kernels decode blocks on the fly, so a decode step reads 4-8x fewer bytes.
#pragma once

#include <cstddef>
#include <cstdint>

namespace skipjoin::kernels {

enum class WeightFormat : uint8_t {
  kDense = 0,  // act_dtype elements
  kQ8_0 = 1,   // {f16 d; int8 q[32]}: x = d * q
  kQ4_0 = 2,   // {f16 d; u8 q[16]}: x = d * (nibble - 8)
  kQ4_1 = 3,   // {f16 d; f16 m; u8 q[16]}: x = d * nibble + m
};

constexpr int64_t kQuantBlock = 32;  // elements per block of every quantized format

// Bytes of one row of k elements; k must be a multiple of kQuantBlock for the
// quantized formats. dense_elem_bytes is the activation dtype's size.
constexpr int64_t WeightRowBytes(WeightFormat f, int64_t k, int64_t dense_elem_bytes) {
  switch (f) {
    case WeightFormat::kDense: return k * dense_elem_bytes;
    case WeightFormat::kQ8_0: return k / kQuantBlock * 34;
    case WeightFormat::kQ4_0: return k / kQuantBlock * 18;
    case WeightFormat::kQ4_1: return k / kQuantBlock * 20;
  }
  return 0;
}

const char* WeightFormatName(WeightFormat f);

struct WeightRef {
  const void* data = nullptr;
  WeightFormat format = WeightFormat::kDense;
};

}  // namespace skipjoin::kernels
