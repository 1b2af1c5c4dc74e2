// ggml block formats and their reference dequantization. Each formula follows
// the ggml format definition operation for operation (same float products in
// the same order, no fused multiply-add) so results are bit-exact with ggml's
// dequantize_row_* and gguf-py's dequantize. Products that feed an addition
// are kept in separate statements so that no compiler contracts them to FMA.
#include <cstring>

#include "common/gguf.h"

namespace skipjoin {
namespace {

float Fp16ToF32(uint16_t h) {
  const uint32_t sign = static_cast<uint32_t>(h & 0x8000u) << 16;
  const uint32_t exp = (h >> 10) & 0x1Fu;
  uint32_t mant = h & 0x3FFu;
  uint32_t bits;
  if (exp == 0) {
    if (mant == 0) {
      bits = sign;
    } else {
      // Subnormal half: normalise into a float exponent.
      int e = -1;
      do {
        ++e;
        mant <<= 1;
      } while ((mant & 0x400u) == 0);
      bits = sign | static_cast<uint32_t>(127 - 15 - e) << 23 | (mant & 0x3FFu) << 13;
    }
  } else if (exp == 0x1F) {
    bits = sign | 0x7F800000u | mant << 13;  // inf / NaN (payload kept)
  } else {
    bits = sign | (exp + 127 - 15) << 23 | mant << 13;
  }
  float f;
  std::memcpy(&f, &bits, 4);
  return f;
}

uint16_t LoadU16(const uint8_t* p) {
  uint16_t v;
  std::memcpy(&v, p, 2);
  return v;
}

float LoadHalf(const uint8_t* p) { return Fp16ToF32(LoadU16(p)); }

void DequantF32(const uint8_t* x, int64_t nb, float* y) {
  if (nb > 0) std::memcpy(y, x, nb * 4);
}

void DequantF16(const uint8_t* x, int64_t nb, float* y) {
  for (int64_t i = 0; i < nb; ++i) y[i] = LoadHalf(x + 2 * i);
}

void DequantBF16(const uint8_t* x, int64_t nb, float* y) {
  for (int64_t i = 0; i < nb; ++i) {
    uint32_t bits = static_cast<uint32_t>(LoadU16(x + 2 * i)) << 16;
    std::memcpy(&y[i], &bits, 4);
  }
}

// Q8_0: {f16 d; int8 qs[32]}; y = d * q.
void DequantQ8_0(const uint8_t* x, int64_t nb, float* y) {
  for (int64_t i = 0; i < nb; ++i, x += 34, y += 32) {
    const float d = LoadHalf(x);
    const int8_t* qs = reinterpret_cast<const int8_t*>(x + 2);
    for (int j = 0; j < 32; ++j) y[j] = static_cast<float>(qs[j]) * d;
  }
}

// Q4_0: {f16 d; u8 qs[16]}; low nibbles are elements 0..15, high 16..31;
// y = (nibble - 8) * d.
void DequantQ4_0(const uint8_t* x, int64_t nb, float* y) {
  for (int64_t i = 0; i < nb; ++i, x += 18, y += 32) {
    const float d = LoadHalf(x);
    const uint8_t* qs = x + 2;
    for (int j = 0; j < 16; ++j) {
      const int x0 = (qs[j] & 0x0F) - 8;
      const int x1 = (qs[j] >> 4) - 8;
      y[j] = static_cast<float>(x0) * d;
      y[j + 16] = static_cast<float>(x1) * d;
    }
  }
}

// Q4_1: {f16 d; f16 m; u8 qs[16]}; y = nibble * d + m.
void DequantQ4_1(const uint8_t* x, int64_t nb, float* y) {
  for (int64_t i = 0; i < nb; ++i, x += 20, y += 32) {
    const float d = LoadHalf(x);
    const float m = LoadHalf(x + 2);
    const uint8_t* qs = x + 4;
    for (int j = 0; j < 16; ++j) {
      const float p0 = static_cast<float>(qs[j] & 0x0F) * d;
      const float p1 = static_cast<float>(qs[j] >> 4) * d;
      y[j] = p0 + m;
      y[j + 16] = p1 + m;
    }
  }
}

// K-quant 6-bit scale/min pairs packed into 12 bytes (8 pairs).
void ScaleMinK4(int j, const uint8_t* q, uint8_t* d, uint8_t* m) {
  if (j < 4) {
    *d = q[j] & 63;
    *m = q[j + 4] & 63;
  } else {
    *d = (q[j + 4] & 0x0F) | ((q[j - 4] >> 6) << 4);
    *m = (q[j + 4] >> 4) | ((q[j] >> 6) << 4);
  }
}

// Q4_K: {f16 d; f16 dmin; u8 scales[12]; u8 qs[128]} per 256 elements, in 8
// sub-blocks of 32; y = d*sc * nibble - dmin*m.
void DequantQ4_K(const uint8_t* x, int64_t nb, float* y) {
  for (int64_t i = 0; i < nb; ++i, x += 144) {
    const float d = LoadHalf(x);
    const float dmin = LoadHalf(x + 2);
    const uint8_t* scales = x + 4;
    const uint8_t* q = x + 16;
    int is = 0;
    for (int j = 0; j < 256; j += 64, q += 32, is += 2) {
      uint8_t sc, m;
      ScaleMinK4(is, scales, &sc, &m);
      const float d1 = d * sc;
      const float m1 = dmin * m;
      ScaleMinK4(is + 1, scales, &sc, &m);
      const float d2 = d * sc;
      const float m2 = dmin * m;
      for (int l = 0; l < 32; ++l) {
        const float p = d1 * static_cast<float>(q[l] & 0x0F);
        *y++ = p - m1;
      }
      for (int l = 0; l < 32; ++l) {
        const float p = d2 * static_cast<float>(q[l] >> 4);
        *y++ = p - m2;
      }
    }
  }
}

// Q6_K: {u8 ql[128]; u8 qh[64]; int8 scales[16]; f16 d} per 256 elements;
// y = d * scale * (6-bit value - 32).
void DequantQ6_K(const uint8_t* x, int64_t nb, float* y) {
  for (int64_t i = 0; i < nb; ++i, x += 210) {
    const uint8_t* ql = x;
    const uint8_t* qh = x + 128;
    const int8_t* sc = reinterpret_cast<const int8_t*>(x + 192);
    const float d = LoadHalf(x + 208);
    for (int n = 0; n < 256; n += 128, y += 128, ql += 64, qh += 32, sc += 8) {
      for (int l = 0; l < 32; ++l) {
        const int is = l / 16;
        const int q1 = ((ql[l] & 0x0F) | (((qh[l] >> 0) & 3) << 4)) - 32;
        const int q2 = ((ql[l + 32] & 0x0F) | (((qh[l] >> 2) & 3) << 4)) - 32;
        const int q3 = ((ql[l] >> 4) | (((qh[l] >> 4) & 3) << 4)) - 32;
        const int q4 = ((ql[l + 32] >> 4) | (((qh[l] >> 6) & 3) << 4)) - 32;
        y[l + 0] = d * static_cast<float>(sc[is + 0]) * static_cast<float>(q1);
        y[l + 32] = d * static_cast<float>(sc[is + 2]) * static_cast<float>(q2);
        y[l + 64] = d * static_cast<float>(sc[is + 4]) * static_cast<float>(q3);
        y[l + 96] = d * static_cast<float>(sc[is + 6]) * static_cast<float>(q4);
      }
    }
  }
}

}  // namespace

const char* GgmlTypeName(GgmlType t) {
  switch (t) {
    case GgmlType::kF32:
      return "F32";
    case GgmlType::kF16:
      return "F16";
    case GgmlType::kQ4_0:
      return "Q4_0";
    case GgmlType::kQ4_1:
      return "Q4_1";
    case GgmlType::kQ5_0:
      return "Q5_0";
    case GgmlType::kQ5_1:
      return "Q5_1";
    case GgmlType::kQ8_0:
      return "Q8_0";
    case GgmlType::kQ8_1:
      return "Q8_1";
    case GgmlType::kQ2_K:
      return "Q2_K";
    case GgmlType::kQ3_K:
      return "Q3_K";
    case GgmlType::kQ4_K:
      return "Q4_K";
    case GgmlType::kQ5_K:
      return "Q5_K";
    case GgmlType::kQ6_K:
      return "Q6_K";
    case GgmlType::kQ8_K:
      return "Q8_K";
    case GgmlType::kBF16:
      return "BF16";
  }
  return "unknown";
}

Result<std::pair<int64_t, int64_t>> GgmlBlockInfo(GgmlType t) {
  using P = std::pair<int64_t, int64_t>;
  switch (t) {
    case GgmlType::kF32:
      return P{1, 4};
    case GgmlType::kF16:
      return P{1, 2};
    case GgmlType::kBF16:
      return P{1, 2};
    case GgmlType::kQ4_0:
      return P{32, 18};
    case GgmlType::kQ4_1:
      return P{32, 20};
    case GgmlType::kQ5_0:
      return P{32, 22};
    case GgmlType::kQ5_1:
      return P{32, 24};
    case GgmlType::kQ8_0:
      return P{32, 34};
    case GgmlType::kQ8_1:
      return P{32, 36};
    case GgmlType::kQ2_K:
      return P{256, 84};
    case GgmlType::kQ3_K:
      return P{256, 110};
    case GgmlType::kQ4_K:
      return P{256, 144};
    case GgmlType::kQ5_K:
      return P{256, 176};
    case GgmlType::kQ6_K:
      return P{256, 210};
    case GgmlType::kQ8_K:
      return P{256, 292};
  }
  return InvalidArgument("unknown ggml type " + std::to_string(static_cast<uint32_t>(t)));
}

Status DequantizeRow(GgmlType t, const uint8_t* src, size_t src_bytes, int64_t n, float* dst) {
  SJ_ASSIGN_OR_RETURN(auto info, GgmlBlockInfo(t));
  auto [block, block_bytes] = info;
  if (n < 0 || n % block != 0) {
    return InvalidArgument("dequantize " + std::string(GgmlTypeName(t)) + ": " + std::to_string(n) +
                           " elements is not a multiple of the block size " +
                           std::to_string(block));
  }
  const int64_t nb = n / block;
  if (static_cast<uint64_t>(nb) * static_cast<uint64_t>(block_bytes) > src_bytes) {
    return DataLoss("dequantize " + std::string(GgmlTypeName(t)) + ": " + std::to_string(n) +
                    " elements need " + std::to_string(nb * block_bytes) + " bytes, have " +
                    std::to_string(src_bytes));
  }
  switch (t) {
    case GgmlType::kF32:
      DequantF32(src, nb, dst);
      return Status::Ok();
    case GgmlType::kF16:
      DequantF16(src, nb, dst);
      return Status::Ok();
    case GgmlType::kBF16:
      DequantBF16(src, nb, dst);
      return Status::Ok();
    case GgmlType::kQ8_0:
      DequantQ8_0(src, nb, dst);
      return Status::Ok();
    case GgmlType::kQ4_0:
      DequantQ4_0(src, nb, dst);
      return Status::Ok();
    case GgmlType::kQ4_1:
      DequantQ4_1(src, nb, dst);
      return Status::Ok();
    case GgmlType::kQ4_K:
      DequantQ4_K(src, nb, dst);
      return Status::Ok();
    case GgmlType::kQ6_K:
      DequantQ6_K(src, nb, dst);
      return Status::Ok();
    case GgmlType::kQ5_0:
    case GgmlType::kQ5_1:
    case GgmlType::kQ8_1:
    case GgmlType::kQ2_K:
    case GgmlType::kQ3_K:
    case GgmlType::kQ5_K:
    case GgmlType::kQ8_K:
      break;
  }
  return Unimplemented(std::string("no dequantizer for ggml type ") + GgmlTypeName(t));
}

}  // namespace skipjoin
