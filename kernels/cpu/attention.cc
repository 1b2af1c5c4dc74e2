// Paged attention for a mixed batch (prefill chunks and decodes) on the CPU.
// One work item is (query token, kv head): the q heads of that GQA group share
// every K and V row they load.
#include <algorithm>
#include <cmath>
#include <string>
#include <vector>

#include "kernels/cpu/ops.h"

namespace skipjoin::kernels::cpu {
namespace {

// q . k over hd floats. Sixteen independent partial sums: the compiler turns
// the lane loop into vector FMAs without reassociating one serial sum (which
// it may not do without -ffast-math), so the result does not depend on the
// instruction set.
inline float Dot(const float* q, const float* k, int32_t hd) {
  constexpr int32_t kLanes = 16;
  float part[kLanes] = {};
  int32_t d = 0;
  for (; d + kLanes <= hd; d += kLanes) {
    for (int32_t l = 0; l < kLanes; ++l) part[l] += q[d + l] * k[d + l];
  }
  for (; d < hd; ++d) part[d % kLanes] += q[d] * k[d];
  float sum = 0.f;
  for (int32_t l = 0; l < kLanes; ++l) sum += part[l];
  return sum;
}

}  // namespace

Status PagedAttention(ThreadPool* pool, const float* q, int64_t q_stride, int32_t num_q_heads,
                      const float* k_pool, const float* v_pool, const KvLayout& layout,
                      const AttentionBatch& batch, float scale, float* out) {
  const int32_t kvh = layout.num_kv_heads;
  const int32_t hd = layout.head_dim;
  const int32_t bs = layout.block_size;
  if (kvh <= 0 || num_q_heads % kvh != 0) {
    return InvalidArgument("PagedAttention: q heads " + std::to_string(num_q_heads) +
                           " not a multiple of kv heads " + std::to_string(kvh));
  }
  const int32_t group = num_q_heads / kvh;
  const int32_t total = batch.query_start[batch.num_seqs];
  std::vector<int32_t> token_seq;
  SJ_RETURN_IF_ERROR(ValidateAttentionBatch(layout, batch, &token_seq));

  const int64_t token_elems = layout.token_elems();
  const int64_t out_stride = int64_t{num_q_heads} * hd;
  pool->ParallelFor(int64_t{total} * kvh, 1, [&](int64_t begin, int64_t end) {
    std::vector<float> scores;
    std::vector<float> acc(size_t(group) * hd);
    for (int64_t item = begin; item < end; ++item) {
      const int32_t t = static_cast<int32_t>(item / kvh);
      const int32_t g = static_cast<int32_t>(item % kvh);
      const int32_t s = token_seq[t];
      const int32_t n_s = batch.query_start[s + 1] - batch.query_start[s];
      const int32_t j = t - batch.query_start[s];
      const int32_t len = batch.context_lens[s] - n_s + j + 1;  // keys visible to this query
      const int32_t* table = batch.block_tables + int64_t{s} * batch.max_blocks_per_seq;
      scores.resize(size_t(group) * len);
      const float* qg = q + int64_t{t} * q_stride + int64_t{g} * group * hd;
      // Scores, per q head of the group.
      for (int32_t p = 0; p < len; ++p) {
        const float* krow = k_pool + (int64_t{table[p / bs]} * bs + p % bs) * token_elems + int64_t{g} * hd;
        for (int32_t h = 0; h < group; ++h) {
          scores[size_t(h) * len + p] = Dot(qg + int64_t{h} * hd, krow, hd) * scale;
        }
      }
      // Softmax per head.
      for (int32_t h = 0; h < group; ++h) {
        float* sc = scores.data() + size_t(h) * len;
        float mx = sc[0];
        for (int32_t p = 1; p < len; ++p) mx = std::max(mx, sc[p]);
        double sum = 0.0;
        for (int32_t p = 0; p < len; ++p) {
          sc[p] = std::exp(sc[p] - mx);
          sum += sc[p];
        }
        const float inv = static_cast<float>(1.0 / sum);
        for (int32_t p = 0; p < len; ++p) sc[p] *= inv;
      }
      // Weighted sum of V.
      std::fill(acc.begin(), acc.end(), 0.f);
      for (int32_t p = 0; p < len; ++p) {
        const float* vrow = v_pool + (int64_t{table[p / bs]} * bs + p % bs) * token_elems + int64_t{g} * hd;
        for (int32_t h = 0; h < group; ++h) {
          const float w = scores[size_t(h) * len + p];
          float* a = acc.data() + size_t(h) * hd;
          for (int32_t d = 0; d < hd; ++d) a[d] += w * vrow[d];
        }
      }
      float* o = out + int64_t{t} * out_stride + int64_t{g} * group * hd;
      std::copy(acc.begin(), acc.end(), o);
    }
  });
  return Status::Ok();
}

}  // namespace skipjoin::kernels::cpu
