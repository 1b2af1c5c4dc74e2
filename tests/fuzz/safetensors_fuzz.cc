// Fuzzes the Hugging Face model directory readers. Byte 0 chooses the file
// the rest of the input becomes, in a directory that otherwise holds the
// tiny model of fuzz_models.h:
//   0: model.safetensors, opened with ModelFile::Open and read back
//   1: config.json, parsed with ModelConfigFromHfJson
//   2: tokenizer.json, loaded with Tokenizer::FromHfDir and used once
#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>

#include "common/model_config.h"
#include "common/model_file.h"
#include "common/status.h"
#include "coordinator/tokenizer/tokenizer.h"
#include "tests/fuzz/fuzz_models.h"
#include "tests/fuzz/fuzz_support.h"

namespace {

skipjoin::fuzz::ScratchDir* model_dir = nullptr;

}  // namespace

extern "C" int LLVMFuzzerInitialize(int*, char***) {
  using namespace skipjoin;
  fuzz::QuietLogs();
  model_dir = new fuzz::ScratchDir();
  const Status written = testutil::WriteTinyHfDir(fuzz::FuzzModelSpec(), model_dir->path());
  SJ_CHECK(written.ok()) << written.ToString();
  return 0;
}

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  using namespace skipjoin;
  if (size == 0) return 0;
  const std::string_view rest(reinterpret_cast<const char*>(data) + 1, size - 1);
  switch (data[0] % 3) {
    case 0: {
      model_dir->WriteFile("model.safetensors", rest);
      auto model = ModelFile::Open(model_dir->path());
      if (model.ok()) fuzz::ReadSmallTensors(**model);
      break;
    }
    case 1:
      (void)ModelConfigFromHfJson(std::string(rest), "config.json");
      break;
    case 2: {
      model_dir->WriteFile("tokenizer.json", rest);
      auto tok = Tokenizer::FromHfDir(model_dir->path());
      if (tok.ok()) fuzz::EncodeAndDecode(**tok);
      break;
    }
  }
  return 0;
}
