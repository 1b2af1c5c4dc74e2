// Linear over quantized weights (Q8_0 / Q4_0 / Q4_1 blocks as stored in the
// GGUF file) on CUDA. Small m (decode): QuantGemv, one warp per output column,
// each lane decoding whole 32-value blocks into registers once and multiplying
// them into up to kQuantGemvMaxM activation rows; the step is memory-bound, so
// reading 4-8x fewer weight bytes than bf16 is the point. Large m (prefill):
// CudaBackend decodes row tiles to bf16 with DequantizeRows and runs cuBLAS.
#include <cuda_bf16.h>

#include "kernels/cuda/cuda_check.h"
#include "kernels/cuda/ops.h"
#include "kernels/cuda/quant_decode.cuh"

namespace skipjoin::kernels::cuda {
namespace {

constexpr int kGemvWarps = 4;  // output columns per block

__global__ void __launch_bounds__(kGemvWarps * 32)
    QuantGemvKernel(const bf16* __restrict__ x, WeightFormat f, const uint8_t* __restrict__ w,
                    const bf16* __restrict__ bias, int32_t m, int64_t n, int64_t k, void* out,
                    bool out_f32) {
  const int lane = threadIdx.x & 31;
  const int64_t col = int64_t{blockIdx.x} * kGemvWarps + (threadIdx.x >> 5);
  if (col >= n) return;  // whole warps exit together
  const int64_t nb = k / kQuantBlock;
  const int bb = QuantBlockBytes(f);
  const uint8_t* wrow = w + col * nb * bb;
  float acc[kQuantGemvMaxM];
#pragma unroll
  for (int r = 0; r < kQuantGemvMaxM; ++r) acc[r] = 0.f;
  for (int64_t b = lane; b < nb; b += 32) {
    float v[32];
    DecodeQuantBlock(f, wrow + b * bb, v);
#pragma unroll
    for (int r = 0; r < kQuantGemvMaxM; ++r) {
      if (r < m) {
        // 32 bf16 activations = four 16-byte loads (x rows are 16-byte aligned:
        // the base is, and k * 2 bytes is a multiple of 64).
        const uint4* xs = reinterpret_cast<const uint4*>(x + int64_t{r} * k + b * kQuantBlock);
        float sum = 0.f;
#pragma unroll
        for (int c = 0; c < 4; ++c) {
          const uint4 raw = xs[c];
          const __nv_bfloat162* h2 = reinterpret_cast<const __nv_bfloat162*>(&raw);
#pragma unroll
          for (int e = 0; e < 4; ++e) {
            const float2 xf = __bfloat1622float2(h2[e]);
            sum += xf.x * v[8 * c + 2 * e] + xf.y * v[8 * c + 2 * e + 1];
          }
        }
        acc[r] += sum;
      }
    }
  }
#pragma unroll
  for (int r = 0; r < kQuantGemvMaxM; ++r) {
    if (r < m) {
      float s = acc[r];
#pragma unroll
      for (int o = 16; o > 0; o >>= 1) s += __shfl_xor_sync(0xffffffffu, s, o);
      if (lane == 0) {
        if (bias != nullptr) s += __bfloat162float(bias[col]);
        if (out_f32) {
          static_cast<float*>(out)[int64_t{r} * n + col] = s;
        } else {
          static_cast<bf16*>(out)[int64_t{r} * n + col] = __float2bfloat16(s);
        }
      }
    }
  }
}

// One thread per 32-value block of the tile.
__global__ void DequantizeRowsKernel(WeightFormat f, const uint8_t* __restrict__ w, int64_t row0,
                                     int64_t rows, int64_t k, bf16* __restrict__ out) {
  const int64_t nb = k / kQuantBlock;
  const int64_t idx = int64_t{blockIdx.x} * blockDim.x + threadIdx.x;
  if (idx >= rows * nb) return;
  const int64_t r = idx / nb, b = idx % nb;
  float v[32];
  DecodeQuantBlock(f, w + ((row0 + r) * nb + b) * QuantBlockBytes(f), v);
  __nv_bfloat162* o = reinterpret_cast<__nv_bfloat162*>(out + r * k + b * kQuantBlock);
#pragma unroll
  for (int j = 0; j < 16; ++j) o[j] = __floats2bfloat162_rn(v[2 * j], v[2 * j + 1]);
}

}  // namespace

Status QuantGemv(cudaStream_t stream, const bf16* x, WeightRef w, const bf16* bias, int64_t m,
                 int64_t n, int64_t k, void* out, bool out_f32) {
  if (w.format == WeightFormat::kDense) return InvalidArgument("QuantGemv: weight is dense");
  if (m > kQuantGemvMaxM) return InvalidArgument("QuantGemv: m above kQuantGemvMaxM");
  if (k % kQuantBlock != 0) return InvalidArgument("QuantGemv: k must be a multiple of 32");
  if ((reinterpret_cast<uintptr_t>(x) & 15) != 0)
    return InvalidArgument("QuantGemv: x must be 16-byte aligned");
  if (m <= 0 || n <= 0) return Status::Ok();
  const unsigned blocks = static_cast<unsigned>((n + kGemvWarps - 1) / kGemvWarps);
  QuantGemvKernel<<<blocks, kGemvWarps * 32, 0, stream>>>(
      x, w.format, static_cast<const uint8_t*>(w.data), bias, static_cast<int32_t>(m), n, k, out,
      out_f32);
  SJ_CUDA_RETURN_IF_LAUNCH_FAILED();
  return Status::Ok();
}

Status DequantizeRows(cudaStream_t stream, WeightFormat f, const void* w, int64_t row0,
                      int64_t rows, int64_t k, bf16* out) {
  if (f == WeightFormat::kDense) return InvalidArgument("DequantizeRows: weight is dense");
  if (k % kQuantBlock != 0) return InvalidArgument("DequantizeRows: k must be a multiple of 32");
  const int64_t items = rows * (k / kQuantBlock);
  if (items <= 0) return Status::Ok();
  DequantizeRowsKernel<<<static_cast<unsigned>((items + 127) / 128), 128, 0, stream>>>(
      f, static_cast<const uint8_t*>(w), row0, rows, k, out);
  SJ_CUDA_RETURN_IF_LAUNCH_FAILED();
  return Status::Ok();
}

}  // namespace skipjoin::kernels::cuda
