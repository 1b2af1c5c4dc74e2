// GGUF v2/v3 parser. Layout (little-endian):
//   magic "GGUF" | u32 version | u64 n_tensors | u64 n_kv
//   n_kv x (string key | u32 type | value)
//   n_tensors x (string name | u32 n_dims | n_dims x u64 dim | u32 type | u64 offset)
//   padding to general.alignment | tensor data (offsets relative to here)
// Strings are u64 length + bytes. Every count and length is checked against the
// bytes left in the file before anything is allocated.
#include "common/gguf.h"

#include <bit>
#include <cstring>
#include <limits>

#include "common/mapped_file.h"

namespace skipjoin {
namespace {

static_assert(std::endian::native == std::endian::little, "GGUF reader assumes little-endian");

enum GgufValueType : uint32_t {
  kU8 = 0,
  kI8 = 1,
  kU16 = 2,
  kI16 = 3,
  kU32 = 4,
  kI32 = 5,
  kF32 = 6,
  kBool = 7,
  kString = 8,
  kArray = 9,
  kU64 = 10,
  kI64 = 11,
  kF64 = 12,
};

// Smallest encoded size of one value of a type; used to reject counts that
// cannot fit in the remaining bytes before allocating for them.
uint64_t MinEncodedSize(uint32_t type) {
  switch (type) {
    case kU8:
    case kI8:
    case kBool:
      return 1;
    case kU16:
    case kI16:
      return 2;
    case kU32:
    case kI32:
    case kF32:
      return 4;
    case kU64:
    case kI64:
    case kF64:
      return 8;
    case kString:
      return 8;
    case kArray:
      return 12;
    default:
      return 0;
  }
}

constexpr int kMaxArrayNesting = 4;
constexpr uint32_t kMaxDims = 4;  // GGML_MAX_DIMS

// Sequential reader over the mapping; every read is bounds-checked.
class Cursor {
 public:
  explicit Cursor(const MappedFile& f) : f_(f) {}
  uint64_t pos() const { return pos_; }
  uint64_t remaining() const { return f_.size() - pos_; }

  template <typename T>
  Status Read(T* out, const std::string& what) {
    SJ_ASSIGN_OR_RETURN(auto s, f_.Slice(pos_, sizeof(T), what));
    std::memcpy(out, s.data(), sizeof(T));
    pos_ += sizeof(T);
    return Status::Ok();
  }

  Status ReadString(std::string* out, const std::string& what) {
    uint64_t len = 0;
    SJ_RETURN_IF_ERROR(Read(&len, what + " (string length)"));
    if (len > remaining()) {
      return DataLoss(f_.path() + ": " + what + ": string length " + std::to_string(len) +
                      " exceeds the " + std::to_string(remaining()) + " bytes left in the file");
    }
    SJ_ASSIGN_OR_RETURN(auto s, f_.Slice(pos_, len, what));
    out->assign(reinterpret_cast<const char*>(s.data()), s.size());
    pos_ += len;
    return Status::Ok();
  }

 private:
  const MappedFile& f_;
  uint64_t pos_ = 0;
};

// Accumulates a (possibly nested) array into one of the flat vector kinds.
// Nested arrays are flattened in order: GgufValue has no nested alternative,
// and the metadata skipjoin reads never nests.
struct ArrayAccumulator {
  enum Kind { kNone, kInts, kFloats, kStrings } kind = kNone;
  std::vector<int64_t> ints;
  std::vector<double> floats;
  std::vector<std::string> strings;
};

class Parser {
 public:
  explicit Parser(const MappedFile& f) : f_(f), c_(f) {}

  Status ParseArray(const std::string& key, int depth, ArrayAccumulator* acc) {
    if (depth > kMaxArrayNesting) {
      return DataLoss(f_.path() + ": key '" + key + "': arrays nested deeper than " +
                      std::to_string(kMaxArrayNesting));
    }
    uint32_t elem_type = 0;
    uint64_t n = 0;
    SJ_RETURN_IF_ERROR(c_.Read(&elem_type, "key '" + key + "' array type"));
    SJ_RETURN_IF_ERROR(c_.Read(&n, "key '" + key + "' array length"));
    uint64_t min_size = MinEncodedSize(elem_type);
    if (min_size == 0) {
      return DataLoss(f_.path() + ": key '" + key + "': unknown array element type " +
                      std::to_string(elem_type));
    }
    if (n > c_.remaining() / min_size) {
      return DataLoss(f_.path() + ": key '" + key + "': array length " + std::to_string(n) +
                      " cannot fit in the " + std::to_string(c_.remaining()) +
                      " bytes left in the file");
    }
    ArrayAccumulator::Kind want;
    switch (elem_type) {
      case kString:
        want = ArrayAccumulator::kStrings;
        break;
      case kF32:
      case kF64:
        want = ArrayAccumulator::kFloats;
        break;
      case kArray:
        want = acc->kind;
        break;
      default:
        want = ArrayAccumulator::kInts;
        break;
    }
    if (elem_type != kArray) {
      if (acc->kind != ArrayAccumulator::kNone && acc->kind != want) {
        return DataLoss(f_.path() + ": key '" + key + "': nested arrays mix element types");
      }
      acc->kind = want;
    }
    const std::string what = "key '" + key + "' array element";
    for (uint64_t i = 0; i < n; ++i) {
      switch (elem_type) {
        case kString: {
          std::string s;
          SJ_RETURN_IF_ERROR(c_.ReadString(&s, what));
          acc->strings.push_back(std::move(s));
          break;
        }
        case kArray:
          SJ_RETURN_IF_ERROR(ParseArray(key, depth + 1, acc));
          break;
        case kF32:
        case kF64: {
          double d = 0;
          SJ_RETURN_IF_ERROR(ReadNumber(elem_type, &d, what));
          acc->floats.push_back(d);
          break;
        }
        default: {
          int64_t v = 0;
          uint64_t u = 0;
          bool is_unsigned = false;
          SJ_RETURN_IF_ERROR(ReadInteger(elem_type, &v, &u, &is_unsigned, what));
          // uint64 values above INT64_MAX wrap; no GGUF array skipjoin reads uses them.
          acc->ints.push_back(is_unsigned ? static_cast<int64_t>(u) : v);
          break;
        }
      }
    }
    return Status::Ok();
  }

  // Reads one scalar integer (including bool) of `type`.
  Status ReadInteger(uint32_t type, int64_t* v, uint64_t* u, bool* is_unsigned,
                     const std::string& what) {
    *is_unsigned = false;
    switch (type) {
      case kU8: {
        uint8_t x{};
        SJ_RETURN_IF_ERROR(c_.Read(&x, what));
        *v = x;
        return Status::Ok();
      }
      case kI8: {
        int8_t x{};
        SJ_RETURN_IF_ERROR(c_.Read(&x, what));
        *v = x;
        return Status::Ok();
      }
      case kBool: {
        uint8_t x{};
        SJ_RETURN_IF_ERROR(c_.Read(&x, what));
        *v = x != 0;
        return Status::Ok();
      }
      case kU16: {
        uint16_t x{};
        SJ_RETURN_IF_ERROR(c_.Read(&x, what));
        *v = x;
        return Status::Ok();
      }
      case kI16: {
        int16_t x{};
        SJ_RETURN_IF_ERROR(c_.Read(&x, what));
        *v = x;
        return Status::Ok();
      }
      case kU32: {
        uint32_t x{};
        SJ_RETURN_IF_ERROR(c_.Read(&x, what));
        *v = x;
        return Status::Ok();
      }
      case kI32: {
        int32_t x{};
        SJ_RETURN_IF_ERROR(c_.Read(&x, what));
        *v = x;
        return Status::Ok();
      }
      case kI64: {
        int64_t x{};
        SJ_RETURN_IF_ERROR(c_.Read(&x, what));
        *v = x;
        return Status::Ok();
      }
      case kU64: {
        uint64_t x{};
        SJ_RETURN_IF_ERROR(c_.Read(&x, what));
        *u = x;
        *is_unsigned = true;
        return Status::Ok();
      }
      default:
        return Internal("ReadInteger on non-integer type");
    }
  }

  Status ReadNumber(uint32_t type, double* d, const std::string& what) {
    if (type == kF32) {
      float x{};
      SJ_RETURN_IF_ERROR(c_.Read(&x, what));
      *d = x;
      return Status::Ok();
    }
    double x{};
    SJ_RETURN_IF_ERROR(c_.Read(&x, what));
    *d = x;
    return Status::Ok();
  }

  Status ParseValue(const std::string& key, uint32_t type, GgufValue* out) {
    const std::string what = "value of key '" + key + "'";
    switch (type) {
      case kString: {
        std::string s;
        SJ_RETURN_IF_ERROR(c_.ReadString(&s, what));
        *out = std::move(s);
        return Status::Ok();
      }
      case kF32:
      case kF64: {
        double d = 0;
        SJ_RETURN_IF_ERROR(ReadNumber(type, &d, what));
        *out = d;
        return Status::Ok();
      }
      case kBool: {
        uint8_t b = 0;
        SJ_RETURN_IF_ERROR(c_.Read(&b, what));
        *out = b != 0;
        return Status::Ok();
      }
      case kArray: {
        ArrayAccumulator acc;
        SJ_RETURN_IF_ERROR(ParseArray(key, 0, &acc));
        switch (acc.kind) {
          case ArrayAccumulator::kStrings:
            *out = std::move(acc.strings);
            break;
          case ArrayAccumulator::kFloats:
            *out = std::move(acc.floats);
            break;
          // An empty array of arrays has no element type; keep it as empty ints.
          case ArrayAccumulator::kNone:
          case ArrayAccumulator::kInts:
            *out = std::move(acc.ints);
            break;
        }
        return Status::Ok();
      }
      case kU8:
      case kI8:
      case kU16:
      case kI16:
      case kU32:
      case kI32:
      case kU64:
      case kI64: {
        int64_t v = 0;
        uint64_t u = 0;
        bool is_unsigned = false;
        SJ_RETURN_IF_ERROR(ReadInteger(type, &v, &u, &is_unsigned, what));
        if (is_unsigned)
          *out = u;
        else
          *out = v;
        return Status::Ok();
      }
      default:
        return DataLoss(f_.path() + ": key '" + key + "' has unknown value type " +
                        std::to_string(type));
    }
  }

  Cursor& cursor() { return c_; }

 private:
  const MappedFile& f_;
  Cursor c_;
};

}  // namespace

GgufFile::~GgufFile() = default;

Result<std::unique_ptr<GgufFile>> GgufFile::Open(const std::string& path) {
  std::unique_ptr<GgufFile> g(new GgufFile());
  g->path_ = path;
  SJ_ASSIGN_OR_RETURN(g->file_, MappedFile::Open(path));
  const MappedFile& f = *g->file_;
  Parser p(f);
  Cursor& c = p.cursor();

  uint32_t magic = 0;
  SJ_RETURN_IF_ERROR(c.Read(&magic, "GGUF magic"));
  if (std::memcmp(&magic, "GGUF", 4) != 0) {
    return InvalidArgument(path + " is not a GGUF file (bad magic)");
  }
  SJ_RETURN_IF_ERROR(c.Read(&g->version_, "GGUF version"));
  if (g->version_ != 2 && g->version_ != 3) {
    return Unimplemented(path + ": unsupported GGUF version " + std::to_string(g->version_) +
                         " (supported: 2, 3)");
  }
  uint64_t n_tensors = 0, n_kv = 0;
  SJ_RETURN_IF_ERROR(c.Read(&n_tensors, "tensor count"));
  SJ_RETURN_IF_ERROR(c.Read(&n_kv, "metadata count"));
  // A key/value pair takes at least 8 (key length) + 4 (type) + 1 bytes; a
  // tensor info at least 8 + 4 + 4 + 8 bytes.
  if (n_kv > c.remaining() / 13) {
    return DataLoss(path + ": metadata count " + std::to_string(n_kv) + " cannot fit in the file");
  }
  if (n_tensors > c.remaining() / 24) {
    return DataLoss(path + ": tensor count " + std::to_string(n_tensors) +
                    " cannot fit in the file");
  }

  for (uint64_t i = 0; i < n_kv; ++i) {
    std::string key;
    SJ_RETURN_IF_ERROR(c.ReadString(&key, "metadata key #" + std::to_string(i)));
    uint32_t type = 0;
    SJ_RETURN_IF_ERROR(c.Read(&type, "type of key '" + key + "'"));
    GgufValue v;
    SJ_RETURN_IF_ERROR(p.ParseValue(key, type, &v));
    if (!g->kv_.emplace(key, std::move(v)).second) {
      return DataLoss(path + ": duplicate metadata key '" + key + "'");
    }
  }

  uint64_t alignment = 32;
  if (g->Has("general.alignment")) {
    auto a = g->GetInt("general.alignment");
    if (!a.ok() || *a <= 0 || (*a & (*a - 1)) != 0) {
      return DataLoss(path + ": general.alignment must be a power of two");
    }
    alignment = static_cast<uint64_t>(*a);
  }

  g->tensors_.reserve(n_tensors);
  for (uint64_t i = 0; i < n_tensors; ++i) {
    GgufTensorInfo t;
    SJ_RETURN_IF_ERROR(c.ReadString(&t.name, "tensor #" + std::to_string(i) + " name"));
    const std::string what = "tensor '" + t.name + "'";
    uint32_t n_dims = 0;
    SJ_RETURN_IF_ERROR(c.Read(&n_dims, what + " dimension count"));
    if (n_dims == 0 || n_dims > kMaxDims) {
      return DataLoss(path + ": " + what + " has " + std::to_string(n_dims) + " dimensions (1.." +
                      std::to_string(kMaxDims) + " allowed)");
    }
    int64_t nelem = 1;
    for (uint32_t d = 0; d < n_dims; ++d) {
      uint64_t dim = 0;
      SJ_RETURN_IF_ERROR(c.Read(&dim, what + " dimension"));
      if (dim > static_cast<uint64_t>(std::numeric_limits<int64_t>::max()) ||
          (dim != 0 && nelem > std::numeric_limits<int64_t>::max() / static_cast<int64_t>(dim))) {
        return DataLoss(path + ": " + what + " has an absurd shape (element count overflows)");
      }
      t.dims.push_back(static_cast<int64_t>(dim));
      nelem *= static_cast<int64_t>(dim);
    }
    uint32_t type = 0;
    SJ_RETURN_IF_ERROR(c.Read(&type, what + " type"));
    t.type = static_cast<GgmlType>(type);
    auto info = GgmlBlockInfo(t.type);
    if (!info.ok()) {
      return DataLoss(path + ": " + what + " has unknown tensor type " + std::to_string(type));
    }
    auto [block, block_bytes] = *info;
    if (t.dims[0] % block != 0) {
      return DataLoss(path + ": " + what + " row length " + std::to_string(t.dims[0]) +
                      " is not a multiple of the " + GgmlTypeName(t.type) + " block size " +
                      std::to_string(block));
    }
    // nelem / block * block_bytes cannot overflow: block_bytes <= 292 < 2*block
    // for every quantized type, and 4 * nelem fits for the rest unless absurd.
    uint64_t nblocks = static_cast<uint64_t>(nelem / block);
    if (nblocks > std::numeric_limits<uint64_t>::max() / static_cast<uint64_t>(block_bytes)) {
      return DataLoss(path + ": " + what + " is absurdly large");
    }
    t.nbytes = nblocks * static_cast<uint64_t>(block_bytes);
    SJ_RETURN_IF_ERROR(c.Read(&t.offset, what + " offset"));
    if (t.offset % alignment != 0) {
      return DataLoss(path + ": " + what + " offset " + std::to_string(t.offset) +
                      " is not a multiple of the alignment " + std::to_string(alignment));
    }
    if (g->tensor_index_.count(t.name) != 0) {
      return DataLoss(path + ": duplicate tensor '" + t.name + "'");
    }
    g->tensor_index_[t.name] = g->tensors_.size();
    g->tensors_.push_back(std::move(t));
  }

  // Data section: the position after the infos, rounded up to the alignment.
  uint64_t data_start = c.pos() + (alignment - c.pos() % alignment) % alignment;
  for (GgufTensorInfo& t : g->tensors_) {
    if (t.offset > std::numeric_limits<uint64_t>::max() - data_start ||
        !f.Contains(data_start + t.offset, t.nbytes)) {
      return DataLoss(path + ": data of tensor '" + t.name + "' (" + std::to_string(t.nbytes) +
                      " bytes at data offset " + std::to_string(t.offset) +
                      ") lies past the end of the file (" + std::to_string(f.size()) +
                      " bytes); the file is truncated or corrupt");
    }
    t.offset += data_start;
  }
  return g;
}

const GgufTensorInfo* GgufFile::FindTensor(const std::string& name) const {
  auto it = tensor_index_.find(name);
  return it == tensor_index_.end() ? nullptr : &tensors_[it->second];
}

std::span<const uint8_t> GgufFile::TensorData(const GgufTensorInfo& t) const {
  // Open() checked every tensor's range; a foreign info is a caller bug.
  auto s = file_->Slice(t.offset, t.nbytes, "tensor '" + t.name + "'");
  SJ_CHECK(s.ok()) << s.status().ToString();
  return *s;
}

namespace {
Status Missing(const std::string& path, const std::string& key) {
  return NotFound(path + ": metadata key '" + key + "' not found");
}
Status WrongType(const std::string& path, const std::string& key, const char* want) {
  return InvalidArgument(path + ": metadata key '" + key + "' is not " + want);
}
}  // namespace

Result<int64_t> GgufFile::GetInt(const std::string& key) const {
  auto it = kv_.find(key);
  if (it == kv_.end()) return Missing(path_, key);
  if (auto* v = std::get_if<int64_t>(&it->second)) return *v;
  if (auto* u = std::get_if<uint64_t>(&it->second)) {
    if (*u > static_cast<uint64_t>(std::numeric_limits<int64_t>::max())) {
      return InvalidArgument(path_ + ": metadata key '" + key + "' value is out of range");
    }
    return static_cast<int64_t>(*u);
  }
  return WrongType(path_, key, "an integer");
}

Result<double> GgufFile::GetFloat(const std::string& key) const {
  auto it = kv_.find(key);
  if (it == kv_.end()) return Missing(path_, key);
  if (auto* d = std::get_if<double>(&it->second)) return *d;
  if (auto* v = std::get_if<int64_t>(&it->second)) return static_cast<double>(*v);
  if (auto* u = std::get_if<uint64_t>(&it->second)) return static_cast<double>(*u);
  return WrongType(path_, key, "a number");
}

Result<bool> GgufFile::GetBool(const std::string& key) const {
  auto it = kv_.find(key);
  if (it == kv_.end()) return Missing(path_, key);
  if (auto* b = std::get_if<bool>(&it->second)) return *b;
  return WrongType(path_, key, "a bool");
}

Result<std::string> GgufFile::GetString(const std::string& key) const {
  auto it = kv_.find(key);
  if (it == kv_.end()) return Missing(path_, key);
  if (auto* s = std::get_if<std::string>(&it->second)) return *s;
  return WrongType(path_, key, "a string");
}

Result<std::vector<std::string>> GgufFile::GetStringArray(const std::string& key) const {
  auto it = kv_.find(key);
  if (it == kv_.end()) return Missing(path_, key);
  if (auto* s = std::get_if<std::vector<std::string>>(&it->second)) return *s;
  return WrongType(path_, key, "an array of strings");
}

Result<std::vector<int64_t>> GgufFile::GetIntArray(const std::string& key) const {
  auto it = kv_.find(key);
  if (it == kv_.end()) return Missing(path_, key);
  if (auto* s = std::get_if<std::vector<int64_t>>(&it->second)) return *s;
  return WrongType(path_, key, "an array of integers");
}

Result<std::vector<double>> GgufFile::GetFloatArray(const std::string& key) const {
  auto it = kv_.find(key);
  if (it == kv_.end()) return Missing(path_, key);
  if (auto* s = std::get_if<std::vector<double>>(&it->second)) return *s;
  if (auto* s = std::get_if<std::vector<int64_t>>(&it->second)) {
    return std::vector<double>(s->begin(), s->end());
  }
  return WrongType(path_, key, "an array of numbers");
}

}  // namespace skipjoin
