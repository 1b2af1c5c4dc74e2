// Element-wise, normalization, rotary, embedding and copy kernels for the CPU
// backend. Linear lives in linear.cc, attention in attention.cc.
#include <algorithm>
#include <cmath>
#include <cstring>
#include <string>
#include <vector>

#include "kernels/cpu/ops.h"

namespace skipjoin::kernels::cpu {
namespace {

// Rows per ParallelFor chunk for row-wise ops: enough work to beat the wake-up.
int64_t RowGrain(int64_t dim) { return std::max<int64_t>(1, 16384 / std::max<int64_t>(dim, 1)); }

inline void NormRow(const float* x, const float* w, int64_t dim, float eps, float* out) {
  double ss = 0.0;
  for (int64_t i = 0; i < dim; ++i) ss += double{x[i]} * x[i];
  const float inv = static_cast<float>(1.0 / std::sqrt(ss / static_cast<double>(dim) + eps));
  for (int64_t i = 0; i < dim; ++i) out[i] = x[i] * inv * w[i];
}

}  // namespace

Status Embedding(ThreadPool* pool, const float* table, int64_t vocab, int64_t dim,
                 const int32_t* ids, int64_t n, float* out) {
  for (int64_t i = 0; i < n; ++i) {
    if (ids[i] < 0 || ids[i] >= vocab) {
      return InvalidArgument("token id " + std::to_string(ids[i]) + " at position " +
                             std::to_string(i) + " is outside the vocabulary [0, " +
                             std::to_string(vocab) + ")");
    }
  }
  pool->ParallelFor(n, RowGrain(dim), [&](int64_t b, int64_t e) {
    for (int64_t i = b; i < e; ++i) {
      std::memcpy(out + i * dim, table + int64_t{ids[i]} * dim, sizeof(float) * dim);
    }
  });
  return Status::Ok();
}

Status RmsNorm(ThreadPool* pool, const float* x, const float* weight, int64_t rows, int64_t dim,
               float eps, float* out) {
  if (dim <= 0) return InvalidArgument("RmsNorm: dim must be positive");
  pool->ParallelFor(rows, RowGrain(dim), [&](int64_t b, int64_t e) {
    for (int64_t r = b; r < e; ++r) NormRow(x + r * dim, weight, dim, eps, out + r * dim);
  });
  return Status::Ok();
}

Status AddRmsNorm(ThreadPool* pool, float* residual, const float* x, const float* weight,
                  int64_t rows, int64_t dim, float eps, float* out) {
  if (dim <= 0) return InvalidArgument("AddRmsNorm: dim must be positive");
  pool->ParallelFor(rows, RowGrain(dim), [&](int64_t b, int64_t e) {
    for (int64_t r = b; r < e; ++r) {
      float* res = residual + r * dim;
      const float* xr = x + r * dim;
      for (int64_t i = 0; i < dim; ++i) res[i] += xr[i];
      NormRow(res, weight, dim, eps, out + r * dim);
    }
  });
  return Status::Ok();
}

Status Rope(ThreadPool* pool, float* q, int64_t q_stride, int32_t num_q_heads, float* k,
            int64_t k_stride, int32_t num_kv_heads, int32_t head_dim, const int32_t* positions,
            int64_t tokens, const float* inv_freq, bool neox) {
  if (head_dim % 2 != 0) return InvalidArgument("Rope: head_dim must be even");
  const int32_t half = head_dim / 2;
  pool->ParallelFor(tokens, 4, [&](int64_t b, int64_t e) {
    std::vector<float> cs(head_dim);
    for (int64_t t = b; t < e; ++t) {
      const double pos = positions[t];
      for (int32_t i = 0; i < half; ++i) {
        const double angle = pos * double{inv_freq[i]};
        cs[2 * i] = static_cast<float>(std::cos(angle));
        cs[2 * i + 1] = static_cast<float>(std::sin(angle));
      }
      auto rotate = [&](float* head) {
        for (int32_t i = 0; i < half; ++i) {
          const int32_t a = neox ? i : 2 * i;
          const int32_t c = neox ? i + half : 2 * i + 1;
          const float x0 = head[a], x1 = head[c];
          head[a] = x0 * cs[2 * i] - x1 * cs[2 * i + 1];
          head[c] = x0 * cs[2 * i + 1] + x1 * cs[2 * i];
        }
      };
      for (int32_t h = 0; h < num_q_heads; ++h) rotate(q + t * q_stride + int64_t{h} * head_dim);
      for (int32_t h = 0; h < num_kv_heads; ++h) rotate(k + t * k_stride + int64_t{h} * head_dim);
    }
  });
  return Status::Ok();
}

Status KvAppend(ThreadPool* pool, const float* k, int64_t k_stride, const float* v,
                int64_t v_stride, const int32_t* slots, int64_t tokens, const KvLayout& layout,
                float* k_pool, float* v_pool) {
  const int64_t num_slots = int64_t{layout.num_blocks} * layout.block_size;
  const int64_t width = layout.token_elems();
  for (int64_t t = 0; t < tokens; ++t) {
    if (slots[t] >= num_slots) {
      return InvalidArgument("KvAppend: slot " + std::to_string(slots[t]) + " of token " +
                             std::to_string(t) + " is outside the pool of " +
                             std::to_string(num_slots) + " slots");
    }
  }
  pool->ParallelFor(tokens, RowGrain(width), [&](int64_t b, int64_t e) {
    for (int64_t t = b; t < e; ++t) {
      if (slots[t] < 0) continue;
      std::memcpy(k_pool + int64_t{slots[t]} * width, k + t * k_stride, sizeof(float) * width);
      std::memcpy(v_pool + int64_t{slots[t]} * width, v + t * v_stride, sizeof(float) * width);
    }
  });
  return Status::Ok();
}

Status SiluMul(ThreadPool* pool, const float* gate_up, int64_t rows, int64_t ffn, float* out) {
  pool->ParallelFor(rows, RowGrain(ffn), [&](int64_t b, int64_t e) {
    for (int64_t r = b; r < e; ++r) {
      const float* g = gate_up + r * 2 * ffn;
      const float* u = g + ffn;
      float* o = out + r * ffn;
      for (int64_t i = 0; i < ffn; ++i) o[i] = g[i] / (1.0f + std::exp(-g[i])) * u[i];
    }
  });
  return Status::Ok();
}

Status GatherRows(ThreadPool* pool, const float* x, int64_t x_rows, int64_t dim,
                  const int32_t* rows, int64_t n, float* out) {
  for (int64_t i = 0; i < n; ++i) {
    if (rows[i] < 0 || rows[i] >= x_rows) {
      return InvalidArgument("GatherRows: row " + std::to_string(rows[i]) + " outside [0, " +
                             std::to_string(x_rows) + ")");
    }
  }
  for (int64_t i = 0; i < n; ++i) std::memcpy(out + i * dim, x + int64_t{rows[i]} * dim, sizeof(float) * dim);
  return Status::Ok();
}

Status CopyBlocks(ThreadPool* pool, const float* src_pool, int32_t src_num_blocks,
                  float* dst_pool, int32_t dst_num_blocks, const int32_t* src, const int32_t* dst,
                  int64_t n, int64_t block_elems) {
  for (int64_t i = 0; i < n; ++i) {
    if (src[i] < 0 || src[i] >= src_num_blocks || dst[i] < 0 || dst[i] >= dst_num_blocks) {
      return InvalidArgument("CopyBlocks: pair " + std::to_string(i) + " (" + std::to_string(src[i]) +
                             " -> " + std::to_string(dst[i]) + ") is outside the pools (" +
                             std::to_string(src_num_blocks) + ", " + std::to_string(dst_num_blocks) +
                             " blocks)");
    }
  }
  pool->ParallelFor(n, 1, [&](int64_t b, int64_t e) {
    for (int64_t i = b; i < e; ++i) {
      std::memcpy(dst_pool + int64_t{dst[i]} * block_elems, src_pool + int64_t{src[i]} * block_elems,
                  sizeof(float) * block_elems);
    }
  });
  return Status::Ok();
}

}  // namespace skipjoin::kernels::cpu
