// From a validated ApiRequest to the scheduler requests the core runs: the
// step both the HTTP API and the native endpoint take after parsing, so they
// check the model, apply the chat template, tokenize, bound lengths against
// the context window and fill SubmitItems the same way.
//
// Thread-safety: PrepareGeneration is a pure function of its arguments (plus
// CoordinatorCore's thread-safe ready() and NewRequestId()); any thread. The
// GenerationSetup is immutable once built and may be shared by threads.
#pragma once

#include <algorithm>
#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "common/config/cluster_config.h"
#include "coordinator/frontend/api_error.h"
#include "coordinator/frontend/openai_request.h"
#include "coordinator/frontend/prompt_rules.h"
#include "coordinator/server/core.h"
#include "coordinator/tokenizer/chat_template.h"
#include "coordinator/tokenizer/tokenizer.h"

namespace skipjoin::frontend {

// What a frontend needs to turn requests into work; its pointers must outlive it.
struct GenerationSetup {
  const Tokenizer* tokenizer = nullptr;
  const ChatTemplate* chat_template = nullptr;
  std::vector<int32_t> stop_token_ids;     // end-of-sequence tokens (unless ignore_eos)
  std::string model_name;                  // the served model id
  std::vector<std::string> model_aliases;  // other ids requests may use (model.aliases)
  int64_t max_context = 0;                 // tokens
  config::RequestLimits limits;
};

// Whether `id` names the served model: its name, an alias, or "" (omitted).
inline bool ServesModel(const GenerationSetup& setup, const std::string& id) {
  return id.empty() || id == setup.model_name ||
         std::find(setup.model_aliases.begin(), setup.model_aliases.end(), id) !=
             setup.model_aliases.end();
}

struct PreparedGeneration {
  std::vector<TokenizedPrompt> prompts;  // completions: one per prompt; chat: one
  // n per prompt: items[p * n + s] is sample s of prompt p (the choice index);
  // ids from the core.
  std::vector<server::SubmitItem> items;
  std::vector<server::RequestId> ids;  // items[i].id
};

// The request's sampling parameters (without the per-choice seed offset):
// token ids in stop_token_ids, logit_bias, allowed_token_ids and bad_word_ids
// must be in the vocabulary (400 naming the field); bad_words are tokenized
// (BadWordTokenIds); stop_token_ids = end-of-sequence tokens (unless
// ignore_eos) plus the request's, once each.
std::optional<ApiError> ResolveSampling(const ApiRequest& request, const GenerationSetup& setup,
                                        int32_t vocab_size, SamplingParams* out);

// In order: the model must be the served one (404), a replica must be ready
// (503), the coordinator must have room for n requests per prompt (429,
// before tokenizing), the chat template must apply, each prompt's token ids
// must be in the vocabulary and its lengths must fit (ResolveMaxNewTokens;
// errors of a batch name prompt[i]), and the room for all the requests'
// prompt tokens is taken (429). On success the caller must pass the items to
// core.Submit(..., /*reserved=*/true). On error returns the ApiError, has
// taken no room, and leaves *out unspecified.
//
// max_tokens 0 (echo) schedules one token per choice, so that the worker
// scores the prompt; the response drops that token (GenerationResponse).
std::optional<ApiError> PrepareGeneration(const ApiRequest& request, const GenerationSetup& setup,
                                          server::CoordinatorCore& core, PreparedGeneration* out);

}  // namespace skipjoin::frontend
