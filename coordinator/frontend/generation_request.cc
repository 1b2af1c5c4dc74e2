#include "coordinator/frontend/generation_request.h"

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

std::optional<ApiError> PrepareGeneration(const ApiRequest& r, const GenerationSetup& setup,
                                          server::CoordinatorCore& core, PreparedGeneration* out) {
  if (r.model != setup.model_name) {
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
  out->items.resize(r.n);
  for (int i = 0; i < r.n; ++i) {
    server::SubmitItem& item = out->items[i];
    item.id = core.NewRequestId();
    item.prompt = out->prompt_ids;
    item.max_new_tokens = out->max_new_tokens;
    item.priority = r.priority;
    if (!r.ignore_eos) item.stop_token_ids = setup.stop_token_ids;
    item.sampling.temperature = static_cast<float>(r.temperature);
    item.sampling.top_p = static_cast<float>(r.top_p);
    item.sampling.top_k = r.top_k;
    item.sampling.min_p = static_cast<float>(r.min_p);
    // Choices of one request draw from different streams: seed + i.
    if (r.seed) item.sampling.seed = *r.seed + static_cast<uint64_t>(i);
    item.sampling.logprobs = r.logprobs ? r.top_logprobs : 0;
    item.echo = r.echo && r.logprobs;
    out->ids.push_back(item.id);
  }
  if (!admission.Reserve(r.n, int64_t{r.n} * static_cast<int64_t>(out->prompt_ids.size()))) {
    return Overloaded(admission, "prompt tokens");
  }
  return std::nullopt;
}

}  // namespace skipjoin::frontend
