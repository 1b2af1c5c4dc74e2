#include "tests/testutil/gguf_writer.h"

#include <algorithm>
#include <cfloat>
#include <cmath>
#include <cstring>
#include <fstream>
#include <nlohmann/json.hpp>

namespace skipjoin::testutil {
namespace {

void Put(std::vector<uint8_t>* out, const void* p, size_t n) {
  const uint8_t* b = static_cast<const uint8_t*>(p);
  out->insert(out->end(), b, b + n);
}
template <typename T>
void PutT(std::vector<uint8_t>* out, T v) {
  Put(out, &v, sizeof(T));
}
void PutString(std::vector<uint8_t>* out, const std::string& s) {
  PutT<uint64_t>(out, s.size());
  Put(out, s.data(), s.size());
}
void PutInt(std::vector<uint8_t>* out, GgufType t, int64_t v) {
  switch (t) {
    case GgufType::kU8:
    case GgufType::kI8:
    case GgufType::kBool:
      PutT<uint8_t>(out, v);
      break;
    case GgufType::kU16:
    case GgufType::kI16:
      PutT<uint16_t>(out, v);
      break;
    case GgufType::kU32:
    case GgufType::kI32:
      PutT<uint32_t>(out, v);
      break;
    default:
      PutT<uint64_t>(out, v);
      break;
  }
}

}  // namespace

void GgufWriter::Key(const std::string& key, GgufType type) {
  PutString(&kv_, key);
  PutT<uint32_t>(&kv_, static_cast<uint32_t>(type));
  ++n_kv_;
}

void GgufWriter::AddScalar(const std::string& key, GgufType type, const void* v, size_t n) {
  Key(key, type);
  Put(&kv_, v, n);
}

void GgufWriter::AddString(const std::string& key, const std::string& v) {
  Key(key, GgufType::kString);
  PutString(&kv_, v);
}

void GgufWriter::AddStringArray(const std::string& key, const std::vector<std::string>& v) {
  Key(key, GgufType::kArray);
  PutT<uint32_t>(&kv_, static_cast<uint32_t>(GgufType::kString));
  PutT<uint64_t>(&kv_, v.size());
  for (const auto& s : v) PutString(&kv_, s);
}

void GgufWriter::AddIntArray(const std::string& key, GgufType t, const std::vector<int64_t>& v) {
  Key(key, GgufType::kArray);
  PutT<uint32_t>(&kv_, static_cast<uint32_t>(t));
  PutT<uint64_t>(&kv_, v.size());
  for (int64_t x : v) PutInt(&kv_, t, x);
}

void GgufWriter::AddFloatArray(const std::string& key, GgufType t, const std::vector<double>& v) {
  Key(key, GgufType::kArray);
  PutT<uint32_t>(&kv_, static_cast<uint32_t>(t));
  PutT<uint64_t>(&kv_, v.size());
  for (double x : v) {
    if (t == GgufType::kF32)
      PutT<float>(&kv_, static_cast<float>(x));
    else
      PutT<double>(&kv_, x);
  }
}

void GgufWriter::AddNestedStringArray(const std::string& key,
                                      const std::vector<std::vector<std::string>>& v) {
  Key(key, GgufType::kArray);
  PutT<uint32_t>(&kv_, static_cast<uint32_t>(GgufType::kArray));
  PutT<uint64_t>(&kv_, v.size());
  for (const auto& inner : v) {
    PutT<uint32_t>(&kv_, static_cast<uint32_t>(GgufType::kString));
    PutT<uint64_t>(&kv_, inner.size());
    for (const auto& s : inner) PutString(&kv_, s);
  }
}

void GgufWriter::AddRaw(const std::string& key, uint32_t type,
                        const std::vector<uint8_t>& payload) {
  PutString(&kv_, key);
  PutT<uint32_t>(&kv_, type);
  Put(&kv_, payload.data(), payload.size());
  ++n_kv_;
}

void GgufWriter::AddTensor(const std::string& name, const std::vector<int64_t>& shape,
                           GgmlType type, std::vector<uint8_t> data) {
  tensors_.push_back({name, shape, type, std::move(data)});
}

Status GgufWriter::AddTensorF32(const std::string& name, const std::vector<int64_t>& shape,
                                GgmlType type, const std::vector<float>& values) {
  SJ_ASSIGN_OR_RETURN(auto bytes, QuantizeF32(type, values.data(), values.size()));
  AddTensor(name, shape, type, std::move(bytes));
  return Status::Ok();
}

std::vector<uint8_t> GgufWriter::Serialize() const {
  std::vector<uint8_t> out;
  Put(&out, "GGUF", 4);
  PutT<uint32_t>(&out, version_);
  PutT<uint64_t>(&out, tensors_.size());
  std::vector<uint8_t> kv = kv_;
  uint64_t n_kv = n_kv_;
  if (alignment_ != 32) {
    PutString(&kv, "general.alignment");
    PutT<uint32_t>(&kv, static_cast<uint32_t>(GgufType::kU32));
    PutT<uint32_t>(&kv, alignment_);
    ++n_kv;
  }
  PutT<uint64_t>(&out, n_kv);
  Put(&out, kv.data(), kv.size());
  auto pad = [&](uint64_t n) { return (alignment_ - n % alignment_) % alignment_; };
  uint64_t offset = 0;
  for (const Tensor& t : tensors_) {
    PutString(&out, t.name);
    PutT<uint32_t>(&out, t.shape.size());
    for (auto it = t.shape.rbegin(); it != t.shape.rend(); ++it) PutT<uint64_t>(&out, *it);
    PutT<uint32_t>(&out, static_cast<uint32_t>(t.type));
    PutT<uint64_t>(&out, offset);
    offset += t.data.size();
    offset += pad(offset);
  }
  out.resize(out.size() + pad(out.size()), 0);
  for (const Tensor& t : tensors_) {
    Put(&out, t.data.data(), t.data.size());
    out.resize(out.size() + pad(t.data.size()), 0);
  }
  return out;
}

Status GgufWriter::Write(const std::string& path) const {
  std::vector<uint8_t> bytes = Serialize();
  std::ofstream f(path, std::ios::binary | std::ios::trunc);
  f.write(reinterpret_cast<const char*>(bytes.data()), bytes.size());
  if (!f) return Internal("cannot write " + path);
  return Status::Ok();
}

uint16_t F32ToF16(float f) {
  uint32_t x;
  std::memcpy(&x, &f, 4);
  const uint32_t sign = (x >> 16) & 0x8000u;
  const uint32_t abs = x & 0x7FFFFFFFu;
  if (abs > 0x7F800000u) return sign | 0x7E00u;   // NaN
  if (abs >= 0x477FF000u) return sign | 0x7C00u;  // rounds to inf
  if (abs < 0x38800000u) {
    // Subnormal half (or zero): scale so the integer part is the mantissa.
    float a;
    std::memcpy(&a, &abs, 4);
    const float scaled = a * 16777216.0f;  // 2^24: half subnormal unit is 2^-24
    return sign | static_cast<uint16_t>(std::nearbyint(scaled));
  }
  uint32_t mant = abs & 0x7FFFFFu;
  uint32_t exp = (abs >> 23) - 127 + 15;
  uint32_t h = (exp << 10) | (mant >> 13);
  const uint32_t rest = mant & 0x1FFFu;
  if (rest > 0x1000u || (rest == 0x1000u && (h & 1u))) ++h;  // may carry into exp: fine
  return static_cast<uint16_t>(sign | h);
}

uint16_t F32ToBF16(float f) {
  uint32_t x;
  std::memcpy(&x, &f, 4);
  if ((x & 0x7FFFFFFFu) > 0x7F800000u) return static_cast<uint16_t>((x >> 16) | 64);
  return static_cast<uint16_t>((x + (0x7FFFu + ((x >> 16) & 1u))) >> 16);
}

Result<std::vector<uint8_t>> QuantizeF32(GgmlType type, const float* x, int64_t n) {
  std::vector<uint8_t> out;
  auto put_half = [&](float v) { PutT<uint16_t>(&out, F32ToF16(v)); };
  auto need_blocks = [&](int64_t b) -> Status {
    if (n % b != 0) return InvalidArgument("quantize: n is not a multiple of the block size");
    return Status::Ok();
  };
  switch (type) {
    case GgmlType::kF32:
      Put(&out, x, n * 4);
      return out;
    case GgmlType::kF16:
      for (int64_t i = 0; i < n; ++i) put_half(x[i]);
      return out;
    case GgmlType::kBF16:
      for (int64_t i = 0; i < n; ++i) PutT<uint16_t>(&out, F32ToBF16(x[i]));
      return out;
    case GgmlType::kQ8_0:
      SJ_RETURN_IF_ERROR(need_blocks(32));
      for (int64_t b = 0; b < n; b += 32) {
        float amax = 0;
        for (int j = 0; j < 32; ++j) amax = std::max(amax, std::fabs(x[b + j]));
        const float d = amax / 127;
        const float id = d != 0 ? 1.0f / d : 0.0f;
        put_half(d);
        for (int j = 0; j < 32; ++j)
          PutT<int8_t>(&out, static_cast<int8_t>(std::roundf(x[b + j] * id)));
      }
      return out;
    case GgmlType::kQ4_0:
      SJ_RETURN_IF_ERROR(need_blocks(32));
      for (int64_t b = 0; b < n; b += 32) {
        float amax = 0, max = 0;
        for (int j = 0; j < 32; ++j) {
          if (amax < std::fabs(x[b + j])) {
            amax = std::fabs(x[b + j]);
            max = x[b + j];
          }
        }
        const float d = max / -8;
        const float id = d != 0 ? 1.0f / d : 0.0f;
        put_half(d);
        for (int j = 0; j < 16; ++j) {
          const int xi0 = std::min<int>(15, static_cast<int8_t>(x[b + j] * id + 8.5f));
          const int xi1 = std::min<int>(15, static_cast<int8_t>(x[b + 16 + j] * id + 8.5f));
          PutT<uint8_t>(&out, static_cast<uint8_t>(xi0 | (xi1 << 4)));
        }
      }
      return out;
    case GgmlType::kQ4_1:
      SJ_RETURN_IF_ERROR(need_blocks(32));
      for (int64_t b = 0; b < n; b += 32) {
        float min = FLT_MAX, max = -FLT_MAX;
        for (int j = 0; j < 32; ++j) {
          min = std::min(min, x[b + j]);
          max = std::max(max, x[b + j]);
        }
        const float d = (max - min) / 15;
        const float id = d != 0 ? 1.0f / d : 0.0f;
        put_half(d);
        put_half(min);
        for (int j = 0; j < 16; ++j) {
          const int xi0 = std::min<int>(15, static_cast<int8_t>((x[b + j] - min) * id + 0.5f));
          const int xi1 = std::min<int>(15, static_cast<int8_t>((x[b + 16 + j] - min) * id + 0.5f));
          PutT<uint8_t>(&out, static_cast<uint8_t>(xi0 | (xi1 << 4)));
        }
      }
      return out;
    default:
      return InvalidArgument(std::string("no test quantizer for ") + GgmlTypeName(type));
  }
}

Status WriteSafetensors(const std::string& path, const std::vector<SafetensorsTensor>& tensors,
                        const std::string& dtype) {
  if (dtype != "F32" && dtype != "F16" && dtype != "BF16") {
    return InvalidArgument("WriteSafetensors: unsupported dtype " + dtype);
  }
  nlohmann::json header = nlohmann::json::object();
  header["__metadata__"] = {{"format", "pt"}};
  std::vector<uint8_t> data;
  for (const auto& t : tensors) {
    const size_t begin = data.size();
    for (float v : t.values) {
      if (dtype == "F32")
        PutT<float>(&data, v);
      else if (dtype == "F16")
        PutT<uint16_t>(&data, F32ToF16(v));
      else
        PutT<uint16_t>(&data, F32ToBF16(v));
    }
    header[t.name] = {{"dtype", dtype}, {"shape", t.shape}, {"data_offsets", {begin, data.size()}}};
  }
  std::string h = header.dump();
  h.resize((h.size() + 7) / 8 * 8, ' ');  // data section 8-byte aligned
  std::ofstream f(path, std::ios::binary | std::ios::trunc);
  const uint64_t n = h.size();
  f.write(reinterpret_cast<const char*>(&n), 8);
  f.write(h.data(), h.size());
  f.write(reinterpret_cast<const char*>(data.data()), data.size());
  if (!f) return Internal("cannot write " + path);
  return Status::Ok();
}

}  // namespace skipjoin::testutil
