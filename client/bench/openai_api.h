// The OpenAI wire format as `skipjoin bench serve` uses it: the streaming
// request body for /v1/completions or /v1/chat/completions, and the
// interpretation of each streamed chunk and of error bodies. Free functions;
// any thread.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

#include "client/bench/dataset.h"
#include "common/status.h"

namespace skipjoin::bench {

enum class ApiFlavor {
  kCompletions,  // "prompt" in, choices[0].text out
  kChat,         // "messages" in, choices[0].delta.content out (text prompts only)
};

// kChat for an endpoint path ending in "/chat/completions", else kCompletions.
ApiFlavor FlavorForEndpoint(const std::string& endpoint);

struct RequestBodyOptions {
  ApiFlavor flavor = ApiFlavor::kCompletions;
  std::string model;
  bool ignore_eos = false;  // sends "ignore_eos": true (a vLLM / skipjoin extension)
};

// A streaming request (stream_options.include_usage) asking for exactly
// prompt.output_len tokens at temperature 0. kChat needs a text prompt.
std::string BuildRequestBody(const BenchPrompt& prompt, const RequestBodyOptions& options);

// What one SSE data payload (or a whole non-streaming body) says.
struct StreamChunk {
  bool done = false;                         // the "[DONE]" sentinel
  std::optional<std::string> error;          // the server reported an error
  std::string content;                       // generated text in this chunk; "" when none
  std::optional<int64_t> prompt_tokens;      // from "usage", when present
  std::optional<int64_t> completion_tokens;  // from "usage", when present
};

// Errors only for payloads that are not JSON objects.
Result<StreamChunk> ParseStreamChunk(std::string_view data, ApiFlavor flavor);

// The message of an error body: {"error": {"message"}}, {"message"} or
// {"detail"}, else the body itself (shortened).
std::string ErrorMessageFromBody(std::string_view body);

}  // namespace skipjoin::bench
