// Shared by the CUDA tests: the device check that skips a test where no CUDA
// device exists, bf16 rounding on the host, random quantized rows, and a
// tolerance check that reports the first mismatch.
#pragma once

#include <cmath>
#include <cstdint>
#include <cstring>
#include <random>
#include <string>
#include <vector>

#include "gtest/gtest.h"
#include "kernels/cuda/cuda_backend.h"
#include "kernels/weight.h"

namespace skipjoin::kernels::testing {

// Skips the calling test (use in SetUp or the test body) without a device.
#define SJ_SKIP_WITHOUT_CUDA_DEVICE()                                  \
  do {                                                                 \
    auto sj_count_ = ::skipjoin::kernels::CudaDeviceCount();           \
    if (!sj_count_.ok()) GTEST_SKIP() << sj_count_.status().message(); \
    if (*sj_count_ == 0) GTEST_SKIP() << "no CUDA device (0 visible)"; \
  } while (0)

inline float RoundBf16(float f) {
  uint32_t u;
  std::memcpy(&u, &f, 4);
  if ((u & 0x7fffffffu) > 0x7f800000u) return f;
  u += 0x7fffu + ((u >> 16) & 1u);
  u &= 0xffff0000u;
  std::memcpy(&f, &u, 4);
  return f;
}

// n normal(0, scale) values, already representable in bf16 (so CPU and GPU
// start from identical inputs).
inline std::vector<float> RandomBf16(int64_t n, std::mt19937& rng, float scale = 1.f) {
  std::normal_distribution<float> nd(0.f, scale);
  std::vector<float> v(static_cast<size_t>(n));
  for (float& x : v) x = RoundBf16(nd(rng));
  return v;
}

inline uint16_t FloatToHalfBits(float f) {
  uint32_t x;
  std::memcpy(&x, &f, 4);
  const uint32_t sign = (x >> 16) & 0x8000;
  int32_t exp = int32_t((x >> 23) & 0xff) - 127 + 15;
  const uint32_t man = x & 0x7fffff;
  if (exp <= 0) return static_cast<uint16_t>(sign);
  uint32_t h = sign | (uint32_t(exp) << 10) | (man >> 13);
  if (man & 0x1000) ++h;
  return static_cast<uint16_t>(h);
}

// Random quantized rows: plausible scales and offsets, random payload bytes.
inline std::vector<uint8_t> RandomQuantRows(WeightFormat f, int64_t rows, int64_t k,
                                            std::mt19937& rng) {
  std::vector<uint8_t> out(static_cast<size_t>(rows * WeightRowBytes(f, k, 4)));
  std::uniform_int_distribution<int> byte(0, 255);
  std::uniform_real_distribution<float> scale(0.001f, 0.05f), offset(-0.2f, 0.2f);
  const int64_t bb = WeightRowBytes(f, kQuantBlock, 4);
  for (size_t b = 0; b < out.size() / bb; ++b) {
    uint8_t* p = out.data() + b * bb;
    const uint16_t d = FloatToHalfBits(scale(rng)), m = FloatToHalfBits(offset(rng));
    std::memcpy(p, &d, 2);
    int head = 2;
    if (f == WeightFormat::kQ4_1) {
      std::memcpy(p + 2, &m, 2);
      head = 4;
    }
    for (int64_t i = head; i < bb; ++i) p[i] = static_cast<uint8_t>(byte(rng));
  }
  return out;
}

// |got - want| <= atol + rtol * |want| everywhere (NaN fails); one failure
// message with the first bad index and the worst error.
inline ::testing::AssertionResult AllClose(const std::vector<float>& got,
                                           const std::vector<float>& want, float rtol, float atol) {
  if (got.size() != want.size()) {
    return ::testing::AssertionFailure() << "sizes differ: " << got.size() << " vs " << want.size();
  }
  int64_t bad = 0, first = -1;
  float worst = 0.f;
  for (size_t i = 0; i < got.size(); ++i) {
    const float err = std::abs(got[i] - want[i]);
    if (!(err <= atol + rtol * std::abs(want[i]))) {  // also catches NaN
      if (first < 0) first = static_cast<int64_t>(i);
      ++bad;
    }
    if (err > worst || std::isnan(err)) worst = err;
  }
  if (bad == 0) return ::testing::AssertionSuccess();
  return ::testing::AssertionFailure()
         << bad << " of " << got.size() << " elements off; first at " << first << " (got "
         << got[first] << ", want " << want[first] << "), worst error " << worst << " (rtol "
         << rtol << ", atol " << atol << ")";
}

inline float MaxAbs(const std::vector<float>& v) {
  float m = 0.f;
  for (float x : v) m = std::max(m, std::abs(x));
  return m;
}

}  // namespace skipjoin::kernels::testing
