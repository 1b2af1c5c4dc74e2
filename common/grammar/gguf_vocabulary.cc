#include "common/grammar/gguf_vocabulary.h"

#include "common/gguf.h"
#include "common/token_bytes.h"

namespace skipjoin::grammar {

Result<std::shared_ptr<const TokenVocabulary>> TokenVocabularyFromGguf(
    const GgufFile& gguf, std::vector<int32_t> eos_ids) {
  auto fail = [&](const Status& s) { return s.WithContext(gguf.path() + ": "); };
  auto model_name = gguf.GetString("tokenizer.ggml.model");
  if (!model_name.ok()) return fail(model_name.status());
  TokenizerModel model;
  if (*model_name == "gpt2") {
    model = TokenizerModel::kByteLevelBpe;
  } else if (*model_name == "llama") {
    model = TokenizerModel::kSentencePiece;
  } else {
    return fail(
        Unimplemented("tokenizer.ggml.model \"" + *model_name + "\" (supported: gpt2, llama)"));
  }
  auto texts = gguf.GetStringArray("tokenizer.ggml.tokens");
  if (!texts.ok()) return fail(texts.status());
  std::vector<int64_t> types(texts->size(), static_cast<int64_t>(TokenType::kNormal));
  if (gguf.Has("tokenizer.ggml.token_type")) {
    auto t = gguf.GetIntArray("tokenizer.ggml.token_type");
    if (!t.ok()) return fail(t.status());
    if (t->size() != texts->size()) {
      return fail(DataLoss("tokenizer.ggml.token_type length differs from tokens"));
    }
    types = std::move(*t);
  }
  std::vector<std::string> bytes(texts->size());
  std::vector<bool> special(texts->size(), false);
  for (size_t i = 0; i < texts->size(); ++i) {
    const auto type = static_cast<TokenType>(types[i]);
    bytes[i] = TokenBytes((*texts)[i], type, model);
    special[i] = type == TokenType::kControl || type == TokenType::kUnknown;
  }
  if (eos_ids.empty()) {
    for (const char* key : {"tokenizer.ggml.eos_token_id", "tokenizer.ggml.eot_token_id"}) {
      if (!gguf.Has(key)) continue;
      auto id = gguf.GetInt(key);
      if (!id.ok()) return fail(id.status());
      eos_ids.push_back(static_cast<int32_t>(*id));
    }
  }
  auto vocab = TokenVocabulary::Create(std::move(bytes), std::move(special), std::move(eos_ids));
  if (!vocab.ok()) return fail(vocab.status());
  return vocab;
}

}  // namespace skipjoin::grammar
