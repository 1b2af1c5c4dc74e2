// The native client's SubmitRequest as an ApiRequest, under exactly the rules
// of the HTTP API: the request is rewritten as the OpenAI body it stands for
// (a completion for prompt_text / prompt_tokens, a chat completion for
// messages) and run through the same parser (openai_request.h), so both APIs
// accept and refuse the same inputs with the same messages.
//
// Mapping: max_tokens 0 -> unset (the server default); sampling.logprobs k > 0
// -> logprobs with k alternatives (completions: "logprobs": k; chat:
// "logprobs": true, "top_logprobs": k); seed is carried over exactly (all 64
// bits); echo is for prompts only. The native API always has n = 1 and always
// reports usage on the last chunk.
//
// Pure function; any thread.
#pragma once

#include <optional>
#include <string>

#include "coordinator/frontend/api_error.h"
#include "coordinator/frontend/openai_request.h"
#include "protocol/messages.h"

namespace skipjoin::frontend {

// model_name: the served model (the native protocol does not name one).
// On error returns the ApiError and leaves *out unspecified.
std::optional<ApiError> ApiRequestFromSubmit(const protocol::SubmitRequest& request,
                                             const std::string& model_name, ApiRequest* out);

}  // namespace skipjoin::frontend
