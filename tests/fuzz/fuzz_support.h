// Helpers shared by the libFuzzer targets in tests/fuzz: scratch files for
// readers that take a path, and the quiet logging every target starts with.
//
// A target runs single-threaded in one process, so each keeps one ScratchFile
// or ScratchDir for its whole life and rewrites it per input.
#pragma once

#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>

namespace skipjoin {
class ModelFile;
class Tokenizer;
}  // namespace skipjoin

namespace skipjoin::fuzz {

// Warnings for bad input are expected by the thousand; only errors are shown.
void QuietLogs();

// Reads every small tensor of an opened model (ReadF32 of up to 4 rows,
// ReadRaw where the format has it) and checks what the reads promise: success
// for ranges inside the shape, an error for ranges outside it.
void ReadSmallTensors(const ModelFile& model);

// Encodes a fixed text with special tokens and invalid UTF-8, checks that
// every id lies in the vocabulary, and decodes the ids again.
void EncodeAndDecode(const Tokenizer& tokenizer);

// An anonymous in-memory file (memfd), reachable by path through
// /proc/self/fd, so a reader that opens a path sees exactly `data`.
class ScratchFile {
 public:
  ScratchFile();
  ~ScratchFile();
  ScratchFile(const ScratchFile&) = delete;
  ScratchFile& operator=(const ScratchFile&) = delete;

  // Replaces the contents; returns the path that opens them.
  const std::string& Write(const uint8_t* data, size_t size);
  const std::string& path() const { return path_; }

 private:
  int fd_ = -1;
  std::string path_;
};

// A private directory under $TMPDIR (default /tmp), removed with its files on
// destruction.
class ScratchDir {
 public:
  ScratchDir();
  ~ScratchDir();
  ScratchDir(const ScratchDir&) = delete;
  ScratchDir& operator=(const ScratchDir&) = delete;

  const std::string& path() const { return path_; }
  // Writes (or replaces) path()/name.
  void WriteFile(const std::string& name, std::string_view data) const;
  void RemoveFile(const std::string& name) const;

 private:
  std::string path_;
};

}  // namespace skipjoin::fuzz
