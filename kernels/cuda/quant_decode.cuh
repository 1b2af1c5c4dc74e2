// Device-side decoding of the GGUF quantized blocks of kernels/weight.h, shared
// by the quantized embedding and the quantized Linear kernels. Layouts (all
// little-endian, blocks of 32 values):
//   Q8_0 (34 bytes): f16 d, int8 q[32]            x[j] = d * q[j]
//   Q4_0 (18 bytes): f16 d, u8 q[16]              x[j] = d * (lo(q[j]) - 8), x[j+16] = d *
//   (hi(q[j]) - 8) Q4_1 (20 bytes): f16 d, f16 m, u8 q[16]       x[j] = d * lo(q[j]) + m,   x[j+16]
//   = d * hi(q[j]) + m
// Block starts are 2-byte aligned (34 and 18 are even; rows hold whole
// blocks and buffers come from cudaMalloc), so 16-bit loads are safe.
#pragma once

#include <cuda_fp16.h>

#include <cstdint>

#include "kernels/weight.h"

namespace skipjoin::kernels::cuda {

__host__ __device__ constexpr int QuantBlockBytes(WeightFormat f) {
  return f == WeightFormat::kQ8_0   ? 34
         : f == WeightFormat::kQ4_0 ? 18
         : f == WeightFormat::kQ4_1 ? 20
                                    : 0;
}

__device__ __forceinline__ float LoadHalf(const uint8_t* p) {
  return __half2float(__ushort_as_half(*reinterpret_cast<const unsigned short*>(p)));
}

// Decodes the block at b into v[0..31].
__device__ __forceinline__ void DecodeQuantBlock(WeightFormat f, const uint8_t* b, float v[32]) {
  const float d = LoadHalf(b);
  if (f == WeightFormat::kQ8_0) {
    const uint16_t* q = reinterpret_cast<const uint16_t*>(b + 2);
#pragma unroll
    for (int i = 0; i < 16; ++i) {
      const uint16_t pair = q[i];
      v[2 * i] = d * static_cast<float>(static_cast<int8_t>(pair & 0xff));
      v[2 * i + 1] = d * static_cast<float>(static_cast<int8_t>(pair >> 8));
    }
  } else {
    const bool q41 = f == WeightFormat::kQ4_1;
    const float m = q41 ? LoadHalf(b + 2) : -8.0f * d;
    const uint16_t* q = reinterpret_cast<const uint16_t*>(b + (q41 ? 4 : 2));
#pragma unroll
    for (int i = 0; i < 8; ++i) {
      const uint16_t pair = q[i];
      const int b0 = pair & 0xff, b1 = pair >> 8;
      v[2 * i] = d * static_cast<float>(b0 & 0x0f) + m;
      v[2 * i + 1] = d * static_cast<float>(b1 & 0x0f) + m;
      v[2 * i + 16] = d * static_cast<float>(b0 >> 4) + m;
      v[2 * i + 17] = d * static_cast<float>(b1 >> 4) + m;
    }
  }
}

}  // namespace skipjoin::kernels::cuda
