#include "tests/fuzz/fuzz_support.h"

#include <sys/mman.h>
#include <unistd.h>

#include <algorithm>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <vector>

#include "common/gguf.h"
#include "common/logging.h"
#include "common/model_file.h"
#include "common/status.h"
#include "coordinator/tokenizer/tokenizer.h"

namespace skipjoin::fuzz {

void QuietLogs() { SetLogLevel(LogLevel::kError); }

namespace {
// Bigger tensors are skipped: the reads are the same code, only slower.
constexpr int64_t kMaxReadElements = int64_t{1} << 14;
}  // namespace

void ReadSmallTensors(const ModelFile& model) {
  const std::vector<std::string> names = {"token_embd.weight",      "output_norm.weight",
                                          "output.weight",          "blk.0.attn_q.weight",
                                          "blk.0.attn_norm.weight", "blk.0.ffn_down.weight"};
  std::vector<float> buf;
  for (const std::string& name : names) {
    if (!model.HasTensor(name)) continue;
    auto shape = model.TensorShape(name);
    SJ_CHECK(shape.ok()) << name << ": " << shape.status().ToString();
    if (shape->empty() || shape->size() > 2) continue;
    const int64_t cols = shape->back();
    const int64_t rows = std::min<int64_t>(shape->size() == 2 ? (*shape)[0] : 1, 4);
    if (cols <= 0 || rows <= 0 || rows * cols > kMaxReadElements) continue;
    buf.assign(static_cast<size_t>(rows * cols), 0.0f);
    // A type without a dequantizer is an error, never a crash.
    (void)model.ReadF32(name, {0, rows}, {0, cols}, buf.data());
    SJ_CHECK(!model.ReadF32(name, {0, rows}, {0, cols + 1}, buf.data()).ok())
        << name << ": a read past the last column succeeded";
    std::vector<uint8_t> raw;
    (void)model.ReadRaw(name, {0, rows}, {0, cols}, &raw);
  }
}

void EncodeAndDecode(const Tokenizer& tokenizer) {
  const auto ids = tokenizer.Encode("Hi <|im_start|>user\n w\xc3\xb6rld 123\xff!",
                                    /*add_special=*/true, /*parse_special=*/true);
  for (int32_t id : ids) {
    SJ_CHECK(id >= 0 && id < tokenizer.vocab_size())
        << "token id " << id << " out of the vocabulary";
  }
  (void)tokenizer.Decode(ids, /*skip_special=*/false);
}

ScratchFile::ScratchFile() {
  fd_ = ::memfd_create("skipjoin-fuzz", MFD_CLOEXEC);
  SJ_CHECK(fd_ >= 0) << "memfd_create failed";
  path_ = "/proc/self/fd/" + std::to_string(fd_);
}

ScratchFile::~ScratchFile() { ::close(fd_); }

const std::string& ScratchFile::Write(const uint8_t* data, size_t size) {
  SJ_CHECK(::ftruncate(fd_, 0) == 0) << "ftruncate failed";
  size_t done = 0;
  while (done < size) {
    const ssize_t n = ::pwrite(fd_, data + done, size - done, static_cast<off_t>(done));
    SJ_CHECK(n > 0) << "pwrite to the scratch file failed";
    done += static_cast<size_t>(n);
  }
  return path_;
}

ScratchDir::ScratchDir() {
  const char* tmp = std::getenv("TMPDIR");
  std::string templ =
      std::string(tmp != nullptr && *tmp != '\0' ? tmp : "/tmp") + "/skipjoin-fuzz-XXXXXX";
  SJ_CHECK(::mkdtemp(templ.data()) != nullptr) << "mkdtemp " << templ << " failed";
  path_ = templ;
}

ScratchDir::~ScratchDir() {
  std::error_code ec;
  std::filesystem::remove_all(path_, ec);
}

void ScratchDir::WriteFile(const std::string& name, std::string_view data) const {
  std::ofstream out(path_ + "/" + name, std::ios::binary | std::ios::trunc);
  out.write(data.data(), static_cast<std::streamsize>(data.size()));
  SJ_CHECK(out.good()) << "cannot write " << path_ << "/" << name;
}

void ScratchDir::RemoveFile(const std::string& name) const {
  std::error_code ec;
  std::filesystem::remove(path_ + "/" + name, ec);
}

}  // namespace skipjoin::fuzz
