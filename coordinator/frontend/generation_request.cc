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

// One completions prompt: text is encoded, token ids are checked against
// the vocabulary and decoded for echo. `param` names it in errors.
std::optional<ApiError> TokenizePrompt(const PromptInput& prompt, const std::string& param,
                                       const Tokenizer& tok, TokenizedPrompt* out) {
  if (const auto* text = std::get_if<std::string>(&prompt)) {
    out->ids = tok.Encode(*text, /*add_special=*/true, /*parse_special=*/false);
    out->text = *text;
    return std::nullopt;
  }
  const auto& ids = std::get<std::vector<int32_t>>(prompt);
  for (int32_t id : ids) {
    if (id < 0 || id >= tok.vocab_size()) {
      return BadRequest("token id " + std::to_string(id) + " in '" + param +
                            "' is outside the vocabulary (size " +
                            std::to_string(tok.vocab_size()) + ")",
                        param);
    }
  }
  out->ids = ids;
  out->text = tok.Decode(ids, /*skip_special=*/false);
  return std::nullopt;
}

}  // namespace

std::optional<ApiError> ResolveSampling(const ApiRequest& r, const GenerationSetup& setup,
                                        int32_t vocab_size, SamplingParams* out) {
  auto in_vocab = [vocab_size](int32_t id) { return id >= 0 && id < vocab_size; };
  // The first token id of `ids` outside the vocabulary, as a 400 naming `field`.
  auto check = [&](const std::vector<int32_t>& ids, const char* field) -> std::optional<ApiError> {
    for (int32_t id : ids) {
      if (!in_vocab(id)) {
        return BadRequest("token id " + std::to_string(id) + " in '" + field +
                              "' is outside the vocabulary (size " + std::to_string(vocab_size) +
                              ")",
                          field);
      }
    }
    return std::nullopt;
  };
  std::vector<int32_t> biased;
  for (const TokenBias& b : r.logit_bias) biased.push_back(b.token);
  if (auto e = check(r.stop_token_ids, "stop_token_ids")) return e;
  if (auto e = check(biased, "logit_bias")) return e;
  if (auto e = check(r.allowed_token_ids, "allowed_token_ids")) return e;
  for (const std::vector<int32_t>& word : r.bad_word_ids) {
    if (word.empty() || !std::all_of(word.begin(), word.end(), in_vocab)) {
      return BadRequest("'bad_words' token sequences must be non-empty and in the vocabulary",
                        "bad_words");
    }
  }
  *out = SamplingParams{};
  out->allowed_token_ids = r.allowed_token_ids;
  std::sort(out->allowed_token_ids.begin(), out->allowed_token_ids.end());
  out->allowed_token_ids.erase(
      std::unique(out->allowed_token_ids.begin(), out->allowed_token_ids.end()),
      out->allowed_token_ids.end());
  out->bad_words = BadWordTokenIds(r.bad_words, *setup.tokenizer);
  out->bad_words.insert(out->bad_words.end(), r.bad_word_ids.begin(), r.bad_word_ids.end());
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
  const int64_t requests =
      int64_t{r.n} * static_cast<int64_t>(std::max<size_t>(1, r.prompts.size()));
  if (!admission.HasRoom(requests)) return Overloaded(admission, "requests");
  *out = PreparedGeneration{};
  if (r.kind == ApiKind::kChat) {
    std::string text;
    if (auto e = RenderChatPrompt(r, *setup.chat_template, &text)) return e;
    out->prompts.push_back(
        {setup.tokenizer->Encode(text, /*add_special=*/true, /*parse_special=*/true), ""});
  } else {
    if (r.prompts.empty()) return BadRequest("'prompt' is required", "prompt");
    for (size_t p = 0; p < r.prompts.size(); ++p) {
      out->prompts.emplace_back();
      if (auto e = TokenizePrompt(r.prompts[p], PromptParam(r, p), *setup.tokenizer,
                                  &out->prompts.back())) {
        return e;
      }
    }
  }
  if (r.truncate_prompt_tokens) {
    if (*r.truncate_prompt_tokens > setup.max_context) {
      return BadRequest("'truncate_prompt_tokens' (" + std::to_string(*r.truncate_prompt_tokens) +
                            ") exceeds the context window of " + std::to_string(setup.max_context) +
                            " tokens",
                        "truncate_prompt_tokens");
    }
    for (TokenizedPrompt& p : out->prompts) {
      KeepLastPromptTokens(*r.truncate_prompt_tokens, r.kind == ApiKind::kCompletion,
                           *setup.tokenizer, &p);
    }
  }
  // Per prompt: without max_tokens the default depends on the prompt's length.
  std::vector<int32_t> max_new_tokens(out->prompts.size());
  int64_t prompt_tokens = 0;
  for (size_t p = 0; p < out->prompts.size(); ++p) {
    const int64_t len = static_cast<int64_t>(out->prompts[p].ids.size());
    prompt_tokens += int64_t{r.n} * len;
    if (auto e = ResolveMaxNewTokens(r, len, setup.max_context, setup.limits, &max_new_tokens[p])) {
      if (out->prompts.size() > 1) e->message = PromptParam(r, p) + ": " + e->message;
      return e;
    }
    if (r.min_tokens > max_new_tokens[p]) {
      return BadRequest("'min_tokens' (" + std::to_string(r.min_tokens) + ") exceeds the " +
                            std::to_string(max_new_tokens[p]) + " tokens this request may generate",
                        "min_tokens");
    }
  }
  SamplingParams sampling;
  if (auto e = ResolveSampling(r, setup, setup.tokenizer->vocab_size(), &sampling)) return e;
  for (size_t p = 0; p < out->prompts.size(); ++p) {
    for (int i = 0; i < r.n; ++i) {
      server::SubmitItem& item = out->items.emplace_back();
      item.id = core.NewRequestId();
      item.prompt = out->prompts[p].ids;
      // max_tokens 0: one token, which the response drops (see the header).
      item.max_new_tokens = std::max<int32_t>(1, max_new_tokens[p]);
      item.priority = r.priority;
      item.sampling = sampling;
      // Choices of one prompt draw from different streams: seed + i. Each
      // prompt of a batch draws as it would alone.
      if (r.seed) item.sampling.seed = *r.seed + static_cast<uint64_t>(i);
      item.echo = r.echo && r.logprobs;
      out->ids.push_back(item.id);
    }
  }
  if (!admission.Reserve(requests, prompt_tokens)) return Overloaded(admission, "prompt tokens");
  return std::nullopt;
}

}  // namespace skipjoin::frontend
