// ModelFile over a Hugging Face directory: config.json plus model.safetensors,
// or model.safetensors.index.json naming several shards. A safetensors file is
//   u64 header_len | header_len bytes of JSON | data
// where the JSON maps tensor names to {dtype, shape, data_offsets: [begin, end)}
// relative to the data section. Shapes are row-major already.
#include <sys/stat.h>

#include <algorithm>
#include <cstring>
#include <fstream>
#include <limits>
#include <map>
#include <nlohmann/json.hpp>
#include <sstream>

#include "common/gguf.h"
#include "common/logging.h"
#include "common/mapped_file.h"
#include "common/model_file_internal.h"

namespace skipjoin::internal {
namespace {

using nlohmann::json;

constexpr uint64_t kMaxHeaderBytes = uint64_t{100} << 20;

struct StTensor {
  size_t shard = 0;
  std::string hf_name;
  std::string dtype;
  std::vector<int64_t> shape;
  uint64_t offset = 0;  // absolute in the shard
  uint64_t nbytes = 0;
};

// Element size of a safetensors dtype; 0 when unknown.
int64_t DtypeSize(const std::string& d) {
  if (d == "F64" || d == "I64" || d == "U64") return 8;
  if (d == "F32" || d == "I32" || d == "U32") return 4;
  if (d == "F16" || d == "BF16" || d == "I16" || d == "U16") return 2;
  if (d == "I8" || d == "U8" || d == "BOOL" || d == "F8_E4M3" || d == "F8_E5M2") return 1;
  return 0;
}

Result<std::string> ReadTextFile(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  if (!in) return NotFound("cannot open " + path);
  std::ostringstream ss;
  ss << in.rdbuf();
  return ss.str();
}

bool FileExists(const std::string& path) {
  struct stat st;
  return ::stat(path.c_str(), &st) == 0 && S_ISREG(st.st_mode);
}

class SafetensorsModelFile final : public ModelFile {
 public:
  const std::string& path() const override { return dir_; }
  const ModelConfig& config() const override { return config_; }
  const char* format() const override { return "safetensors"; }

  bool HasTensor(const std::string& name) const override { return tensors_.count(name) != 0; }

  Result<std::vector<int64_t>> TensorShape(const std::string& name) const override {
    SJ_ASSIGN_OR_RETURN(const StTensor* t, Find(name));
    return t->shape;
  }

  Status ReadF32(const std::string& name, IndexRange rows, IndexRange cols,
                 float* dst) const override {
    SJ_ASSIGN_OR_RETURN(const StTensor* t, Find(name));
    const MappedFile& f = *shards_[t->shard];
    SJ_ASSIGN_OR_RETURN(auto rc, CheckReadRange(f.path(), name, t->shape, rows, cols));
    GgmlType type;
    if (t->dtype == "F32") {
      type = GgmlType::kF32;
    } else if (t->dtype == "F16") {
      type = GgmlType::kF16;
    } else if (t->dtype == "BF16") {
      type = GgmlType::kBF16;
    } else {
      return Unimplemented(f.path() + ": tensor '" + t->hf_name + "' has dtype " + t->dtype +
                           " (supported: F32, F16, BF16)");
    }
    const uint64_t esize = static_cast<uint64_t>(DtypeSize(t->dtype));
    const uint64_t row_bytes = static_cast<uint64_t>(rc.second) * esize;
    for (int64_t r = rows.begin; r < rows.end; ++r) {
      const uint64_t off = t->offset + r * row_bytes + cols.begin * esize;
      SJ_ASSIGN_OR_RETURN(auto src,
                          f.Slice(off, cols.size() * esize, "tensor '" + t->hf_name + "'"));
      SJ_RETURN_IF_ERROR(DequantizeRow(type, src.data(), src.size(), cols.size(),
                                       dst + (r - rows.begin) * cols.size()));
    }
    return Status::Ok();
  }

  Status Load(const std::string& dir);

 private:
  Result<const StTensor*> Find(const std::string& name) const {
    auto it = tensors_.find(name);
    if (it == tensors_.end()) return NotFound(dir_ + ": tensor '" + name + "' not found");
    return &it->second;
  }
  Status LoadShard(const std::string& file);

  std::string dir_;
  ModelConfig config_;
  std::vector<std::unique_ptr<MappedFile>> shards_;
  std::map<std::string, StTensor> tensors_;  // by canonical name
};

Status SafetensorsModelFile::LoadShard(const std::string& file) {
  SJ_ASSIGN_OR_RETURN(auto f, MappedFile::Open(file));
  uint64_t header_len = 0;
  SJ_ASSIGN_OR_RETURN(auto len_bytes, f->Slice(0, 8, "safetensors header length"));
  std::memcpy(&header_len, len_bytes.data(), 8);
  if (header_len > kMaxHeaderBytes || header_len > f->size() - 8) {
    return DataLoss(file + ": safetensors header length " + std::to_string(header_len) +
                    " is larger than the file or the " + std::to_string(kMaxHeaderBytes) +
                    "-byte limit");
  }
  SJ_ASSIGN_OR_RETURN(auto hbytes, f->Slice(8, header_len, "safetensors header"));
  json h = json::parse(hbytes.begin(), hbytes.end(), nullptr, /*allow_exceptions=*/false);
  if (h.is_discarded() || !h.is_object()) {
    return DataLoss(file + ": safetensors header is not a JSON object");
  }
  const uint64_t data_start = 8 + header_len;
  const uint64_t data_len = f->size() - data_start;
  const size_t shard = shards_.size();
  for (const auto& [name, v] : h.items()) {
    if (name == "__metadata__") continue;
    const std::string what = file + ": tensor '" + name + "'";
    if (!v.is_object() || !v.contains("dtype") || !v["dtype"].is_string() || !v.contains("shape") ||
        !v["shape"].is_array() || !v.contains("data_offsets") || !v["data_offsets"].is_array() ||
        v["data_offsets"].size() != 2) {
      return DataLoss(what + ": header entry needs dtype, shape and data_offsets [begin, end]");
    }
    StTensor t;
    t.shard = shard;
    t.hf_name = name;
    t.dtype = v["dtype"].get<std::string>();
    const int64_t esize = DtypeSize(t.dtype);
    if (esize == 0) return DataLoss(what + ": unknown dtype '" + t.dtype + "'");
    uint64_t nelem = 1;
    for (const json& d : v["shape"]) {
      if (!d.is_number_unsigned())
        return DataLoss(what + ": shape must hold non-negative integers");
      const uint64_t dim = d.get<uint64_t>();
      if (dim > (uint64_t{1} << 40) || (dim != 0 && nelem > (uint64_t{1} << 48) / dim)) {
        return DataLoss(what + ": absurd shape");
      }
      nelem *= dim;
      t.shape.push_back(static_cast<int64_t>(dim));
    }
    const json& offs = v["data_offsets"];
    if (!offs[0].is_number_unsigned() || !offs[1].is_number_unsigned()) {
      return DataLoss(what + ": data_offsets must be non-negative integers");
    }
    const uint64_t begin = offs[0].get<uint64_t>(), end = offs[1].get<uint64_t>();
    if (begin > end || end > data_len) {
      return DataLoss(what + ": data_offsets [" + std::to_string(begin) + ", " +
                      std::to_string(end) + ") lie outside the " + std::to_string(data_len) +
                      "-byte data section");
    }
    if (end - begin != nelem * static_cast<uint64_t>(esize)) {
      return DataLoss(what + ": " + std::to_string(end - begin) +
                      " data bytes do not match shape x " + t.dtype + " (" +
                      std::to_string(nelem * esize) + " bytes)");
    }
    t.offset = data_start + begin;
    t.nbytes = end - begin;
    std::string canonical = CanonicalTensorName(name);
    if (tensors_.count(canonical) != 0) {
      return DataLoss(what + ": tensor appears twice (as '" + tensors_[canonical].hf_name +
                      "' in " + shards_[tensors_[canonical].shard]->path() + ")");
    }
    tensors_.emplace(std::move(canonical), std::move(t));
  }
  shards_.push_back(std::move(f));
  return Status::Ok();
}

Status SafetensorsModelFile::Load(const std::string& dir) {
  dir_ = dir;
  const std::string config_path = dir + "/config.json";
  SJ_ASSIGN_OR_RETURN(std::string config_text, ReadTextFile(config_path));
  SJ_ASSIGN_OR_RETURN(config_, ModelConfigFromHfJson(config_text, config_path));

  const std::string index_path = dir + "/model.safetensors.index.json";
  const std::string single_path = dir + "/model.safetensors";
  if (FileExists(index_path)) {
    SJ_ASSIGN_OR_RETURN(std::string text, ReadTextFile(index_path));
    json idx = json::parse(text, nullptr, /*allow_exceptions=*/false);
    if (idx.is_discarded() || !idx.is_object() || !idx.contains("weight_map") ||
        !idx["weight_map"].is_object()) {
      return DataLoss(index_path + ": expected a JSON object with a 'weight_map' object");
    }
    std::vector<std::string> files;
    for (const auto& [name, file] : idx["weight_map"].items()) {
      if (!file.is_string())
        return DataLoss(index_path + ": weight_map['" + name + "'] is not a string");
      const std::string fname = file.get<std::string>();
      // Shards live in the model directory; refuse paths that leave it.
      if (fname.empty() || fname.find('/') != std::string::npos || fname == "." || fname == "..") {
        return DataLoss(index_path + ": bad shard file name '" + fname + "' for '" + name + "'");
      }
      if (std::find(files.begin(), files.end(), fname) == files.end()) files.push_back(fname);
    }
    for (const std::string& fname : files) SJ_RETURN_IF_ERROR(LoadShard(dir + "/" + fname));
    for (const auto& [name, file] : idx["weight_map"].items()) {
      auto it = tensors_.find(CanonicalTensorName(name));
      if (it == tensors_.end() || it->second.hf_name != name ||
          shards_[it->second.shard]->path() != dir + "/" + file.get<std::string>()) {
        return DataLoss(index_path + ": tensor '" + name + "' is not in its shard " +
                        file.get<std::string>());
      }
    }
  } else if (FileExists(single_path)) {
    SJ_RETURN_IF_ERROR(LoadShard(single_path));
  } else {
    return NotFound(dir + ": neither model.safetensors nor model.safetensors.index.json exists");
  }

  if (!config_.tied_embeddings && !HasTensor("output.weight")) {
    SJ_LOG(Info) << dir << ": no lm_head.weight; using tied embeddings";
    config_.tied_embeddings = true;
  }
  if (HasTensor("blk.0.attn_q.bias")) config_.qkv_bias = true;
  return ValidateModelTensors(*this, config_);
}

}  // namespace

Result<std::unique_ptr<ModelFile>> OpenSafetensorsModelFile(const std::string& dir) {
  auto m = std::make_unique<SafetensorsModelFile>();
  SJ_RETURN_IF_ERROR(m->Load(dir));
  return std::unique_ptr<ModelFile>(std::move(m));
}

}  // namespace skipjoin::internal
