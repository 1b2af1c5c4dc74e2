// Paged attention for a mixed batch (prefill chunks and decodes) in one
// launch: the CUDA twin of kernels/cpu/attention.cc.
//
// Grid (query row, q head, key split); 4 warps per block. Each warp walks the
// split's keys (key p, p + 4, ...): the 32 lanes hold the q head as bf16 pairs
// (head_dim <= 256, so <= 4 pairs per lane), reduce q.k with shuffles, and keep
// an online softmax (running max m, sum l, unnormalized accumulator) in base 2.
// The warps then merge through shared memory. With one split the block writes
// the normalized bf16 output; with several (flash-decoding, for few rows over
// long contexts) it writes (m, l, acc) to float32 scratch and MergeSplitsKernel
// combines them. This is the straightforward correct kernel: it does not yet
// share K/V loads across the q heads of a GQA group nor use tensor cores.
#include <cuda_bf16.h>

#include <cmath>
#include <string>

#include "kernels/cuda/cuda_check.h"
#include "kernels/cuda/ops.h"

namespace skipjoin::kernels::cuda {
namespace {

constexpr int kWarps = 4;
constexpr int kMaxPairsPerLane = kMaxHeadDim / 64;
constexpr float kLog2e = 1.4426950408889634f;

struct AttnParams {
  const bf16* q;
  int64_t q_stride;
  int32_t num_q_heads;
  const bf16* k_pool;
  const bf16* v_pool;
  int32_t block_size, num_kv_heads, head_dim;
  const int32_t* query_start;
  const int32_t* context_lens;
  const int32_t* block_tables;
  int32_t max_blocks_per_seq;
  const int32_t* token_seq;
  float scale_log2;   // scale * log2(e): scores live in base 2
  int32_t partition;  // keys per split
  float* scratch;     // [tokens, heads, splits, head_dim + 2] when splits > 1
  bf16* out;          // [tokens, num_q_heads * head_dim]
};

__global__ void __launch_bounds__(kWarps * 32) PagedAttentionKernel(AttnParams p) {
  const int32_t t = blockIdx.x, h = blockIdx.y, split = blockIdx.z, splits = gridDim.z;
  const int lane = threadIdx.x & 31, warp = threadIdx.x >> 5;
  const int32_t hd = p.head_dim, pairs = hd / 2;
  const int32_t s = p.token_seq[t];
  const int32_t q0 = p.query_start[s];
  const int32_t n_s = p.query_start[s + 1] - q0;
  const int32_t len = p.context_lens[s] - n_s + (t - q0) + 1;  // keys visible to this query
  const int32_t k_begin = split * p.partition;
  const int32_t k_end = min(len, k_begin + p.partition);
  const int32_t g = h / (p.num_q_heads / p.num_kv_heads);
  const int64_t token_elems = int64_t{p.num_kv_heads} * hd;
  const int32_t* table = p.block_tables + int64_t{s} * p.max_blocks_per_seq;

  float2 qv[kMaxPairsPerLane], acc[kMaxPairsPerLane];
  const __nv_bfloat162* qrow =
      reinterpret_cast<const __nv_bfloat162*>(p.q + int64_t{t} * p.q_stride + int64_t{h} * hd);
#pragma unroll
  for (int i = 0; i < kMaxPairsPerLane; ++i) {
    const int32_t pi = lane + 32 * i;
    qv[i] = pi < pairs ? __bfloat1622float2(qrow[pi]) : make_float2(0.f, 0.f);
    qv[i].x *= p.scale_log2;
    qv[i].y *= p.scale_log2;
    acc[i] = make_float2(0.f, 0.f);
  }
  float m = -INFINITY, l = 0.f;
  for (int32_t key = k_begin + warp; key < k_end; key += kWarps) {
    const int64_t row =
        (int64_t{table[key / p.block_size]} * p.block_size + key % p.block_size) * token_elems +
        int64_t{g} * hd;
    const __nv_bfloat162* krow = reinterpret_cast<const __nv_bfloat162*>(p.k_pool + row);
    float dot = 0.f;
#pragma unroll
    for (int i = 0; i < kMaxPairsPerLane; ++i) {
      const int32_t pi = lane + 32 * i;
      if (pi < pairs) {
        const float2 kf = __bfloat1622float2(krow[pi]);
        dot += qv[i].x * kf.x + qv[i].y * kf.y;
      }
    }
#pragma unroll
    for (int o = 16; o > 0; o >>= 1) dot += __shfl_xor_sync(0xffffffffu, dot, o);
    const float m_new = fmaxf(m, dot);
    const float corr = exp2f(m - m_new);  // 0 on the first key (m = -inf)
    const float w = exp2f(dot - m_new);
    l = l * corr + w;
    const __nv_bfloat162* vrow = reinterpret_cast<const __nv_bfloat162*>(p.v_pool + row);
#pragma unroll
    for (int i = 0; i < kMaxPairsPerLane; ++i) {
      const int32_t pi = lane + 32 * i;
      if (pi < pairs) {
        const float2 vf = __bfloat1622float2(vrow[pi]);
        acc[i].x = acc[i].x * corr + w * vf.x;
        acc[i].y = acc[i].y * corr + w * vf.y;
      }
    }
    m = m_new;
  }

  // Merge the warps: rescale each to the block max.
  __shared__ float sm_m[kWarps], sm_l[kWarps];
  __shared__ float sm_acc[kWarps][kMaxHeadDim];
  if (lane == 0) {
    sm_m[warp] = m;
    sm_l[warp] = l;
  }
#pragma unroll
  for (int i = 0; i < kMaxPairsPerLane; ++i) {
    const int32_t pi = lane + 32 * i;
    if (pi < pairs) {
      sm_acc[warp][2 * pi] = acc[i].x;
      sm_acc[warp][2 * pi + 1] = acc[i].y;
    }
  }
  __syncthreads();
  float block_m = -INFINITY;
  for (int w = 0; w < kWarps; ++w) block_m = fmaxf(block_m, sm_m[w]);
  float factor[kWarps];
  float block_l = 0.f;
  for (int w = 0; w < kWarps; ++w) {
    factor[w] = block_m == -INFINITY ? 0.f : exp2f(sm_m[w] - block_m);
    block_l += sm_l[w] * factor[w];
  }
  const int64_t head_row = int64_t{t} * p.num_q_heads + h;  // (token, head) index
  if (splits == 1) {
    const float inv = block_l > 0.f ? 1.f / block_l : 0.f;
    bf16* o = p.out + head_row * hd;
    for (int32_t d = threadIdx.x; d < hd; d += blockDim.x) {
      float v = 0.f;
      for (int w = 0; w < kWarps; ++w) v += sm_acc[w][d] * factor[w];
      o[d] = __float2bfloat16(v * inv);
    }
  } else {
    float* part = p.scratch + (head_row * splits + split) * (hd + 2);
    for (int32_t d = threadIdx.x; d < hd; d += blockDim.x) {
      float v = 0.f;
      for (int w = 0; w < kWarps; ++w) v += sm_acc[w][d] * factor[w];
      part[d] = v;
    }
    if (threadIdx.x == 0) {
      part[hd] = block_m;  // -inf for a split past this query's keys
      part[hd + 1] = block_l;
    }
  }
}

// One block per (query row, q head): out = sum_i acc_i 2^(m_i - M) / sum_i l_i 2^(m_i - M).
__global__ void MergeSplitsKernel(const float* __restrict__ scratch, int32_t splits, int32_t hd,
                                  bf16* __restrict__ out) {
  const int64_t head_row = blockIdx.x;
  const float* parts = scratch + head_row * splits * (hd + 2);
  float big_m = -INFINITY;
  for (int32_t i = 0; i < splits; ++i) big_m = fmaxf(big_m, parts[i * (hd + 2) + hd]);
  float big_l = 0.f;
  for (int32_t i = 0; i < splits; ++i) {
    const float mi = parts[i * (hd + 2) + hd];
    if (mi != -INFINITY) big_l += parts[i * (hd + 2) + hd + 1] * exp2f(mi - big_m);
  }
  const float inv = big_l > 0.f ? 1.f / big_l : 0.f;
  for (int32_t d = threadIdx.x; d < hd; d += blockDim.x) {
    float v = 0.f;
    for (int32_t i = 0; i < splits; ++i) {
      const float mi = parts[i * (hd + 2) + hd];
      if (mi != -INFINITY) v += parts[i * (hd + 2) + d] * exp2f(mi - big_m);
    }
    out[head_row * hd + d] = __float2bfloat16(v * inv);
  }
}

}  // namespace

int64_t PagedAttentionScratchFloats(int64_t tokens, int32_t num_q_heads, int32_t head_dim,
                                    int32_t num_splits) {
  return num_splits <= 1 ? 0 : tokens * num_q_heads * num_splits * (int64_t{head_dim} + 2);
}

Status PagedAttention(cudaStream_t stream, const bf16* q, int64_t q_stride, int32_t num_q_heads,
                      const bf16* k_pool, const bf16* v_pool, const KvLayout& layout,
                      const AttentionBatch& batch, const int32_t* token_seq, int64_t tokens,
                      float scale, int32_t num_splits, float* scratch, bf16* out) {
  const int32_t hd = layout.head_dim;
  if (layout.num_kv_heads <= 0 || num_q_heads % layout.num_kv_heads != 0) {
    return InvalidArgument("PagedAttention: q heads " + std::to_string(num_q_heads) +
                           " not a multiple of kv heads " + std::to_string(layout.num_kv_heads));
  }
  if (hd <= 0 || hd % 2 != 0 || hd > kMaxHeadDim) {
    return Unimplemented("PagedAttention (cuda): head_dim " + std::to_string(hd) +
                         " must be even and at most " + std::to_string(kMaxHeadDim));
  }
  // bf16x2 loads need 4-byte aligned rows: even strides and even offsets.
  if (q_stride % 2 != 0 || (reinterpret_cast<uintptr_t>(q) & 3) != 0) {
    return InvalidArgument("PagedAttention (cuda): q must be 4-byte aligned with an even stride");
  }
  if (tokens <= 0) return Status::Ok();
  if (num_splits < 1) num_splits = 1;
  if (num_splits > 1 && scratch == nullptr)
    return InvalidArgument("PagedAttention: split-K needs scratch");
  AttnParams p;
  p.q = q;
  p.q_stride = q_stride;
  p.num_q_heads = num_q_heads;
  p.k_pool = k_pool;
  p.v_pool = v_pool;
  p.block_size = layout.block_size;
  p.num_kv_heads = layout.num_kv_heads;
  p.head_dim = hd;
  p.query_start = batch.query_start;
  p.context_lens = batch.context_lens;
  p.block_tables = batch.block_tables;
  p.max_blocks_per_seq = batch.max_blocks_per_seq;
  p.token_seq = token_seq;
  p.scale_log2 = scale * kLog2e;
  p.partition = (batch.max_context_len + num_splits - 1) / num_splits;
  if (p.partition < 1) p.partition = 1;
  p.scratch = scratch;
  p.out = out;
  const dim3 grid(static_cast<unsigned>(tokens), static_cast<unsigned>(num_q_heads),
                  static_cast<unsigned>(num_splits));
  PagedAttentionKernel<<<grid, kWarps * 32, 0, stream>>>(p);
  SJ_CUDA_RETURN_IF_LAUNCH_FAILED();
  if (num_splits > 1) {
    MergeSplitsKernel<<<static_cast<unsigned>(tokens * num_q_heads), 128, 0, stream>>>(
        scratch, num_splits, hd, out);
    SJ_CUDA_RETURN_IF_LAUNCH_FAILED();
  }
  return Status::Ok();
}

}  // namespace skipjoin::kernels::cuda
