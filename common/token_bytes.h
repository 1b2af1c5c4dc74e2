// The raw bytes a vocabulary entry stands for, shared by the coordinator's
// tokenizer and the worker (which may not link coordinator/). Vocabulary texts
// are stored in one of two alphabets:
//   - byte-level BPE (GGUF tokenizer.ggml.model "gpt2"): the GPT-2
//     byte-to-unicode alphabet, "Ġ" (U+0120) for a space byte;
//   - SentencePiece (GGUF "llama"): "▁" (U+2581) for a space, "<0xXX>" byte
//     tokens for byte fallback.
// Control, user-defined and unknown tokens stand for their own text.
// Pure functions; any thread.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>

namespace skipjoin {

// Values as stored in GGUF tokenizer.ggml.token_type.
enum class TokenType : int32_t {
  kUndefined = 0,
  kNormal = 1,
  kUnknown = 2,
  kControl = 3,
  kUserDefined = 4,
  kUnused = 5,
  kByte = 6,
};

enum class TokenizerModel { kByteLevelBpe, kSentencePiece };

// "<0x41>" -> 0x41; -1 when text is not a byte token.
int ParseByteToken(std::string_view text);

// Appends the bytes that byte-level alphabet text stands for; false (bytes
// then holds a partial result) if a character is not in the alphabet.
bool DecodeByteLevelText(std::string_view text, std::string* bytes);

// The raw bytes of one vocabulary entry. A byte-level BPE text outside the
// alphabet (an added token) stands for its own text.
std::string TokenBytes(std::string_view text, TokenType type, TokenizerModel model);

}  // namespace skipjoin
