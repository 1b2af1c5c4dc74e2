// Internal to skipjoin_tokenizer: SentencePiece-style BPE (Llama 1/2, Mistral
// GGUF "llama" vocabularies). Spaces are written as U+2581 ("▁"); the text is
// split into characters, adjacent pairs whose concatenation is a token are
// merged highest score first (leftmost on ties), and a character that is not
// a token falls back to <0xXX> byte tokens (or the unknown token).
// Immutable after construction; const methods are safe from any thread.
#pragma once

#include <array>
#include <cstdint>
#include <string>
#include <string_view>
#include <unordered_map>
#include <vector>

namespace skipjoin::tokenizer_internal {

inline constexpr char kSpmSpace[] = "\xE2\x96\x81";  // U+2581

class SentencePieceBpe {
 public:
  // vocab and scores are owned by the Tokenizer and outlive this object.
  // byte_tokens[b]: id of "<0xXX>" or -1. unk_id: -1 when there is none.
  SentencePieceBpe(const std::unordered_map<std::string, int32_t>* vocab,
                   const std::vector<float>* scores, std::array<int32_t, 256> byte_tokens,
                   int32_t unk_id)
      : vocab_(vocab), scores_(scores), byte_tokens_(byte_tokens), unk_id_(unk_id) {}

  // Appends the ids of text, which already has spaces replaced by "▁".
  void Encode(std::string_view text, std::vector<int32_t>* ids) const;

 private:
  const std::unordered_map<std::string, int32_t>* vocab_;
  const std::vector<float>* scores_;
  std::array<int32_t, 256> byte_tokens_;
  int32_t unk_id_;
};

}  // namespace skipjoin::tokenizer_internal
