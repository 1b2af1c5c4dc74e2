// Linear and embedding over quantized weights (Q8_0, Q4_0, Q4_1 blocks kept as
// stored in the GGUF file). Small m (decode): each weight block is decoded once
// into registers and multiplied into all m activation rows (memory-bound, so
// reading 4-8x fewer bytes than float32 is the win). Larger m (prefill): rows
// of the weight are decoded into a float32 tile and multiplied with a GEMM.
#include <algorithm>
#include <cstring>
#include <string>
#include <vector>

#include "kernels/cpu/ops.h"

#if defined(__AVX2__) && defined(__FMA__) && defined(__F16C__)
#include <immintrin.h>
#define SJ_QUANT_AVX2 1
#if defined(__AVX512F__)
#define SJ_QUANT_AVX512 1
#endif
#endif

#ifdef SKIPJOIN_HAVE_CBLAS
#include <cblas.h>
#endif

namespace skipjoin::kernels::cpu {
namespace {

constexpr int64_t kSmallM = 8;   // activation rows sharing one decoded block in registers
constexpr int64_t kFusedM = 32;  // up to this many rows decode blocks per group of kSmallM;
                                 // beyond, decoding weight tiles once and a GEMM win
                                 // (~25% at 40-56 rows, docs/BENCHMARKS.md)

inline float HalfToFloat(uint16_t h) {
#ifdef SJ_QUANT_AVX2
  return _cvtsh_ss(h);
#else
  const uint32_t sign = uint32_t(h & 0x8000) << 16;
  uint32_t exp = (h >> 10) & 0x1f, man = h & 0x3ff, bits;
  if (exp == 0) {
    if (man == 0) {
      bits = sign;
    } else {  // subnormal: renormalize
      exp = 127 - 15 + 1;
      while ((man & 0x400) == 0) {
        man <<= 1;
        --exp;
      }
      bits = sign | (exp << 23) | ((man & 0x3ff) << 13);
    }
  } else if (exp == 31) {
    bits = sign | 0x7f800000 | (man << 13);
  } else {
    bits = sign | ((exp + 127 - 15) << 23) | (man << 13);
  }
  float f;
  std::memcpy(&f, &bits, 4);
  return f;
#endif
}

inline uint16_t LoadU16(const uint8_t* p) {
  uint16_t v;
  std::memcpy(&v, p, 2);
  return v;
}

int64_t BlockBytes(WeightFormat f) { return WeightRowBytes(f, kQuantBlock, 4); }

// Decodes one block of 32 values.
inline void DecodeBlock(WeightFormat f, const uint8_t* b, float* out) {
  switch (f) {
    case WeightFormat::kQ8_0: {
      const float d = HalfToFloat(LoadU16(b));
      const int8_t* q = reinterpret_cast<const int8_t*>(b + 2);
      for (int j = 0; j < 32; ++j) out[j] = d * q[j];
      break;
    }
    case WeightFormat::kQ4_0: {
      const float d = HalfToFloat(LoadU16(b));
      const uint8_t* q = b + 2;
      for (int j = 0; j < 16; ++j) {
        out[j] = d * (int(q[j] & 0x0f) - 8);
        out[j + 16] = d * (int(q[j] >> 4) - 8);
      }
      break;
    }
    case WeightFormat::kQ4_1: {
      const float d = HalfToFloat(LoadU16(b));
      const float m = HalfToFloat(LoadU16(b + 2));
      const uint8_t* q = b + 4;
      for (int j = 0; j < 16; ++j) {
        out[j] = d * (q[j] & 0x0f) + m;
        out[j + 16] = d * (q[j] >> 4) + m;
      }
      break;
    }
    case WeightFormat::kDense:
      break;
  }
}

void DecodeRows(WeightFormat f, const uint8_t* w, int64_t rows, int64_t k, float* out) {
  const int64_t bb = BlockBytes(f), nb = k / kQuantBlock;
  for (int64_t r = 0; r < rows; ++r)
    for (int64_t b = 0; b < nb; ++b) DecodeBlock(f, w + (r * nb + b) * bb, out + r * k + b * kQuantBlock);
}

#ifdef SJ_QUANT_AVX2
inline float HorizontalSum(__m256 v) {
  __m128 s = _mm_add_ps(_mm256_castps256_ps128(v), _mm256_extractf128_ps(v, 1));
  s = _mm_add_ps(s, _mm_movehl_ps(s, s));
  s = _mm_add_ss(s, _mm_movehdup_ps(s));
  return _mm_cvtss_f32(s);
}

// Decodes one block into four vectors of 8 floats, scaled by d; for Q4_1 the
// +m term is returned separately (applied through per-block sums of x).
inline void DecodeBlockAvx2(WeightFormat f, const uint8_t* b, __m256 q[4], float* m_out) {
  const float d = _cvtsh_ss(LoadU16(b));
  const __m256 vd = _mm256_set1_ps(d);
  if (f == WeightFormat::kQ8_0) {
    const uint8_t* p = b + 2;
    for (int i = 0; i < 4; ++i) {
      const __m256i v = _mm256_cvtepi8_epi32(_mm_loadl_epi64(reinterpret_cast<const __m128i*>(p + 8 * i)));
      q[i] = _mm256_mul_ps(_mm256_cvtepi32_ps(v), vd);
    }
    *m_out = 0.f;
    return;
  }
  const uint8_t* p = b + (f == WeightFormat::kQ4_1 ? 4 : 2);
  const __m128i raw = _mm_loadu_si128(reinterpret_cast<const __m128i*>(p));
  const __m128i mask = _mm_set1_epi8(0x0f);
  const __m128i lo = _mm_and_si128(raw, mask);
  const __m128i hi = _mm_and_si128(_mm_srli_epi16(raw, 4), mask);
  __m256i v[4] = {_mm256_cvtepu8_epi32(lo), _mm256_cvtepu8_epi32(_mm_srli_si128(lo, 8)),
                  _mm256_cvtepu8_epi32(hi), _mm256_cvtepu8_epi32(_mm_srli_si128(hi, 8))};
  if (f == WeightFormat::kQ4_0) {
    const __m256i eight = _mm256_set1_epi32(8);
    for (int i = 0; i < 4; ++i) q[i] = _mm256_mul_ps(_mm256_cvtepi32_ps(_mm256_sub_epi32(v[i], eight)), vd);
    *m_out = 0.f;
  } else {
    for (int i = 0; i < 4; ++i) q[i] = _mm256_mul_ps(_mm256_cvtepi32_ps(v[i]), vd);
    *m_out = _cvtsh_ss(LoadU16(b + 2));
  }
}
#endif

#ifdef SJ_QUANT_AVX512
// One block as two vectors of 16 unscaled values (q, or q - 8 for Q4_0); the
// scale d is applied once per activation row, the Q4_1 offset m through the
// per-block sums of x. Half the instructions of the AVX2 path per block.
inline void DecodeBlockAvx512(WeightFormat f, const uint8_t* b, __m512 q[2], float* d, float* m_out) {
  *d = _cvtsh_ss(LoadU16(b));
  *m_out = 0.f;
  if (f == WeightFormat::kQ8_0) {
    const __m128i* p = reinterpret_cast<const __m128i*>(b + 2);
    q[0] = _mm512_cvtepi32_ps(_mm512_cvtepi8_epi32(_mm_loadu_si128(p)));
    q[1] = _mm512_cvtepi32_ps(_mm512_cvtepi8_epi32(_mm_loadu_si128(p + 1)));
    return;
  }
  const uint8_t* p = b + (f == WeightFormat::kQ4_1 ? 4 : 2);
  const __m128i raw = _mm_loadu_si128(reinterpret_cast<const __m128i*>(p));
  const __m128i mask = _mm_set1_epi8(0x0f);
  __m512i lo = _mm512_cvtepu8_epi32(_mm_and_si128(raw, mask));
  __m512i hi = _mm512_cvtepu8_epi32(_mm_and_si128(_mm_srli_epi16(raw, 4), mask));
  if (f == WeightFormat::kQ4_0) {
    const __m512i eight = _mm512_set1_epi32(8);
    lo = _mm512_sub_epi32(lo, eight);
    hi = _mm512_sub_epi32(hi, eight);
  } else {
    *m_out = _cvtsh_ss(LoadU16(b + 2));
  }
  q[0] = _mm512_cvtepi32_ps(lo);
  q[1] = _mm512_cvtepi32_ps(hi);
}
#endif

// out[i, r] for r in [r0, r1), i < m (m <= kSmallM); xsum[i * nb + b] is the
// sum of x row i over block b (used by Q4_1's offset term).
void FusedRows(WeightFormat f, const float* x, const uint8_t* w, const float* xsum, int64_t m,
               int64_t n, int64_t k, int64_t r0, int64_t r1, float* out) {
  const int64_t bb = BlockBytes(f), nb = k / kQuantBlock;
  for (int64_t r = r0; r < r1; ++r) {
    const uint8_t* row = w + r * nb * bb;
#if defined(SJ_QUANT_AVX512)
    __m512 acc[kSmallM];
    float off[kSmallM] = {};
    for (int64_t i = 0; i < m; ++i) acc[i] = _mm512_setzero_ps();
    for (int64_t b = 0; b < nb; ++b) {
      __m512 q[2];
      float d, mb;
      DecodeBlockAvx512(f, row + b * bb, q, &d, &mb);
      const __m512 vd = _mm512_set1_ps(d);
      for (int64_t i = 0; i < m; ++i) {
        const float* xb = x + i * k + b * kQuantBlock;
        const __m512 t = _mm512_fmadd_ps(_mm512_loadu_ps(xb + 16), q[1], _mm512_mul_ps(_mm512_loadu_ps(xb), q[0]));
        acc[i] = _mm512_fmadd_ps(t, vd, acc[i]);
        off[i] += mb * xsum[i * nb + b];
      }
    }
    for (int64_t i = 0; i < m; ++i) out[i * n + r] = _mm512_reduce_add_ps(acc[i]) + off[i];
#elif defined(SJ_QUANT_AVX2)
    __m256 acc[kSmallM];
    float off[kSmallM] = {};
    for (int64_t i = 0; i < m; ++i) acc[i] = _mm256_setzero_ps();
    for (int64_t b = 0; b < nb; ++b) {
      __m256 q[4];
      float mb;
      DecodeBlockAvx2(f, row + b * bb, q, &mb);
      for (int64_t i = 0; i < m; ++i) {
        const float* xb = x + i * k + b * kQuantBlock;
        __m256 a = acc[i];
        a = _mm256_fmadd_ps(_mm256_loadu_ps(xb), q[0], a);
        a = _mm256_fmadd_ps(_mm256_loadu_ps(xb + 8), q[1], a);
        a = _mm256_fmadd_ps(_mm256_loadu_ps(xb + 16), q[2], a);
        a = _mm256_fmadd_ps(_mm256_loadu_ps(xb + 24), q[3], a);
        acc[i] = a;
        off[i] += mb * xsum[i * nb + b];
      }
    }
    for (int64_t i = 0; i < m; ++i) out[i * n + r] = HorizontalSum(acc[i]) + off[i];
#else
    float deq[kQuantBlock];
    float acc[kSmallM] = {};
    (void)xsum;
    for (int64_t b = 0; b < nb; ++b) {
      DecodeBlock(f, row + b * bb, deq);
      for (int64_t i = 0; i < m; ++i) {
        const float* xb = x + i * k + b * kQuantBlock;
        float s = 0.f;
        for (int j = 0; j < kQuantBlock; ++j) s += xb[j] * deq[j];
        acc[i] += s;
      }
    }
    for (int64_t i = 0; i < m; ++i) out[i * n + r] = acc[i];
#endif
  }
}

#ifdef SJ_QUANT_AVX512
// m == 1 (batch-1 decode), four weight rows at a time: each x block is loaded
// once for four rows and the four accumulators are independent chains.
void FusedRowsM1x4(WeightFormat f, const float* x, const uint8_t* w, const float* xsum, int64_t n,
                   int64_t k, int64_t r0, int64_t r1, float* out) {
  const int64_t bb = BlockBytes(f), nb = k / kQuantBlock, row_bytes = nb * bb;
  int64_t r = r0;
  for (; r + 4 <= r1; r += 4) {
    __m512 acc[4] = {_mm512_setzero_ps(), _mm512_setzero_ps(), _mm512_setzero_ps(), _mm512_setzero_ps()};
    float off[4] = {0.f, 0.f, 0.f, 0.f};
    for (int64_t b = 0; b < nb; ++b) {
      const __m512 x0 = _mm512_loadu_ps(x + b * kQuantBlock);
      const __m512 x1 = _mm512_loadu_ps(x + b * kQuantBlock + 16);
      for (int j = 0; j < 4; ++j) {
        __m512 q[2];
        float d, mb;
        DecodeBlockAvx512(f, w + (r + j) * row_bytes + b * bb, q, &d, &mb);
        const __m512 t = _mm512_fmadd_ps(x1, q[1], _mm512_mul_ps(x0, q[0]));
        acc[j] = _mm512_fmadd_ps(t, _mm512_set1_ps(d), acc[j]);
        off[j] += mb * xsum[b];
      }
    }
    for (int j = 0; j < 4; ++j) out[r + j] = _mm512_reduce_add_ps(acc[j]) + off[j];
  }
  if (r < r1) FusedRows(f, x, w, xsum, 1, n, k, r, r1, out);
}
#endif

}  // namespace

void DequantizeWeightRows(WeightFormat f, const void* w, int64_t rows, int64_t k, float* out) {
  DecodeRows(f, static_cast<const uint8_t*>(w), rows, k, out);
}

Status LinearQuantized(ThreadPool* pool, const float* x, WeightRef w, const float* bias, int64_t m,
                       int64_t n, int64_t k, float* out) {
  if (w.format == WeightFormat::kDense) return Linear(pool, x, static_cast<const float*>(w.data), bias, m, n, k, out);
  if (k % kQuantBlock != 0) {
    return InvalidArgument("Linear: k = " + std::to_string(k) + " is not a multiple of the quant block");
  }
  if (m <= 0) return Status::Ok();
  const uint8_t* wb = static_cast<const uint8_t*>(w.data);
  const int64_t nb = k / kQuantBlock;
  if (m <= kFusedM) {
    std::vector<float> xsum(m * nb);
    for (int64_t i = 0; i < m; ++i)
      for (int64_t b = 0; b < nb; ++b) {
        float s = 0.f;
        for (int64_t j = 0; j < kQuantBlock; ++j) s += x[i * k + b * kQuantBlock + j];
        xsum[i * nb + b] = s;
      }
#ifdef SJ_QUANT_AVX512
    if (m == 1) {
      pool->ParallelFor(n, 16, [&](int64_t r0, int64_t r1) {
        FusedRowsM1x4(w.format, x, wb, xsum.data(), n, k, r0, r1, out);
      });
      if (bias != nullptr) {
        for (int64_t j = 0; j < n; ++j) out[j] += bias[j];
      }
      return Status::Ok();
    }
#endif
    // Weight rows outer, row groups inner: a row's blocks stay in L1 while
    // every group of kSmallM activation rows passes over them.
    pool->ParallelFor(n, 16, [&](int64_t r0, int64_t r1) {
      for (int64_t r = r0; r < r1; ++r) {
        for (int64_t g = 0; g < m; g += kSmallM) {
          const int64_t gm = std::min(kSmallM, m - g);
          FusedRows(w.format, x + g * k, wb, xsum.data() + g * nb, gm, n, k, r, r + 1, out + g * n);
        }
      }
    });
  } else {
    // Decode a tile of weight rows (about 4 MiB of float32), multiply, repeat.
    const int64_t tile = std::max<int64_t>(16, (int64_t{1} << 20) / k);
    const int64_t row_bytes = WeightRowBytes(w.format, k, 4);
    // Reused across calls: a fresh multi-MiB vector per call costs page faults.
    // (The pool's threads write through this pointer: naming the thread_local
    // inside the lambda would give each thread its own empty vector.)
    thread_local std::vector<float> deq_storage;
    deq_storage.resize(std::min(tile, n) * k);
    float* deq = deq_storage.data();
    for (int64_t r0 = 0; r0 < n; r0 += tile) {
      const int64_t rows = std::min(tile, n - r0);
      pool->ParallelFor(rows, 8, [&](int64_t a, int64_t b) {
        DecodeRows(w.format, wb + (r0 + a) * row_bytes, b - a, k, deq + a * k);
      });
#ifdef SKIPJOIN_HAVE_CBLAS
      cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasTrans, static_cast<int>(m), static_cast<int>(rows),
                  static_cast<int>(k), 1.0f, x, static_cast<int>(k), deq, static_cast<int>(k), 0.0f,
                  out + r0, static_cast<int>(n));
#else
      std::vector<float> part(m * rows);
      SJ_RETURN_IF_ERROR(Linear(pool, x, deq, nullptr, m, rows, k, part.data()));
      for (int64_t i = 0; i < m; ++i) std::copy_n(part.data() + i * rows, rows, out + i * n + r0);
#endif
    }
  }
  if (bias != nullptr) {
    for (int64_t i = 0; i < m; ++i)
      for (int64_t j = 0; j < n; ++j) out[i * n + j] += bias[j];
  }
  return Status::Ok();
}

Status EmbeddingQuantized(ThreadPool* pool, WeightRef table, int64_t vocab, int64_t dim,
                          const int32_t* ids, int64_t n, float* out) {
  if (table.format == WeightFormat::kDense) {
    return Embedding(pool, static_cast<const float*>(table.data), vocab, dim, ids, n, out);
  }
  for (int64_t i = 0; i < n; ++i) {
    if (ids[i] < 0 || ids[i] >= vocab) {
      return InvalidArgument("token id " + std::to_string(ids[i]) + " at position " + std::to_string(i) +
                             " is outside the vocabulary [0, " + std::to_string(vocab) + ")");
    }
  }
  const int64_t row_bytes = WeightRowBytes(table.format, dim, 4);
  const uint8_t* base = static_cast<const uint8_t*>(table.data);
  pool->ParallelFor(n, 8, [&](int64_t a, int64_t b) {
    for (int64_t i = a; i < b; ++i) DecodeRows(table.format, base + ids[i] * row_bytes, 1, dim, out + i * dim);
  });
  return Status::Ok();
}

}  // namespace skipjoin::kernels::cpu
