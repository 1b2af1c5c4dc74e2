#include "coordinator/frontend/generation_request.h"

#include <algorithm>

namespace skipjoin::frontend {

namespace {
// 429 for a request refused for room; `what` names the limit that is full.
ApiError Overloaded(const server::Admission& admission, const std::string& what) {
  return TooManyRequests("the coordinator is at its limit of pending " + what + " (" +
                             std::to_string(admission.pending_requests()) + " requests, " +
                             std::to_string(admission.pending_tokens()) +
                             " prompt tokens; coordinator.limits.max_pending_*); retry later",
                         admission.RetryAfterSeconds());
}
}  // namespace

std::optional<ApiError> ResolveSampling(const ApiRequest& r, const GenerationSetup& setup,
                                        int32_t vocab_size, SamplingParams* out) {
  auto in_vocab = [vocab_size](int32_t id) { return id >= 0 && id < vocab_size; };
  for (int32_t id : r.stop_token_ids) {
    if (!in_vocab(id)) {
      return BadRequest("token id " + std::to_string(id) +
                            " in 'stop_token_ids' is outside the vocabulary (size " +
                            std::to_string(vocab_size) + ")",
                        "stop_token_ids");
    }
  }
  for (const TokenBias& b : r.logit_bias) {
    if (!in_vocab(b.token)) {
      return BadRequest("token id " + std::to_string(b.token) +
                            " in 'logit_bias' is outside the vocabulary (size " +
                            std::to_string(vocab_size) + ")",
                        "logit_bias");
    }
  }
  *out = SamplingParams{};
  out->temperature = static_cast<float>(r.temperature);
  out->top_p = static_cast<float>(r.top_p);
  out->top_k = r.top_k;
  out->min_p = static_cast<float>(r.min_p);
  out->seed = r.seed;
  out->logprobs = r.logprobs ? r.top_logprobs : 0;
  out->repetition_penalty = static_cast<float>(r.repetition_penalty);
  out->presence_penalty = static_cast<float>(r.presence_penalty);
  out->frequency_penalty = static_cast<float>(r.frequency_penalty);
  out->logit_bias = r.logit_bias;
  out->min_tokens = r.min_tokens;
  out->guide = r.guide;
  out->guide_spec = r.guide_spec;
  // End-of-sequence tokens (unless ignore_eos) and the request's own, once each.
  if (!r.ignore_eos) out->stop_token_ids = setup.stop_token_ids;
  for (int32_t id : r.stop_token_ids) {
    if (std::find(out->stop_token_ids.begin(), out->stop_token_ids.end(), id) ==
        out->stop_token_ids.end()) {
      out->stop_token_ids.push_back(id);
    }
  }
  return std::nullopt;
}

std::optional<ApiError> PrepareGeneration(const ApiRequest& r, const GenerationSetup& setup,
                                          server::CoordinatorCore& core, PreparedGeneration* out) {
  if (!ServesModel(setup, r.model)) {
    return NotFoundError("model '" + TruncateUtf8(r.model, 200) +
                             "' is not served here; GET /v1/models lists '" + setup.model_name +
                             "'",
                         "model");
  }
  if (!core.ready()) return ServiceUnavailable("no replica is ready yet");
  server::Admission& admission = core.admission();
  if (!admission.HasRoom(r.n)) return Overloaded(admission, "requests");
  const Tokenizer& tok = *setup.tokenizer;
  *out = PreparedGeneration{};
  if (r.kind == ApiKind::kChat) {
    auto text = setup.chat_template->Apply(r.messages, /*add_generation_prompt=*/true);
    if (!text.ok()) return BadRequest(text.status().message(), "messages");
    out->prompt_ids = tok.Encode(*text, /*add_special=*/true, /*parse_special=*/true);
  } else if (r.prompt_text) {
    out->prompt_ids = tok.Encode(*r.prompt_text, /*add_special=*/true, /*parse_special=*/false);
    out->prompt_text = *r.prompt_text;
  } else if (r.prompt_tokens) {
    for (int32_t id : *r.prompt_tokens) {
      if (id < 0 || id >= tok.vocab_size()) {
        return BadRequest("token id " + std::to_string(id) + " is outside the vocabulary (size " +
                              std::to_string(tok.vocab_size()) + ")",
                          "prompt");
      }
    }
    out->prompt_ids = *r.prompt_tokens;
    out->prompt_text = tok.Decode(out->prompt_ids, /*skip_special=*/false);
  } else {
    return BadRequest("'prompt' is required", "prompt");
  }
  if (auto e = ResolveMaxNewTokens(r, static_cast<int64_t>(out->prompt_ids.size()),
                                   setup.max_context, setup.limits, &out->max_new_tokens)) {
    return e;
  }
  if (r.min_tokens > out->max_new_tokens) {
    return BadRequest("'min_tokens' (" + std::to_string(r.min_tokens) + ") exceeds the " +
                          std::to_string(out->max_new_tokens) + " tokens this request may generate",
                      "min_tokens");
  }
  SamplingParams sampling;
  if (auto e = ResolveSampling(r, setup, tok.vocab_size(), &sampling)) return e;
  out->items.resize(r.n);
  for (int i = 0; i < r.n; ++i) {
    server::SubmitItem& item = out->items[i];
    item.id = core.NewRequestId();
    item.prompt = out->prompt_ids;
    item.max_new_tokens = out->max_new_tokens;
    item.priority = r.priority;
    item.sampling = sampling;
    // Choices of one request draw from different streams: seed + i.
    if (r.seed) item.sampling.seed = *r.seed + static_cast<uint64_t>(i);
    item.echo = r.echo && r.logprobs;
    out->ids.push_back(item.id);
  }
  if (!admission.Reserve(r.n, int64_t{r.n} * static_cast<int64_t>(out->prompt_ids.size()))) {
    return Overloaded(admission, "prompt tokens");
  }
  return std::nullopt;
}

}  // namespace skipjoin::frontend
