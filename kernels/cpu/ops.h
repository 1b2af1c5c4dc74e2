// CPU kernels: the reference and fast host implementations of every op of the
// backend-neutral API (kernels/backend.h). The CUDA backend has a twin of each
// with the same parameters plus a stream; tests compare the two.
//
// All activations are float32, row-major. Every entry point takes the pool that
// runs it (the CPU "stream"), raw pointers, and sizes; it returns a Status for
// bad sizes and never reads or writes outside the extents documented here.
// Thread-safety: an op may run concurrently with ops on other pools only when
// their outputs do not alias.
#pragma once

#include <cstdint>

#include "common/status.h"
#include "kernels/cpu/thread_pool.h"
#include "kernels/paged_kv.h"
#include "kernels/weight.h"

namespace skipjoin::kernels::cpu {

// out[i, :] = table[ids[i], :]; table is [vocab, dim]. InvalidArgument naming
// the position when an id is outside [0, vocab).
Status Embedding(ThreadPool* pool, const float* table, int64_t vocab, int64_t dim,
                 const int32_t* ids, int64_t n, float* out);

// out[r, :] = x[r, :] * rsqrt(mean(x[r, :]^2) + eps) * weight[:]; x, out [rows, dim].
Status RmsNorm(ThreadPool* pool, const float* x, const float* weight, int64_t rows, int64_t dim,
               float eps, float* out);

// residual += x, then out = RmsNorm(residual). residual, x, out are [rows, dim].
Status AddRmsNorm(ThreadPool* pool, float* residual, const float* x, const float* weight,
                  int64_t rows, int64_t dim, float eps, float* out);

// out[m, n] = sum_k x[m, k] * w[n, k] (+ bias[n]). x [m, k], w [n, k] (the
// {out, in} layout of a linear weight), bias [n] or null, out [m, n].
Status Linear(ThreadPool* pool, const float* x, const float* w, const float* bias, int64_t m,
              int64_t n, int64_t k, float* out);

// Linear over a weight in any WeightFormat (dense float32 or quantized blocks;
// k a multiple of kQuantBlock for quantized ones). Same contract as Linear.
Status LinearQuantized(ThreadPool* pool, const float* x, WeightRef w, const float* bias, int64_t m,
                       int64_t n, int64_t k, float* out);

// Embedding rows from a table in any WeightFormat.
Status EmbeddingQuantized(ThreadPool* pool, WeightRef table, int64_t vocab, int64_t dim,
                          const int32_t* ids, int64_t n, float* out);

// Decodes rows x k elements of a quantized weight into float32 (reference and tests).
void DequantizeWeightRows(WeightFormat f, const void* w, int64_t rows, int64_t k, float* out);

// Rotary embedding in place on q [tokens, q_stride] (num_q_heads heads of
// head_dim from column 0) and k [tokens, k_stride] (num_kv_heads heads).
// inv_freq [head_dim / 2]: angle of pair i at position p is p * inv_freq[i].
// neox=false rotates adjacent pairs (2i, 2i+1); neox=true rotates (i, i + d/2).
Status Rope(ThreadPool* pool, float* q, int64_t q_stride, int32_t num_q_heads, float* k,
            int64_t k_stride, int32_t num_kv_heads, int32_t head_dim, const int32_t* positions,
            int64_t tokens, const float* inv_freq, bool neox);

// Writes token t's K and V (k [tokens, k_stride], v [tokens, v_stride], each row
// num_kv_heads * head_dim from column 0) into slot slots[t] of the pools
// (slot = block * block_size + offset). A slot < 0 is skipped (padding).
Status KvAppend(ThreadPool* pool, const float* k, int64_t k_stride, const float* v,
                int64_t v_stride, const int32_t* slots, int64_t tokens, const KvLayout& layout,
                float* k_pool, float* v_pool);

// Attention of a mixed batch over the paged cache (see AttentionBatch): q is
// [T, q_stride] with num_q_heads heads from column 0; out is [T, num_q_heads *
// head_dim]. GQA: q head h reads kv head h / (num_q_heads / num_kv_heads).
// scale multiplies q.k (usually 1/sqrt(head_dim)).
Status PagedAttention(ThreadPool* pool, const float* q, int64_t q_stride, int32_t num_q_heads,
                      const float* k_pool, const float* v_pool, const KvLayout& layout,
                      const AttentionBatch& batch, float scale, float* out);

// out[r, i] = silu(gate_up[r, i]) * gate_up[r, ffn + i]; gate_up [rows, 2 * ffn],
// out [rows, ffn].
Status SiluMul(ThreadPool* pool, const float* gate_up, int64_t rows, int64_t ffn, float* out);

// out[i, :] = x[rows[i], :] for i < n; x [*, dim]. Rows are not range-checked
// beyond being >= 0 and < x_rows.
Status GatherRows(ThreadPool* pool, const float* x, int64_t x_rows, int64_t dim,
                  const int32_t* rows, int64_t n, float* out);

// Copies whole blocks between two pools of the same layout (swap out: device to
// host; swap in: host to device; on CPU both are host memory).
// dst_pool[dst[i]] = src_pool[src[i]] for i < n.
Status CopyBlocks(ThreadPool* pool, const float* src_pool, int32_t src_num_blocks,
                  float* dst_pool, int32_t dst_num_blocks, const int32_t* src, const int32_t* dst,
                  int64_t n, int64_t block_elems);

}  // namespace skipjoin::kernels::cpu
