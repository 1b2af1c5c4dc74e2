// Internal to skipjoin_tokenizer: the pre-tokenizers of byte-level BPE models.
// Each kind is one of the regexes the model families were trained with,
// implemented as a hand-written matcher over code points (no std::regex):
//
//   kGpt2:   's|'t|'re|'ve|'m|'ll|'d| ?\p{L}+| ?\p{N}+| ?[^\s\p{L}\p{N}]+|\s+(?!\S)|\s+
//   kSmolLM: \p{N} (each digit its own piece), then kGpt2 on the text between
//   kLlama3: (?i:'s|'t|'re|'ve|'m|'ll|'d)|[^\r\n\p{L}\p{N}]?\p{L}+|\p{N}{1,3}|
//            ?[^\s\p{L}\p{N}]+[\r\n]*|\s*[\r\n]+|\s+(?!\S)|\s+
//   kQwen2:  kLlama3 with \p{N} instead of \p{N}{1,3}
//
// Pure functions; safe from any thread.
#pragma once

#include <string>
#include <string_view>
#include <vector>

namespace skipjoin::tokenizer_internal {

enum class PreTokenizerKind { kGpt2, kSmolLM, kLlama3, kQwen2 };

const char* PreTokenizerName(PreTokenizerKind kind);

// Splits text into pieces whose concatenation is text with every invalid UTF-8
// byte replaced by U+FFFD. Empty text gives no pieces.
std::vector<std::string> PreTokenize(PreTokenizerKind kind, std::string_view text);

}  // namespace skipjoin::tokenizer_internal
