// Parsing and validation of OpenAI-compatible request bodies
// (POST /v1/completions, POST /v1/chat/completions) into ApiRequest, and the
// length checks against the model's context window once the prompt is
// tokenized. The same ApiRequest is built from a native SubmitRequest, so both
// APIs share one set of rules.
//
// Every bad input yields an ApiError with the HTTP status and the offending
// field in `param` (OpenAI style); nothing here throws or aborts on input.
// Pure functions; any thread.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <variant>
#include <vector>

#include "common/config/cluster_config.h"
#include "common/serving_types.h"
#include "coordinator/frontend/api_error.h"
#include "coordinator/tokenizer/chat_template.h"

namespace skipjoin::frontend {

// Bounds of the accepted values (beyond OpenAI's, where the server has reasons).
inline constexpr int kMaxChoices = 16;        // n
inline constexpr int kMaxTopLogprobs = 20;    // logprobs / top_logprobs
inline constexpr int kMaxStopStrings = 16;    // stop
inline constexpr size_t kMaxStopBytes = 256;  // one stop string
inline constexpr int kMaxJsonDepth = 64;      // nesting of the body
inline constexpr int kMaxLogitBias = 1024;    // logit_bias entries
inline constexpr int kMaxStopTokenIds = 64;   // stop_token_ids
inline constexpr int kMaxPrompts = 64;        // prompts in one completions request (each runs n)
inline constexpr int kMaxBadWords = 128;      // bad_words
inline constexpr size_t kMaxBadWordBytes = 256;  // one bad word

enum class ApiKind { kCompletion, kChat };

// One prompt of a completions request as sent: text, or token ids (range-checked
// against the vocabulary later).
using PromptInput = std::variant<std::string, std::vector<int32_t>>;

// A prompt after tokenization: its ids, and its text (completions, for echo;
// empty for chat).
struct TokenizedPrompt {
  std::vector<int32_t> ids;
  std::string text;
};

struct ApiRequest {
  ApiKind kind = ApiKind::kCompletion;
  std::string model;  // "": omitted, the served model
  // Completions: 1..kMaxPrompts prompts (several: a batch). Each runs n
  // choices; choice index = prompt index * n + sample index, as in OpenAI's API.
  std::vector<PromptInput> prompts;
  // Chat: the conversation (content parts already joined).
  std::vector<ChatMessage> messages;

  // max_tokens or max_completion_tokens; 0 only on completions with echo
  // (the prompt alone comes back, with its logprobs when asked).
  std::optional<int64_t> max_tokens;
  double temperature = 1.0;           // [0, 2]; 0 is greedy
  double top_p = 1.0;                 // (0, 1]
  int32_t top_k = 0;                  // 0 (or -1 on input): off
  double min_p = 0.0;                 // [0, 1]
  std::optional<uint64_t> seed;
  std::vector<std::string> stop;
  int n = 1;
  bool stream = false;
  bool include_usage = false;  // stream_options.include_usage
  bool logprobs = false;       // return logprobs of the sampled tokens
  int top_logprobs = 0;        // alternatives per token (completions: the logprobs int)
  bool echo = false;           // completions: prompt text (and logprobs) in the output
  int32_t priority = 0;        // extension: higher runs first
  bool ignore_eos = false;     // extension: do not stop on end-of-sequence tokens
  // Logit processors (SamplingParams has their meaning).
  double repetition_penalty = 1.0;          // extension: (0, 100]
  double presence_penalty = 0.0;            // [-2, 2]
  double frequency_penalty = 0.0;           // [-2, 2]
  std::vector<TokenBias> logit_bias;        // token ids checked against the vocabulary later
  std::vector<int32_t> stop_token_ids;      // extension; checked against the vocabulary later
  int32_t min_tokens = 0;                   // extension: <= max_tokens
  bool include_stop_str_in_output = false;  // extension: keep the matched stop string
  // Structured output (response_format, structured_outputs, guided_*),
  // already compiled once to check it.
  GuideKind guide = GuideKind::kNone;
  std::string guide_spec;
  std::string user;  // the end user's id, written to the request log line (<= 256 bytes)
  // Extension (vLLM): keep only the last N tokens of each prompt, after
  // tokenization and the chat template; >= 1, <= the context window.
  std::optional<int32_t> truncate_prompt_tokens;
  // Extension (vLLM): logprobs name each token "token_id:<id>" instead of its text.
  bool return_tokens_as_token_ids = false;
  // Extension (vLLM): when not empty, the only tokens that may be sampled;
  // checked against the vocabulary later.
  std::vector<int32_t> allowed_token_ids;
  // Extension (vLLM): words never to generate; tokenized later (ResolveSampling).
  std::vector<std::string> bad_words;
  // Already tokenized bad words (the native API's), added to those of bad_words.
  std::vector<std::vector<int32_t>> bad_word_ids;
  // Chat (vLLM): render the assistant prefix after the conversation; or, with
  // continue_final_message, end the prompt inside the final assistant message
  // (no end-of-turn) so the output continues it. Not both.
  bool add_generation_prompt = true;
  bool continue_final_message = false;
};

// The name of prompt `index` in errors: "prompt" for a lone prompt, else
// "prompt[index]".
std::string PromptParam(const ApiRequest& request, size_t index);

// Parse the JSON body of a completions / chat completions request. On error
// returns the ApiError and leaves *out unspecified.
std::optional<ApiError> ParseCompletionRequest(std::string_view body, ApiRequest* out);
std::optional<ApiError> ParseChatRequest(std::string_view body, ApiRequest* out);

// Checks the nesting depth of a JSON text without parsing it (the parser
// recurses), so a hostile body cannot exhaust the stack. True when <= max_depth.
bool JsonDepthWithin(std::string_view text, int max_depth);

// After tokenization: the number of tokens to generate, or why the request
// cannot run. `max_context` is the served context window in tokens.
//   prompt empty, or prompt_len >= max_context    -> 400, param "input_tokens"
//   max_tokens > limits.max_tokens_limit or
//   prompt_len + max_tokens > max_context         -> 400, param "max_tokens"
// Without max_tokens: min(limits.max_tokens_default, max_context - prompt_len).
// max_tokens 0 (echo) resolves to 0.
std::optional<ApiError> ResolveMaxNewTokens(const ApiRequest& request, int64_t prompt_len,
                                            int64_t max_context,
                                            const config::RequestLimits& limits,
                                            int32_t* max_new_tokens);

}  // namespace skipjoin::frontend
