// Linear (GEMM with a transposed {out, in} weight) for the CPU backend: OpenBLAS
// when the build found it (SKIPJOIN_HAVE_CBLAS), else a built-in blocked kernel.
#include <algorithm>
#include <cstring>

#include "kernels/cpu/ops.h"

#ifdef SKIPJOIN_HAVE_CBLAS
#include <cblas.h>
#endif

namespace skipjoin::kernels::cpu {
namespace {

#ifndef SKIPJOIN_HAVE_CBLAS
// Dot-product form: both x rows and w rows are contiguous along k. Tiles of 4
// rows of x by 4 rows of w reuse each loaded value four times.
void LinearTile(const float* x, const float* w, int64_t m, int64_t n0, int64_t n1, int64_t n,
                int64_t k, float* out) {
  constexpr int64_t kM = 4, kN = 4;
  for (int64_t i0 = 0; i0 < m; i0 += kM) {
    const int64_t im = std::min(kM, m - i0);
    for (int64_t j0 = n0; j0 < n1; j0 += kN) {
      const int64_t jn = std::min(kN, n1 - j0);
      float acc[kM][kN] = {};
      for (int64_t kk = 0; kk < k; ++kk) {
        for (int64_t i = 0; i < im; ++i) {
          const float xv = x[(i0 + i) * k + kk];
          for (int64_t j = 0; j < jn; ++j) acc[i][j] += xv * w[(j0 + j) * k + kk];
        }
      }
      for (int64_t i = 0; i < im; ++i)
        for (int64_t j = 0; j < jn; ++j) out[(i0 + i) * n + j0 + j] = acc[i][j];
    }
  }
}
#endif

}  // namespace

Status Linear(ThreadPool* pool, const float* x, const float* w, const float* bias, int64_t m,
              int64_t n, int64_t k, float* out) {
  if (m < 0 || n <= 0 || k <= 0) return InvalidArgument("Linear: bad sizes");
  if (m == 0) return Status::Ok();
#ifdef SKIPJOIN_HAVE_CBLAS
  (void)pool;
  cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasTrans, static_cast<int>(m), static_cast<int>(n),
              static_cast<int>(k), 1.0f, x, static_cast<int>(k), w, static_cast<int>(k), 0.0f, out,
              static_cast<int>(n));
#else
  pool->ParallelFor(n, 16, [&](int64_t b, int64_t e) { LinearTile(x, w, m, b, e, n, k, out); });
#endif
  if (bias != nullptr) {
    for (int64_t i = 0; i < m; ++i)
      for (int64_t j = 0; j < n; ++j) out[i * n + j] += bias[j];
  }
  return Status::Ok();
}

}  // namespace skipjoin::kernels::cpu
