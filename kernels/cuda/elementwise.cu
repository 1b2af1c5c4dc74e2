// Element-wise, normalization, rotary, embedding, KV-append and copy kernels
// of the CUDA backend (twins of kernels/cpu/ops.cc). Attention lives in
// attention.cu, quantized Linear in quant_linear.cu; dense Linear is cuBLAS.
#include <cuda_bf16.h>

#include <cstdint>
#include <string>

#include "kernels/cuda/cuda_check.h"
#include "kernels/cuda/ops.h"
#include "kernels/cuda/quant_decode.cuh"

namespace skipjoin::kernels::cuda {
namespace {

constexpr int kNormThreads = 256;

unsigned GridFor(int64_t n, int threads) {
  return static_cast<unsigned>((n + threads - 1) / threads);
}

__device__ __forceinline__ float BlockSum(float v, float* shared /* [32] */) {
#pragma unroll
  for (int o = 16; o > 0; o >>= 1) v += __shfl_xor_sync(0xffffffffu, v, o);
  const int lane = threadIdx.x & 31, warp = threadIdx.x >> 5;
  if (lane == 0) shared[warp] = v;
  __syncthreads();
  const int warps = (blockDim.x + 31) >> 5;
  float total = 0.f;
  for (int w = 0; w < warps; ++w) total += shared[w];
  return total;
}

// One block per row. With residual != null: residual += x first (rounded to
// bf16, the value the next layer sees) and the norm is of the rounded sum.
__global__ void RmsNormKernel(const bf16* __restrict__ x, bf16* __restrict__ residual,
                              const bf16* __restrict__ weight, int64_t dim, float eps,
                              bf16* __restrict__ out) {
  __shared__ float partial[32];
  const int64_t row = blockIdx.x;
  const bf16* xr = x + row * dim;
  bf16* rr = residual != nullptr ? residual + row * dim : nullptr;
  float ss = 0.f;
  for (int64_t i = threadIdx.x; i < dim; i += blockDim.x) {
    float v = __bfloat162float(xr[i]);
    if (rr != nullptr) {
      const bf16 sum = __float2bfloat16(__bfloat162float(rr[i]) + v);
      rr[i] = sum;
      v = __bfloat162float(sum);
    }
    ss += v * v;
  }
  const float inv = rsqrtf(BlockSum(ss, partial) / static_cast<float>(dim) + eps);
  const bf16* src = rr != nullptr ? rr : xr;  // each thread re-reads only what it wrote
  bf16* o = out + row * dim;
  for (int64_t i = threadIdx.x; i < dim; i += blockDim.x) {
    o[i] = __float2bfloat16(__bfloat162float(src[i]) * inv * __bfloat162float(weight[i]));
  }
}

// RmsNormKernel for rows whose 8-value chunks fit the block's registers
// (dim a multiple of 8, at most 8 * kNormThreads * kMaxNormChunks, every
// pointer 16-byte aligned): each thread loads its chunks once with 16-byte
// loads and keeps them for the scaling pass, so a row costs two dependent
// memory round trips instead of one per strided element.
constexpr int kMaxNormChunks = 4;

__global__ void RmsNormVecKernel(const bf16* __restrict__ x, bf16* __restrict__ residual,
                                 const bf16* __restrict__ weight, int64_t dim, float eps,
                                 bf16* __restrict__ out) {
  __shared__ float partial[32];
  const int64_t row = blockIdx.x;
  const int chunks = static_cast<int>(dim / 8);
  const uint4* xr = reinterpret_cast<const uint4*>(x + row * dim);
  uint4* rr = residual != nullptr ? reinterpret_cast<uint4*>(residual + row * dim) : nullptr;
  float v[kMaxNormChunks][8];
  float ss = 0.f;
#pragma unroll
  for (int c = 0; c < kMaxNormChunks; ++c) {
    const int j = threadIdx.x + c * blockDim.x;
    if (j >= chunks) break;
    const uint4 a = xr[j];
    const bf16* ab = reinterpret_cast<const bf16*>(&a);
    if (rr != nullptr) {
      const uint4 b = rr[j];
      const bf16* bb = reinterpret_cast<const bf16*>(&b);
      uint4 sum;
      bf16* sb = reinterpret_cast<bf16*>(&sum);
#pragma unroll
      for (int e = 0; e < 8; ++e) {
        sb[e] = __float2bfloat16(__bfloat162float(bb[e]) + __bfloat162float(ab[e]));
        v[c][e] = __bfloat162float(sb[e]);
      }
      rr[j] = sum;
    } else {
#pragma unroll
      for (int e = 0; e < 8; ++e) v[c][e] = __bfloat162float(ab[e]);
    }
#pragma unroll
    for (int e = 0; e < 8; ++e) ss += v[c][e] * v[c][e];
  }
  const float inv = rsqrtf(BlockSum(ss, partial) / static_cast<float>(dim) + eps);
  const uint4* wr = reinterpret_cast<const uint4*>(weight);
  uint4* o = reinterpret_cast<uint4*>(out + row * dim);
#pragma unroll
  for (int c = 0; c < kMaxNormChunks; ++c) {
    const int j = threadIdx.x + c * blockDim.x;
    if (j >= chunks) break;
    const uint4 w = wr[j];
    const bf16* wb = reinterpret_cast<const bf16*>(&w);
    uint4 res;
    bf16* ob = reinterpret_cast<bf16*>(&res);
#pragma unroll
    for (int e = 0; e < 8; ++e) ob[e] = __float2bfloat16(v[c][e] * inv * __bfloat162float(wb[e]));
    o[j] = res;
  }
}

bool Aligned16(const void* p) { return (reinterpret_cast<uintptr_t>(p) & 15) == 0; }

Status LaunchRmsNorm(cudaStream_t stream, const bf16* x, bf16* residual, const bf16* weight,
                     int64_t rows, int64_t dim, float eps, bf16* out) {
  const bool vec = dim % 8 == 0 && dim <= int64_t{8} * kNormThreads * kMaxNormChunks &&
                   Aligned16(x) && Aligned16(residual) && Aligned16(weight) && Aligned16(out);
  if (vec) {
    RmsNormVecKernel<<<static_cast<unsigned>(rows), kNormThreads, 0, stream>>>(x, residual, weight,
                                                                               dim, eps, out);
  } else {
    RmsNormKernel<<<static_cast<unsigned>(rows), kNormThreads, 0, stream>>>(x, residual, weight,
                                                                            dim, eps, out);
  }
  SJ_CUDA_RETURN_IF_LAUNCH_FAILED();
  return Status::Ok();
}

// One thread per (token, rotary pair) over the q heads then the k heads.
__global__ void RopeKernel(bf16* q, int64_t q_stride, int32_t num_q_heads, bf16* k,
                           int64_t k_stride, int32_t num_kv_heads, int32_t head_dim,
                           const int32_t* __restrict__ positions, int64_t tokens,
                           const float* __restrict__ inv_freq, bool neox) {
  const int32_t half = head_dim / 2;
  const int64_t per_token = int64_t{num_q_heads + num_kv_heads} * half;
  const int64_t idx = int64_t{blockIdx.x} * blockDim.x + threadIdx.x;
  if (idx >= tokens * per_token) return;
  const int64_t t = idx / per_token;
  const int32_t r = static_cast<int32_t>(idx % per_token);
  const int32_t head = r / half, i = r % half;
  bf16* base = head < num_q_heads ? q + t * q_stride + int64_t{head} * head_dim
                                  : k + t * k_stride + int64_t{head - num_q_heads} * head_dim;
  float s, c;
  sincosf(static_cast<float>(positions[t]) * inv_freq[i], &s, &c);
  const int32_t a = neox ? i : 2 * i;
  const int32_t b = neox ? i + half : 2 * i + 1;
  const float x0 = __bfloat162float(base[a]), x1 = __bfloat162float(base[b]);
  base[a] = __float2bfloat16(x0 * c - x1 * s);
  base[b] = __float2bfloat16(x0 * s + x1 * c);
}

// One block per token; threads over its K and V row.
__global__ void KvAppendKernel(const bf16* __restrict__ k, int64_t k_stride,
                               const bf16* __restrict__ v, int64_t v_stride,
                               const int32_t* __restrict__ slots, int64_t width,
                               bf16* __restrict__ k_pool, bf16* __restrict__ v_pool) {
  const int64_t t = blockIdx.x;
  const int32_t slot = slots[t];
  if (slot < 0) return;
  bf16* kd = k_pool + int64_t{slot} * width;
  bf16* vd = v_pool + int64_t{slot} * width;
  for (int64_t i = threadIdx.x; i < width; i += blockDim.x) {
    kd[i] = k[t * k_stride + i];
    vd[i] = v[t * v_stride + i];
  }
}

__global__ void SiluMulKernel(const bf16* __restrict__ gate_up, int64_t rows, int64_t ffn,
                              bf16* __restrict__ out) {
  const int64_t idx = int64_t{blockIdx.x} * blockDim.x + threadIdx.x;
  if (idx >= rows * ffn) return;
  const int64_t r = idx / ffn, i = idx % ffn;
  const float g = __bfloat162float(gate_up[r * 2 * ffn + i]);
  const float u = __bfloat162float(gate_up[r * 2 * ffn + ffn + i]);
  out[idx] = __float2bfloat16(g / (1.0f + expf(-g)) * u);
}

// out[i, :] = src[rows[i], :] (embedding and row gather).
__global__ void GatherKernel(const bf16* __restrict__ src, int64_t dim,
                             const int32_t* __restrict__ rows, bf16* __restrict__ out) {
  const int64_t i = blockIdx.x;
  const bf16* s = src + int64_t{rows[i]} * dim;
  for (int64_t j = threadIdx.x; j < dim; j += blockDim.x) out[i * dim + j] = s[j];
}

// One thread per (row, 32-value block) of a quantized table.
__global__ void QuantEmbeddingKernel(WeightFormat f, const uint8_t* __restrict__ table, int64_t dim,
                                     const int32_t* __restrict__ ids, int64_t n,
                                     bf16* __restrict__ out) {
  const int64_t nb = dim / kQuantBlock;
  const int64_t idx = int64_t{blockIdx.x} * blockDim.x + threadIdx.x;
  if (idx >= n * nb) return;
  const int64_t i = idx / nb, b = idx % nb;
  float v[32];
  DecodeQuantBlock(f, table + (int64_t{ids[i]} * nb + b) * QuantBlockBytes(f), v);
  bf16* o = out + i * dim + b * kQuantBlock;
#pragma unroll
  for (int j = 0; j < 32; ++j) o[j] = __float2bfloat16(v[j]);
}

__global__ void AddBiasKernel(void* out, bool out_f32, const bf16* __restrict__ bias, int64_t m,
                              int64_t n) {
  const int64_t idx = int64_t{blockIdx.x} * blockDim.x + threadIdx.x;
  if (idx >= m * n) return;
  const float b = __bfloat162float(bias[idx % n]);
  if (out_f32) {
    static_cast<float*>(out)[idx] += b;
  } else {
    bf16* o = static_cast<bf16*>(out) + idx;
    *o = __float2bfloat16(__bfloat162float(*o) + b);
  }
}

}  // namespace

Status Embedding(cudaStream_t stream, WeightRef table, int64_t vocab, int64_t dim,
                 const int32_t* ids, int64_t n, bf16* out) {
  if (n <= 0) return Status::Ok();
  if (table.format == WeightFormat::kDense) {
    GatherKernel<<<static_cast<unsigned>(n), 256, 0, stream>>>(static_cast<const bf16*>(table.data),
                                                               dim, ids, out);
  } else {
    if (dim % kQuantBlock != 0)
      return InvalidArgument("Embedding: quantized dim must be a multiple of 32");
    const int64_t items = n * (dim / kQuantBlock);
    QuantEmbeddingKernel<<<GridFor(items, 128), 128, 0, stream>>>(
        table.format, static_cast<const uint8_t*>(table.data), dim, ids, n, out);
  }
  SJ_CUDA_RETURN_IF_LAUNCH_FAILED();
  return Status::Ok();
}

Status RmsNorm(cudaStream_t stream, const bf16* x, const bf16* weight, int64_t rows, int64_t dim,
               float eps, bf16* out) {
  if (dim <= 0) return InvalidArgument("RmsNorm: dim must be positive");
  if (rows <= 0) return Status::Ok();
  return LaunchRmsNorm(stream, x, nullptr, weight, rows, dim, eps, out);
}

Status AddRmsNorm(cudaStream_t stream, bf16* residual, const bf16* x, const bf16* weight,
                  int64_t rows, int64_t dim, float eps, bf16* out) {
  if (dim <= 0) return InvalidArgument("AddRmsNorm: dim must be positive");
  if (rows <= 0) return Status::Ok();
  return LaunchRmsNorm(stream, x, residual, weight, rows, dim, eps, out);
}

Status Rope(cudaStream_t stream, bf16* q, int64_t q_stride, int32_t num_q_heads, bf16* k,
            int64_t k_stride, int32_t num_kv_heads, int32_t head_dim, const int32_t* positions,
            int64_t tokens, const float* inv_freq, bool neox) {
  if (head_dim % 2 != 0) return InvalidArgument("Rope: head_dim must be even");
  const int64_t items = tokens * (num_q_heads + num_kv_heads) * (head_dim / 2);
  if (items <= 0) return Status::Ok();
  RopeKernel<<<GridFor(items, 256), 256, 0, stream>>>(q, q_stride, num_q_heads, k, k_stride,
                                                      num_kv_heads, head_dim, positions, tokens,
                                                      inv_freq, neox);
  SJ_CUDA_RETURN_IF_LAUNCH_FAILED();
  return Status::Ok();
}

Status KvAppend(cudaStream_t stream, const bf16* k, int64_t k_stride, const bf16* v,
                int64_t v_stride, const int32_t* slots, int64_t tokens, const KvLayout& layout,
                bf16* k_pool, bf16* v_pool) {
  if (tokens <= 0) return Status::Ok();
  KvAppendKernel<<<static_cast<unsigned>(tokens), 128, 0, stream>>>(
      k, k_stride, v, v_stride, slots, layout.token_elems(), k_pool, v_pool);
  SJ_CUDA_RETURN_IF_LAUNCH_FAILED();
  return Status::Ok();
}

Status SiluMul(cudaStream_t stream, const bf16* gate_up, int64_t rows, int64_t ffn, bf16* out) {
  if (rows * ffn <= 0) return Status::Ok();
  SiluMulKernel<<<GridFor(rows * ffn, 256), 256, 0, stream>>>(gate_up, rows, ffn, out);
  SJ_CUDA_RETURN_IF_LAUNCH_FAILED();
  return Status::Ok();
}

Status GatherRows(cudaStream_t stream, const bf16* x, int64_t dim, const int32_t* rows, int64_t n,
                  bf16* out) {
  if (n <= 0) return Status::Ok();
  GatherKernel<<<static_cast<unsigned>(n), 256, 0, stream>>>(x, dim, rows, out);
  SJ_CUDA_RETURN_IF_LAUNCH_FAILED();
  return Status::Ok();
}

Status AddBias(cudaStream_t stream, void* out, bool out_f32, const bf16* bias, int64_t m,
               int64_t n) {
  if (m * n <= 0) return Status::Ok();
  AddBiasKernel<<<GridFor(m * n, 256), 256, 0, stream>>>(out, out_f32, bias, m, n);
  SJ_CUDA_RETURN_IF_LAUNCH_FAILED();
  return Status::Ok();
}

}  // namespace skipjoin::kernels::cuda
