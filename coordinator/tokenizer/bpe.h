// Internal to skipjoin_tokenizer: the byte-level BPE model (GPT-2 style).
// Token texts are written in the byte-to-unicode alphabet (byte 0x20 is "Ġ");
// a word's bytes are mapped into that alphabet, split into single characters,
// and merged pairwise by merge rank (lowest rank first, leftmost on ties).
// Immutable after construction; const methods are safe from any thread.
#pragma once

#include <array>
#include <cstdint>
#include <string>
#include <string_view>
#include <unordered_map>
#include <vector>

#include "common/status.h"

namespace skipjoin::tokenizer_internal {

// The GPT-2 byte-to-unicode alphabet: printable Latin-1 bytes map to
// themselves, the other 68 bytes to U+0100 onwards in byte order.
class ByteLevelAlphabet {
 public:
  ByteLevelAlphabet();
  // UTF-8 of the character that stands for byte b.
  const std::string& Encode(uint8_t b) const { return byte_to_text_[b]; }
  std::string EncodeBytes(std::string_view bytes) const;
  // Decoding (text -> bytes) is common/token_bytes.h DecodeByteLevelText.

 private:
  std::array<std::string, 256> byte_to_text_;
};

class ByteLevelBpe {
 public:
  // vocab: text (in the byte-level alphabet) -> id. merges: "left right" in
  // rank order. ignore_merges: a word that is itself a token is emitted whole
  // (Llama 3 behaviour).
  static Result<ByteLevelBpe> Create(const std::unordered_map<std::string, int32_t>* vocab,
                                     const std::vector<std::string>& merges, bool ignore_merges);

  // Appends the ids of one pre-tokenized word (raw UTF-8 bytes).
  void EncodeWord(std::string_view word, std::vector<int32_t>* ids) const;

  const ByteLevelAlphabet& alphabet() const { return alphabet_; }

 private:
  ByteLevelBpe() = default;
  int MergeRank(std::string_view left, std::string_view right) const;

  const std::unordered_map<std::string, int32_t>* vocab_ = nullptr;  // owned by the Tokenizer
  std::unordered_map<std::string, int> ranks_;                       // "left right" -> rank
  bool ignore_merges_ = false;
  ByteLevelAlphabet alphabet_;
  std::array<int32_t, 256> byte_token_{};  // id of each single-byte token, -1 if absent
};

}  // namespace skipjoin::tokenizer_internal
