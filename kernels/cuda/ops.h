// CUDA kernels: the device twins of kernels/cpu/ops.h. Each entry point takes
// the stream it runs on first (where the CPU twin takes its ThreadPool), then
// the same parameters as its twin, and returns a Status (a bad size, or a
// failed launch). Differences from the CPU twins, all deliberate:
//   - activations are bfloat16 (accumulation is float32 everywhere);
//   - every pointer is device memory, index arrays included (CudaBackend
//     stages the host index arrays of the Backend API; the range checks that
//     need the index values happen there, on the host, before the launch);
//   - PagedAttention takes the per-token sequence map and a split-K scratch.
// Launches are asynchronous: a Status of Ok means "queued", not "finished".
// Thread-safety: functions of no state; callers own the streams.
#pragma once

#include <cuda_bf16.h>
#include <cuda_runtime_api.h>

#include <cstdint>

#include "common/status.h"
#include "kernels/paged_kv.h"
#include "kernels/weight.h"

namespace skipjoin::kernels::cuda {

using bf16 = __nv_bfloat16;

// Largest head_dim PagedAttention handles (registers hold head_dim / 32 values per lane).
constexpr int32_t kMaxHeadDim = 256;
// Largest m QuantGemv handles (one decoded weight block is reused for m rows).
constexpr int64_t kQuantGemvMaxM = 8;

// out[i, :] = table[ids[i], :]; table [vocab, dim] dense bf16 or quantized
// blocks (dim a multiple of kQuantBlock). ids must already be in [0, vocab).
Status Embedding(cudaStream_t stream, WeightRef table, int64_t vocab, int64_t dim,
                 const int32_t* ids, int64_t n, bf16* out);

// out = x * rsqrt(mean(x^2) + eps) * weight per row; x, out [rows, dim].
Status RmsNorm(cudaStream_t stream, const bf16* x, const bf16* weight, int64_t rows, int64_t dim,
               float eps, bf16* out);

// residual += x (rounded to bf16), then out = RmsNorm(residual).
Status AddRmsNorm(cudaStream_t stream, bf16* residual, const bf16* x, const bf16* weight,
                  int64_t rows, int64_t dim, float eps, bf16* out);

// Rotary embedding in place; inv_freq [head_dim / 2] float32, positions [tokens].
Status Rope(cudaStream_t stream, bf16* q, int64_t q_stride, int32_t num_q_heads, bf16* k,
            int64_t k_stride, int32_t num_kv_heads, int32_t head_dim, const int32_t* positions,
            int64_t tokens, const float* inv_freq, bool neox);

// K/V rows into pool slots; slots [tokens], a slot < 0 is skipped; slots must
// be < layout.num_blocks * layout.block_size.
Status KvAppend(cudaStream_t stream, const bf16* k, int64_t k_stride, const bf16* v,
                int64_t v_stride, const int32_t* slots, int64_t tokens, const KvLayout& layout,
                bf16* k_pool, bf16* v_pool);

// Scratch floats PagedAttention needs for num_splits > 1 (0 for one split).
int64_t PagedAttentionScratchFloats(int64_t tokens, int32_t num_q_heads, int32_t head_dim,
                                    int32_t num_splits);

// Mixed prefill/decode attention over the paged cache, as the CPU twin.
// batch pointers are device arrays; token_seq [tokens] maps a query row to its
// sequence; tokens = query_start[num_seqs]. One block per (query row, q head,
// key split): with num_splits > 1 (flash-decoding) each split covers
// ceil(batch.max_context_len / num_splits) keys into scratch
// (PagedAttentionScratchFloats floats), and a second kernel merges the splits.
Status PagedAttention(cudaStream_t stream, const bf16* q, int64_t q_stride, int32_t num_q_heads,
                      const bf16* k_pool, const bf16* v_pool, const KvLayout& layout,
                      const AttentionBatch& batch, const int32_t* token_seq, int64_t tokens,
                      float scale, int32_t num_splits, float* scratch, bf16* out);

// out[r, i] = silu(gate_up[r, i]) * gate_up[r, ffn + i].
Status SiluMul(cudaStream_t stream, const bf16* gate_up, int64_t rows, int64_t ffn, bf16* out);

// out[i, :] = x[rows[i], :]; rows already in [0, x_rows).
Status GatherRows(cudaStream_t stream, const bf16* x, int64_t dim, const int32_t* rows, int64_t n,
                  bf16* out);

// out[r, j] += bias[j]; out [m, n] bf16 (out_f32 false) or float32 (true).
Status AddBias(cudaStream_t stream, void* out, bool out_f32, const bf16* bias, int64_t m,
               int64_t n);

// out[m, n] = x[m, k] . dequant(w)[n, k]^T (+ bias) for quantized w and
// m <= kQuantGemvMaxM, decoding each weight block once in registers.
// x must be 16-byte aligned; k a multiple of kQuantBlock. out bf16 or float32.
Status QuantGemv(cudaStream_t stream, const bf16* x, WeightRef w, const bf16* bias, int64_t m,
                 int64_t n, int64_t k, void* out, bool out_f32);

// Per row of float32 logits [rows, n]: tokens[r] = the first index of the
// row's maximum, logprobs[r] = its log-softmax value (-log sum exp(x - max)).
// A row of only -inf (or NaN) gives token 0 and a NaN logprob, as the host
// sampler's argmax and log-sum-exp do. tokens and logprobs are device arrays.
// scratch: GreedyRowsScratchBytes(rows, n) bytes of device memory. rows <= 65535.
Status GreedyRows(cudaStream_t stream, const float* logits, int64_t rows, int64_t n, void* scratch,
                  int32_t* tokens, float* logprobs);
int64_t GreedyRowsScratchBytes(int64_t rows, int64_t n);

// Decodes rows [row0, row0 + rows) of a quantized [*, k] weight into bf16 out [rows, k].
Status DequantizeRows(cudaStream_t stream, WeightFormat f, const void* w, int64_t row0,
                      int64_t rows, int64_t k, bf16* out);

}  // namespace skipjoin::kernels::cuda
