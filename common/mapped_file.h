// MappedFile: a read-only memory map of a whole file with bounds-checked
// access. Model readers (GGUF, safetensors) never dereference a pointer they
// did not get from Slice(), so a header that lies about offsets or sizes turns
// into a Status instead of an out-of-bounds read.
// Thread-safety: immutable after Open; any thread may call the const methods.
#pragma once

#include <cstdint>
#include <memory>
#include <span>
#include <string>

#include "common/status.h"

namespace skipjoin {

class MappedFile {
 public:
  // NotFound when the file cannot be opened, InvalidArgument for a directory.
  // An empty file maps to size() == 0 and data() == nullptr.
  static Result<std::unique_ptr<MappedFile>> Open(const std::string& path);
  ~MappedFile();
  MappedFile(const MappedFile&) = delete;
  MappedFile& operator=(const MappedFile&) = delete;

  const std::string& path() const { return path_; }
  uint64_t size() const { return size_; }

  // [offset, offset + len) of the file, or DataLoss naming the file and what
  // was being read when the range does not lie inside it. `what` describes
  // the read for the error message (e.g. "tensor blk.0.attn_q.weight").
  Result<std::span<const uint8_t>> Slice(uint64_t offset, uint64_t len,
                                         const std::string& what = "data") const;
  // True when [offset, offset + len) lies inside the file (overflow-safe).
  bool Contains(uint64_t offset, uint64_t len) const {
    return offset <= size_ && len <= size_ - offset;
  }

 private:
  MappedFile() = default;
  std::string path_;
  const uint8_t* data_ = nullptr;
  uint64_t size_ = 0;
};

}  // namespace skipjoin
