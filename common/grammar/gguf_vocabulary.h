// A TokenVocabulary from a GGUF file's tokenizer.ggml.* metadata, for the
// worker (and benchmarks) that hold the model file but not the coordinator's
// tokenizer. Any thread.
#pragma once

#include <cstdint>
#include <memory>
#include <vector>

#include "common/grammar/token_vocabulary.h"
#include "common/status.h"

namespace skipjoin {
class GgufFile;
}  // namespace skipjoin

namespace skipjoin::grammar {

// Token bytes through common/token_bytes.h (tokenizer.ggml.model "gpt2" or
// "llama"); control and unknown tokens are special. eos_ids: the tokens that
// end generation; empty means the file's eos_token_id and eot_token_id.
// Errors name the missing or malformed key.
Result<std::shared_ptr<const TokenVocabulary>> TokenVocabularyFromGguf(
    const GgufFile& gguf, std::vector<int32_t> eos_ids = {});

}  // namespace skipjoin::grammar
