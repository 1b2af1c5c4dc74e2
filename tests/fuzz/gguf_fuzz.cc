// Fuzzes the GGUF reader on whole files: GgufFile::Open (header, metadata,
// tensor infos), every typed metadata getter, tensor data and dequantization,
// the model config and the tokenizer read from the metadata, and ModelFile's
// reads. Open's contract (gguf.h): every offset and size is checked against
// the file, so TensorData() lies inside the mapping.
#include <cstddef>
#include <cstdint>
#include <string>
#include <vector>

#include "common/gguf.h"
#include "common/model_config.h"
#include "common/model_file.h"
#include "common/status.h"
#include "coordinator/tokenizer/tokenizer.h"
#include "tests/fuzz/fuzz_support.h"

namespace skipjoin::fuzz {
namespace {

constexpr int64_t kMaxDequantElements = int64_t{1} << 14;

void ReadMetadata(const GgufFile& g) {
  for (const auto& [key, value] : g.metadata()) {
    SJ_CHECK(g.Has(key)) << key;
    (void)g.GetInt(key);
    (void)g.GetFloat(key);
    (void)g.GetBool(key);
    (void)g.GetString(key);
    (void)g.GetStringArray(key);
    (void)g.GetIntArray(key);
    (void)g.GetFloatArray(key);
  }
}

void ReadTensors(const GgufFile& g) {
  std::vector<float> out;
  for (const GgufTensorInfo& t : g.tensors()) {
    SJ_CHECK(g.FindTensor(t.name) != nullptr) << t.name;
    const auto data = g.TensorData(t);
    SJ_CHECK(data.size() == t.nbytes) << t.name << ": " << data.size() << " of " << t.nbytes;
    int64_t n = 1;
    for (int64_t d : t.dims) n = d > 0 && n <= kMaxDequantElements / d ? n * d : -1;
    if (n < 0 || n > kMaxDequantElements) continue;
    out.assign(static_cast<size_t>(n), 0.0f);
    (void)DequantizeRow(t.type, data.data(), data.size(), n, out.data());
  }
}

void UseTokenizer(const GgufFile& g) {
  auto tok = Tokenizer::FromGguf(g);
  if (tok.ok()) EncodeAndDecode(**tok);
}

}  // namespace
}  // namespace skipjoin::fuzz

extern "C" int LLVMFuzzerInitialize(int*, char***) {
  skipjoin::fuzz::QuietLogs();
  return 0;
}

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  using namespace skipjoin;
  static fuzz::ScratchFile* file = new fuzz::ScratchFile();
  const std::string& path = file->Write(data, size);
  auto g = GgufFile::Open(path);
  if (!g.ok()) return 0;
  fuzz::ReadMetadata(**g);
  fuzz::ReadTensors(**g);
  (void)ModelConfigFromGguf(**g);
  fuzz::UseTokenizer(**g);
  auto model = ModelFile::Open(path);
  if (model.ok()) fuzz::ReadSmallTensors(**model);
  return 0;
}
