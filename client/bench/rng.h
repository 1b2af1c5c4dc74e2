// Rng: the seeded random source of `skipjoin bench serve`. std::mt19937_64 is
// specified bit for bit by the standard, but the std:: distributions are not,
// so the draws are done here: the same seed gives the same dataset and
// arrival times with any standard library. Plain value type, not thread-safe;
// each generator owns its own.
#pragma once

#include <cmath>
#include <cstdint>
#include <numbers>
#include <random>

namespace skipjoin::bench {

class Rng {
 public:
  explicit Rng(uint64_t seed) : engine_(seed) {}

  // Uniform in [0, 1) with 53 random bits.
  double Uniform01() { return static_cast<double>(engine_() >> 11) * 0x1.0p-53; }

  // Uniform in (0, 1]: safe to take a log or a negative power of.
  double UniformOpen0() { return 1.0 - Uniform01(); }

  // Uniform integer in [lo, hi] (inclusive), without modulo bias. lo <= hi.
  int64_t UniformInt(int64_t lo, int64_t hi) {
    const uint64_t span = static_cast<uint64_t>(hi) - static_cast<uint64_t>(lo) + 1;
    if (span == 0) return static_cast<int64_t>(engine_());  // the full 64-bit range
    // Rejects the top partial block of 2^64 mod span values.
    const uint64_t limit = UINT64_MAX - (UINT64_MAX % span + 1) % span;
    uint64_t x;
    do {
      x = engine_();
    } while (x > limit);
    return lo + static_cast<int64_t>(x % span);
  }

  // Standard normal (Box-Muller; the second value is dropped to keep the
  // state simple).
  double Normal() {
    const double u1 = UniformOpen0(), u2 = Uniform01();
    return std::sqrt(-2.0 * std::log(u1)) * std::cos(2.0 * std::numbers::pi * u2);
  }

  // Gamma(shape, scale): mean shape * scale, variance shape * scale^2.
  // Marsaglia and Tsang's method; shape < 1 uses Gamma(shape + 1) * U^(1/shape).
  double Gamma(double shape, double scale) {
    if (shape < 1.0) return Gamma(shape + 1.0, scale) * std::pow(UniformOpen0(), 1.0 / shape);
    const double d = shape - 1.0 / 3.0, c = 1.0 / std::sqrt(9.0 * d);
    while (true) {
      double x, v;
      do {
        x = Normal();
        v = 1.0 + c * x;
      } while (v <= 0.0);
      v = v * v * v;
      const double u = UniformOpen0();
      if (std::log(u) < 0.5 * x * x + d - d * v + d * std::log(v)) return d * v * scale;
    }
  }

  // Pareto with minimum `scale` and tail index `alpha` (inverse CDF).
  double Pareto(double alpha, double scale) {
    return scale / std::pow(UniformOpen0(), 1.0 / alpha);
  }

 private:
  std::mt19937_64 engine_;
};

}  // namespace skipjoin::bench
