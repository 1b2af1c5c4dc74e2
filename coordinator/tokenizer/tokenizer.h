// Tokenizer: text <-> token ids for the served model, loaded from the model's
// GGUF metadata or a Hugging Face directory (tokenizer.json +
// tokenizer_config.json). Two model kinds:
//   - byte-level BPE (GGUF tokenizer.ggml.model "gpt2", HF BPE + ByteLevel):
//     pre-tokenizer chosen by tokenizer.ggml.pre ("smollm", "gpt2"/"default",
//     "llama3"/"llama-bpe", "qwen2", and aliases with the same regex), then
//     merges by rank;
//   - SentencePiece-style BPE (GGUF "llama"): scores, "▁" for spaces, <0xXX>
//     byte fallback, optional space prefix.
//
// Special tokens: control tokens (GGUF token_type 3, HF added tokens with
// special=true) are recognised in the input text only when Encode's
// parse_special is true; user-defined tokens (type 4, HF added tokens with
// special=false) are always recognised, as in llama.cpp and HF tokenizers.
// Recognition takes the longest token texts first.
//
// Thread-safety: immutable after construction; every const method may be
// called from any number of threads at once.
#pragma once

#include <cstdint>
#include <memory>
#include <span>
#include <string>
#include <string_view>
#include <unordered_map>
#include <vector>

#include "common/status.h"
#include "common/token_bytes.h"

namespace skipjoin {

class GgufFile;
class ModelFile;

namespace tokenizer_internal {
class ByteLevelBpe;
class SentencePieceBpe;
}  // namespace tokenizer_internal

// TokenType and TokenizerModel live in common/token_bytes.h, shared with the worker.

// Everything a Tokenizer is built from; the loaders fill it, tests may build one
// by hand.
struct TokenizerSpec {
  TokenizerModel model = TokenizerModel::kByteLevelBpe;
  // id -> text: byte-level alphabet ("Ġ" for a space) for BPE, "▁" for spaces
  // and "<0xXX>" byte tokens for SentencePiece; special tokens verbatim.
  std::vector<std::string> tokens;
  std::vector<TokenType> types;     // per id; empty means all kNormal
  std::vector<float> scores;        // SentencePiece merge priority (higher first)
  std::vector<std::string> merges;  // BPE "left right", lowest rank first
  // Pre-tokenizer name as in GGUF tokenizer.ggml.pre (BPE only).
  std::string pre = "gpt2";
  int32_t bos_id = -1;  // -1: none
  int32_t eos_id = -1;
  int32_t unk_id = -1;
  int32_t eot_id = -1;   // end of turn, when the model names one
  bool add_bos = false;  // Encode(add_special=true) prepends BOS
  bool add_eos = false;  // Encode(add_special=true) appends EOS
  // SentencePiece: prefix a space to text at the start and after each special
  // token; Decode drops the first emitted token's leading space.
  bool add_space_prefix = false;
  std::string chat_template;  // jinja text; empty when the model has none
};

class Tokenizer {
 public:
  static Result<std::unique_ptr<Tokenizer>> FromSpec(TokenizerSpec spec);
  // GGUF tokenizer.ggml.* metadata. Errors name the missing or malformed key.
  static Result<std::unique_ptr<Tokenizer>> FromGguf(const GgufFile& gguf);
  // dir holds tokenizer.json and (optionally) tokenizer_config.json.
  static Result<std::unique_ptr<Tokenizer>> FromHfDir(const std::string& dir);
  // GGUF metadata when the model is a GGUF file, else the HF files in its dir.
  static Result<std::unique_ptr<Tokenizer>> FromModelFile(const ModelFile& model);

  ~Tokenizer();
  Tokenizer(const Tokenizer&) = delete;
  Tokenizer& operator=(const Tokenizer&) = delete;

  // add_special: BOS (and EOS) as the model's add_bos/add_eos say.
  // parse_special: control-token text in `text` becomes that token's id.
  // Invalid UTF-8 bytes in text are encoded as U+FFFD. Never fails.
  std::vector<int32_t> Encode(std::string_view text, bool add_special, bool parse_special) const;

  // Concatenated bytes of the tokens (may be invalid UTF-8 when ids split a
  // character). Contract: ids outside [0, vocab_size()) are skipped. With
  // skip_special, special tokens (IsSpecial) give no text.
  std::string Decode(std::span<const int32_t> ids, bool skip_special) const;

  // The raw bytes one token stands for ("" for an out-of-range id). For
  // SentencePiece, "▁" is a space and <0xXX> is that byte; special tokens give
  // their text. Decode is the concatenation of TokenPiece, except for
  // skipped specials and the SentencePiece leading-space rule.
  std::string TokenPiece(int32_t id) const;

  int32_t vocab_size() const { return static_cast<int32_t>(spec_.tokens.size()); }
  int32_t bos_id() const { return spec_.bos_id; }
  int32_t eos_id() const { return spec_.eos_id; }
  int32_t unk_id() const { return spec_.unk_id; }
  TokenizerModel model() const { return spec_.model; }
  // The pre-tokenizer in use (canonical name), "" for SentencePiece.
  const std::string& pre() const { return pre_name_; }
  bool add_bos() const { return spec_.add_bos; }
  // Whether Decode drops the first emitted token's leading space.
  bool strips_leading_space() const {
    return spec_.model == TokenizerModel::kSentencePiece && spec_.add_space_prefix;
  }

  // Control and unknown tokens; false for out-of-range ids.
  bool IsSpecial(int32_t id) const;
  TokenType token_type(int32_t id) const;
  // The token's text as stored in the vocabulary, "" if out of range.
  const std::string& TokenText(int32_t id) const;
  // Id of the token whose stored text is exactly `text`, or -1.
  int32_t TokenId(std::string_view text) const;

  // EOS, the model's end-of-turn token and the usual end-of-generation tokens
  // present in the vocabulary (<|im_end|>, <|eot_id|>, <|end_of_text|>,
  // <|endoftext|>, <|eom_id|>, <|end|>, <end_of_turn>), sorted, unique.
  std::vector<int32_t> StopTokenIds() const;

  // The model's chat template (jinja source), "" when it has none.
  const std::string& chat_template() const { return spec_.chat_template; }

 private:
  Tokenizer() = default;
  Status Init(TokenizerSpec spec);
  void EncodeText(std::string_view text, bool prefix_space, std::vector<int32_t>* ids) const;

  TokenizerSpec spec_;
  std::vector<TokenType> types_;
  std::string pre_name_;
  int pre_kind_ = 0;                                // tokenizer_internal::PreTokenizerKind
  std::unordered_map<std::string, int32_t> vocab_;  // text -> id (lowest id wins)
  std::vector<std::string> pieces_;                 // id -> raw bytes (TokenPiece)
  // Control and user-defined tokens that Encode can recognise in the input,
  // longest text first (ties: lower id first).
  std::vector<int32_t> parsable_;
  std::unique_ptr<tokenizer_internal::ByteLevelBpe> bpe_;
  std::unique_ptr<tokenizer_internal::SentencePieceBpe> spm_;
};

}  // namespace skipjoin
