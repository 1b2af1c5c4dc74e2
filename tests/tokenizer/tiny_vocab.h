// Hand-built tiny vocabularies for the tokenizer unit tests.
#pragma once

#include <gtest/gtest.h>

#include <memory>
#include <string>
#include <vector>

#include "coordinator/tokenizer/bpe.h"
#include "coordinator/tokenizer/tokenizer.h"

namespace skipjoin::testing_tok {

// Byte-level BPE: ids 0..255 are the single bytes (byte-level alphabet), then
// `extra` tokens (already in the alphabet, e.g. "Ġw"), then `specials`.
inline TokenizerSpec ByteLevelSpec(
    const std::vector<std::string>& extra, const std::vector<std::string>& merges,
    const std::vector<std::pair<std::string, TokenType>>& specials = {}) {
  TokenizerSpec spec;
  spec.model = TokenizerModel::kByteLevelBpe;
  tokenizer_internal::ByteLevelAlphabet alphabet;
  for (int b = 0; b < 256; ++b) spec.tokens.push_back(alphabet.Encode(static_cast<uint8_t>(b)));
  for (const auto& e : extra) spec.tokens.push_back(e);
  spec.types.assign(spec.tokens.size(), TokenType::kNormal);
  for (const auto& [text, type] : specials) {
    spec.tokens.push_back(text);
    spec.types.push_back(type);
  }
  spec.merges = merges;
  spec.pre = "gpt2";
  return spec;
}

inline std::unique_ptr<Tokenizer> Build(TokenizerSpec spec) {
  auto t = Tokenizer::FromSpec(std::move(spec));
  EXPECT_TRUE(t.ok()) << t.status().ToString();
  return t.ok() ? std::move(*t) : nullptr;
}

}  // namespace skipjoin::testing_tok
