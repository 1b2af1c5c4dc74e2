// Shapes shared by every backend's paged-KV kernels. Plain structs of sizes and
// pointers; the pointers live in the memory of the backend that runs the op
// (host memory for the CPU backend, device memory for CUDA).
#pragma once

#include <cstdint>
#include <vector>

#include "common/status.h"

namespace skipjoin::kernels {

// One KV pool (K or V of one layer) is [num_blocks, block_size, num_kv_heads, head_dim],
// contiguous, in the activation dtype. The host swap pool has the same layout.
struct KvLayout {
  int32_t num_blocks = 0;
  int32_t block_size = 16;  // tokens per block
  int32_t num_kv_heads = 0;
  int32_t head_dim = 0;
  int64_t block_elems() const { return int64_t{block_size} * num_kv_heads * head_dim; }
  int64_t token_elems() const { return int64_t{num_kv_heads} * head_dim; }
};

// The sequences of one step, in query order. Sequence s owns query rows
// [query_start[s], query_start[s+1]) of the step's T tokens. Its queries sit at
// positions context_lens[s] - n_s ... context_lens[s] - 1 (n_s its query count):
// a prefill chunk or a decode, after the step's KV append. Query j of s attends to
// cache positions [0, context_lens[s] - n_s + j] (causal over cache + chunk).
struct AttentionBatch {
  int32_t num_seqs = 0;
  const int32_t* query_start = nullptr;   // [num_seqs + 1]
  const int32_t* context_lens = nullptr;  // [num_seqs]
  const int32_t* block_tables = nullptr;  // [num_seqs, max_blocks_per_seq], block ids
  int32_t max_blocks_per_seq = 0;
  int32_t max_query_len = 0;    // max over s of query count (kernel launch sizing)
  int32_t max_context_len = 0;  // max over s of context_lens[s]
};

// Checks a batch against the pool before any kernel touches memory: query
// ranges ordered and within the context, every block a sequence reads inside
// the pool, query_start covering rows [0, total). Fills token_seq[row] with the
// row's sequence. Every backend calls it, so all report the same errors.
Status ValidateAttentionBatch(const KvLayout& layout, const AttentionBatch& batch,
                              std::vector<int32_t>* token_seq);

}  // namespace skipjoin::kernels
