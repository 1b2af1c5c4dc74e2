#include "coordinator/frontend/native_request.h"

#include <cmath>
#include <nlohmann/json.hpp>

namespace skipjoin::frontend {

namespace {

using nlohmann::json;

std::optional<ApiError> FiniteOrError(float v, const char* field) {
  if (std::isfinite(v)) return std::nullopt;
  return BadRequest("'" + std::string(field) + "' must be a finite number", field);
}

}  // namespace

std::optional<ApiError> ApiRequestFromSubmit(const protocol::SubmitRequest& req,
                                             const std::string& model_name, ApiRequest* out) {
  const int sources =
      (req.prompt_text ? 1 : 0) + (req.prompt_tokens ? 1 : 0) + (req.messages ? 1 : 0);
  if (sources != 1) {
    return BadRequest("exactly one of prompt_text, prompt_tokens and messages must be set",
                      "prompt");
  }
  const protocol::SamplingParams& s = req.sampling;
  // JSON has no NaN or infinity: the parser would read them as absent (null).
  for (auto [v, field] :
       {std::pair{s.temperature, "temperature"}, std::pair{s.top_p, "top_p"},
        std::pair{s.min_p, "min_p"}, std::pair{s.repetition_penalty, "repetition_penalty"},
        std::pair{s.presence_penalty, "presence_penalty"},
        std::pair{s.frequency_penalty, "frequency_penalty"}}) {
    if (auto e = FiniteOrError(v, field)) return e;
  }
  if (s.logprobs < 0 || s.logprobs > kMaxTopLogprobs) {
    return BadRequest("'logprobs' must be in [0, " + std::to_string(kMaxTopLogprobs) + "], got " +
                          std::to_string(s.logprobs),
                      "logprobs");
  }
  const bool chat = req.messages.has_value();
  if (chat && req.echo)
    return BadRequest("'echo' applies to prompts, not to chat messages", "echo");

  json body = {{"model", model_name},
               {"temperature", static_cast<double>(s.temperature)},
               {"top_p", static_cast<double>(s.top_p)},
               {"top_k", s.top_k},
               {"min_p", static_cast<double>(s.min_p)},
               {"priority", req.priority},
               {"stream", req.stream},
               {"repetition_penalty", static_cast<double>(s.repetition_penalty)},
               {"presence_penalty", static_cast<double>(s.presence_penalty)},
               {"frequency_penalty", static_cast<double>(s.frequency_penalty)},
               {"min_tokens", s.min_tokens},
               {"ignore_eos", req.ignore_eos},
               {"include_stop_str_in_output", req.include_stop_str_in_output}};
  if (!s.stop_token_ids.empty()) body["stop_token_ids"] = s.stop_token_ids;
  if (!s.allowed_token_ids.empty()) body["allowed_token_ids"] = s.allowed_token_ids;
  switch (s.guide) {
    case GuideKind::kNone:
      break;
    case GuideKind::kJsonObject:
      body["response_format"] = {{"type", "json_object"}};
      break;
    case GuideKind::kJsonSchema:
      body["guided_json"] = s.guide_spec;
      break;
    case GuideKind::kRegex:
      body["guided_regex"] = s.guide_spec;
      break;
    case GuideKind::kChoice: {
      json choices = json::parse(s.guide_spec, nullptr, /*allow_exceptions=*/false);
      if (choices.is_discarded())
        return BadRequest("guide_spec: choices must be a JSON list", "guide_spec");
      body["guided_choice"] = std::move(choices);
      break;
    }
  }
  if (!s.logit_bias.empty()) {
    json bias = json::object();
    for (const TokenBias& b : s.logit_bias) {
      if (auto e = FiniteOrError(b.bias, "logit_bias")) return e;
      bias[std::to_string(b.token)] = static_cast<double>(b.bias);
    }
    body["logit_bias"] = std::move(bias);
  }
  if (req.max_tokens > 0) body["max_tokens"] = req.max_tokens;
  if (!req.stop.empty()) body["stop"] = req.stop;
  if (chat) {
    json messages = json::array();
    for (const protocol::ChatMessage& m : *req.messages)
      messages.push_back({{"role", m.role}, {"content", m.content}});
    body["messages"] = std::move(messages);
    if (s.logprobs > 0) {
      body["logprobs"] = true;
      body["top_logprobs"] = s.logprobs;
    }
  } else {
    if (req.prompt_text) {
      body["prompt"] = *req.prompt_text;
    } else {
      body["prompt"] = *req.prompt_tokens;
    }
    if (s.logprobs > 0) body["logprobs"] = s.logprobs;
    body["echo"] = req.echo;
  }

  std::string text;
  try {
    text = body.dump();
  } catch (const json::exception&) {
    // The HTTP API's JSON parser refuses such strings too.
    return BadRequest("a prompt, message or stop string is not valid UTF-8");
  }
  auto err = chat ? ParseChatRequest(text, out) : ParseCompletionRequest(text, out);
  if (err) return err;
  out->seed = s.seed;
  // Native bad words come as token sequences, not text.
  out->bad_word_ids = s.bad_words;
  // Usage always comes with the last chunk.
  out->include_usage = true;
  return std::nullopt;
}

}  // namespace skipjoin::frontend
