#include "coordinator/tokenizer/tokenizer.h"

#include <algorithm>
#include <array>
#include <cstdio>

#include "common/logging.h"
#include "coordinator/tokenizer/bpe.h"
#include "coordinator/tokenizer/pretokenize.h"
#include "coordinator/tokenizer/spm.h"
#include "coordinator/tokenizer/unicode.h"

namespace skipjoin {

using tokenizer_internal::ByteLevelBpe;
using tokenizer_internal::PreTokenizerKind;
using tokenizer_internal::SentencePieceBpe;

namespace {

struct PreAlias {
  const char* name;
  PreTokenizerKind kind;
  bool ignore_merges;
};

// tokenizer.ggml.pre values and the regex family each one uses. "default" is
// what converters write when they do not know better; it is treated as GPT-2.
constexpr PreAlias kPreAliases[] = {
    {"gpt2", PreTokenizerKind::kGpt2, false},        {"default", PreTokenizerKind::kGpt2, false},
    {"gpt-2", PreTokenizerKind::kGpt2, false},       {"mpt", PreTokenizerKind::kGpt2, false},
    {"olmo", PreTokenizerKind::kGpt2, false},        {"smollm", PreTokenizerKind::kSmolLM, false},
    {"starcoder", PreTokenizerKind::kSmolLM, false}, {"refact", PreTokenizerKind::kSmolLM, false},
    {"codeshell", PreTokenizerKind::kSmolLM, false}, {"llama3", PreTokenizerKind::kLlama3, true},
    {"llama-bpe", PreTokenizerKind::kLlama3, true},  {"llama-v3", PreTokenizerKind::kLlama3, true},
    {"qwen2", PreTokenizerKind::kQwen2, false},
};

std::string ReplaceAll(std::string s, std::string_view from, std::string_view to) {
  size_t pos = 0;
  while ((pos = s.find(from, pos)) != std::string::npos) {
    s.replace(pos, from.size(), to);
    pos += to.size();
  }
  return s;
}

}  // namespace

Tokenizer::~Tokenizer() = default;

Result<std::unique_ptr<Tokenizer>> Tokenizer::FromSpec(TokenizerSpec spec) {
  std::unique_ptr<Tokenizer> t(new Tokenizer());
  SJ_RETURN_IF_ERROR(t->Init(std::move(spec)));
  return t;
}

Status Tokenizer::Init(TokenizerSpec spec) {
  spec_ = std::move(spec);
  const size_t n = spec_.tokens.size();
  if (n == 0) return InvalidArgument("tokenizer has an empty vocabulary");
  if (n > static_cast<size_t>(INT32_MAX)) return InvalidArgument("tokenizer vocabulary too large");
  if (!spec_.types.empty() && spec_.types.size() != n) {
    return InvalidArgument("token_type has " + std::to_string(spec_.types.size()) +
                           " entries for " + std::to_string(n) + " tokens");
  }
  if (!spec_.scores.empty() && spec_.scores.size() != n) {
    return InvalidArgument("scores has " + std::to_string(spec_.scores.size()) + " entries for " +
                           std::to_string(n) + " tokens");
  }
  for (int32_t* id : {&spec_.bos_id, &spec_.eos_id, &spec_.unk_id, &spec_.eot_id}) {
    if (*id < -1 || *id >= static_cast<int32_t>(n)) {
      return InvalidArgument("special token id " + std::to_string(*id) +
                             " outside the vocabulary of " + std::to_string(n));
    }
  }
  types_ = spec_.types.empty() ? std::vector<TokenType>(n, TokenType::kNormal) : spec_.types;
  vocab_.reserve(n);
  for (size_t i = 0; i < n; ++i) vocab_.emplace(spec_.tokens[i], static_cast<int32_t>(i));

  if (spec_.model == TokenizerModel::kByteLevelBpe) {
    const PreAlias* alias = nullptr;
    for (const PreAlias& a : kPreAliases) {
      if (spec_.pre == a.name) alias = &a;
    }
    if (alias == nullptr) {
      return Unimplemented("unsupported BPE pre-tokenizer \"" + spec_.pre +
                           "\" (supported: gpt2/default, smollm, llama3/llama-bpe, qwen2)");
    }
    pre_kind_ = static_cast<int>(alias->kind);
    pre_name_ = tokenizer_internal::PreTokenizerName(alias->kind);
    SJ_ASSIGN_OR_RETURN(ByteLevelBpe bpe,
                        ByteLevelBpe::Create(&vocab_, spec_.merges, alias->ignore_merges));
    bpe_ = std::make_unique<ByteLevelBpe>(std::move(bpe));
  } else {
    std::array<int32_t, 256> byte_tokens;
    byte_tokens.fill(-1);
    for (size_t i = 0; i < n; ++i) {
      const int b = ParseByteToken(spec_.tokens[i]);
      if (b >= 0 && (types_[i] == TokenType::kByte || spec_.types.empty()) && byte_tokens[b] < 0) {
        byte_tokens[b] = static_cast<int32_t>(i);
      }
    }
    if (spec_.scores.empty()) spec_.scores.assign(n, 0.0f);
    spm_ = std::make_unique<SentencePieceBpe>(&vocab_, &spec_.scores, byte_tokens, spec_.unk_id);
  }

  // Raw bytes per token (common/token_bytes.h, the one decoder of vocabulary texts).
  pieces_.resize(n);
  for (size_t i = 0; i < n; ++i) pieces_[i] = TokenBytes(spec_.tokens[i], types_[i], spec_.model);

  for (size_t i = 0; i < n; ++i) {
    if ((types_[i] == TokenType::kControl || types_[i] == TokenType::kUserDefined) &&
        !spec_.tokens[i].empty()) {
      parsable_.push_back(static_cast<int32_t>(i));
    }
  }
  std::stable_sort(parsable_.begin(), parsable_.end(), [&](int32_t a, int32_t b) {
    return spec_.tokens[a].size() > spec_.tokens[b].size();
  });
  return Status::Ok();
}

void Tokenizer::EncodeText(std::string_view text, bool prefix_space,
                           std::vector<int32_t>* ids) const {
  if (bpe_) {
    const auto kind = static_cast<PreTokenizerKind>(pre_kind_);
    for (const std::string& word : tokenizer_internal::PreTokenize(kind, text))
      bpe_->EncodeWord(word, ids);
    return;
  }
  std::string s;
  s.reserve(text.size() + 3);
  if (prefix_space) s += tokenizer_internal::kSpmSpace;
  s += ReplaceAll(tokenizer_internal::SanitizeUtf8(text), " ", tokenizer_internal::kSpmSpace);
  spm_->Encode(s, ids);
}

std::vector<int32_t> Tokenizer::Encode(std::string_view text, bool add_special,
                                       bool parse_special) const {
  // Fragments of the input: raw text (token < 0) or a recognised token.
  struct Fragment {
    int32_t token;
    size_t begin;
    size_t end;
  };
  std::vector<Fragment> frags = {{-1, 0, text.size()}};
  for (int32_t id : parsable_) {
    if (!parse_special && types_[id] == TokenType::kControl) continue;
    const std::string& tok = spec_.tokens[id];
    if (text.find(tok) == std::string_view::npos) continue;
    std::vector<Fragment> next;
    next.reserve(frags.size() + 2);
    for (const Fragment& f : frags) {
      if (f.token >= 0) {
        next.push_back(f);
        continue;
      }
      size_t pos = f.begin;
      while (pos < f.end) {
        const size_t hit = text.substr(0, f.end).find(tok, pos);
        if (hit == std::string_view::npos) break;
        if (hit > pos) next.push_back({-1, pos, hit});
        next.push_back({id, hit, hit + tok.size()});
        pos = hit + tok.size();
      }
      if (pos < f.end) next.push_back({-1, pos, f.end});
    }
    frags = std::move(next);
  }

  std::vector<int32_t> ids;
  ids.reserve(text.size() / 3 + 4);
  if (add_special && spec_.add_bos && spec_.bos_id >= 0) ids.push_back(spec_.bos_id);
  // SentencePiece prefixes a space at the start and after each special token.
  bool prev_special = true;
  for (const Fragment& f : frags) {
    if (f.token >= 0) {
      ids.push_back(f.token);
      prev_special = true;
      continue;
    }
    if (f.begin == f.end) continue;
    EncodeText(text.substr(f.begin, f.end - f.begin), spec_.add_space_prefix && prev_special, &ids);
    prev_special = false;
  }
  if (add_special && spec_.add_eos && spec_.eos_id >= 0) ids.push_back(spec_.eos_id);
  return ids;
}

std::string Tokenizer::Decode(std::span<const int32_t> ids, bool skip_special) const {
  std::string out;
  bool first = true;
  for (int32_t id : ids) {
    if (id < 0 || id >= vocab_size()) continue;  // documented: skipped
    if (skip_special && IsSpecial(id)) continue;
    const std::string& piece = pieces_[id];
    if (first && strips_leading_space() && !piece.empty() && piece[0] == ' ') {
      out.append(piece, 1);
    } else {
      out += piece;
    }
    first = false;
  }
  return out;
}

std::string Tokenizer::TokenPiece(int32_t id) const {
  if (id < 0 || id >= vocab_size()) return "";
  return pieces_[id];
}

bool Tokenizer::IsSpecial(int32_t id) const {
  if (id < 0 || id >= vocab_size()) return false;
  return types_[id] == TokenType::kControl || types_[id] == TokenType::kUnknown;
}

TokenType Tokenizer::token_type(int32_t id) const {
  if (id < 0 || id >= vocab_size()) return TokenType::kUndefined;
  return types_[id];
}

const std::string& Tokenizer::TokenText(int32_t id) const {
  static const std::string kEmpty;
  if (id < 0 || id >= vocab_size()) return kEmpty;
  return spec_.tokens[id];
}

int32_t Tokenizer::TokenId(std::string_view text) const {
  auto it = vocab_.find(std::string(text));
  return it == vocab_.end() ? -1 : it->second;
}

std::vector<int32_t> Tokenizer::StopTokenIds() const {
  std::vector<int32_t> ids;
  if (spec_.eos_id >= 0) ids.push_back(spec_.eos_id);
  if (spec_.eot_id >= 0) ids.push_back(spec_.eot_id);
  for (const char* text : {"<|im_end|>", "<|eot_id|>", "<|end_of_text|>", "<|endoftext|>",
                           "<|eom_id|>", "<|end|>", "<end_of_turn>"}) {
    const int32_t id = TokenId(text);
    // Only as a special token: a normal token spelling the same text is text.
    if (id >= 0 && (types_[id] == TokenType::kControl || types_[id] == TokenType::kUserDefined)) {
      ids.push_back(id);
    }
  }
  std::sort(ids.begin(), ids.end());
  ids.erase(std::unique(ids.begin(), ids.end()), ids.end());
  return ids;
}

}  // namespace skipjoin
