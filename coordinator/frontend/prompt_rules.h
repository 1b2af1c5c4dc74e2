// The prompt rules of the OpenAI-compatible endpoints that need the model's
// tokenizer or chat template but not the coordinator: the chat prompt
// (add_generation_prompt, continue_final_message), truncate_prompt_tokens,
// and the token sequences bad_words bans. Pure functions; any thread.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "coordinator/frontend/api_error.h"
#include "coordinator/frontend/openai_request.h"
#include "coordinator/tokenizer/chat_template.h"
#include "coordinator/tokenizer/tokenizer.h"

namespace skipjoin::frontend {

// The chat prompt: the template with or without the assistant prefix
// (add_generation_prompt), or cut right after the final assistant message's
// content (continue_final_message). A template error is a 400 naming
// messages; a final message the template does not render verbatim is a 400
// naming continue_final_message.
std::optional<ApiError> RenderChatPrompt(const ApiRequest& request,
                                         const ChatTemplate& chat_template, std::string* out);

// The token sequences bad_words bans, as vLLM builds them: each word without
// its leading whitespace, and with one leading space when that spelling
// starts with another token and has as many tokens.
std::vector<std::vector<int32_t>> BadWordTokenIds(const std::vector<std::string>& words,
                                                  const Tokenizer& tok);

// truncate_prompt_tokens: keeps the last `keep` tokens of the prompt (after the
// chat template and special tokens, as vLLM cuts). With `has_text` (a
// completions prompt) its text, what echo returns, becomes the kept tokens'.
void KeepLastPromptTokens(int32_t keep, bool has_text, const Tokenizer& tok, TokenizedPrompt* p);

}  // namespace skipjoin::frontend
