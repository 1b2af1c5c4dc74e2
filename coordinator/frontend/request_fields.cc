#include "coordinator/frontend/request_fields.h"

#include <nlohmann/json.hpp>

namespace skipjoin::frontend {

namespace {

using nlohmann::json;

constexpr FieldSupport kImpl = FieldSupport::kImplemented;
constexpr FieldSupport kNeutral = FieldSupport::kNeutralOnly;

// Keep in step with docs/API.md ("Request fields"); the schema test checks both.
constexpr RequestField kFields[] = {
    // --- implemented: each value has an effect -------------------------------------
    {"model", kBothEndpoints, kImpl,
     "tests/e2e/test_openai_api.py::test_model_aliases_and_omitted_model"},
    {"prompt", kCompletions, kImpl, "tests/e2e/test_openai_api.py::test_greedy_matches_generate"},
    {"messages", kChat, kImpl, "tests/e2e/test_openai_api.py::test_chat_non_streaming"},
    {"max_tokens", kBothEndpoints, kImpl,
     "tests/e2e/test_openai_api.py::test_seed_n_and_max_tokens"},
    {"max_completion_tokens", kChat, kImpl,
     "tests/e2e/test_openai_api.py::test_chat_max_completion_tokens_and_logprobs"},
    {"temperature", kBothEndpoints, kImpl,
     "tests/e2e/test_openai_api.py::test_greedy_matches_generate"},
    {"top_p", kBothEndpoints, kImpl,
     "tests/e2e/test_openai_api.py::test_truncation_samplers_narrow_to_greedy"},
    {"top_k", kBothEndpoints, kImpl,
     "tests/e2e/test_openai_api.py::test_truncation_samplers_narrow_to_greedy"},
    {"min_p", kBothEndpoints, kImpl,
     "tests/e2e/test_openai_api.py::test_truncation_samplers_narrow_to_greedy"},
    {"seed", kBothEndpoints, kImpl, "tests/e2e/test_openai_api.py::test_seed_n_and_max_tokens"},
    {"n", kBothEndpoints, kImpl, "tests/e2e/test_openai_api.py::test_seed_n_and_max_tokens"},
    {"stop", kBothEndpoints, kImpl,
     "tests/e2e/test_openai_api.py::test_stop_strings_and_include_stop_str"},
    {"stream", kBothEndpoints, kImpl,
     "tests/e2e/test_openai_api.py::test_streaming_greedy_matches_generate"},
    {"stream_options", kBothEndpoints, kImpl,
     "tests/e2e/test_openai_api.py::test_chat_streaming_with_usage"},
    {"logprobs", kBothEndpoints, kImpl,
     "tests/e2e/test_openai_api.py::test_logprobs_echo_and_text_offsets"},
    {"top_logprobs", kChat, kImpl,
     "tests/e2e/test_openai_api.py::test_chat_max_completion_tokens_and_logprobs"},
    {"echo", kCompletions, kImpl,
     "tests/e2e/test_openai_api.py::test_logprobs_echo_and_text_offsets"},
    {"priority", kBothEndpoints, kImpl,
     "tests/scheduler/scheduler_test.cc::SkipJoinPlacesJobByEstimatedPrefill"},
    {"ignore_eos", kBothEndpoints, kImpl,
     "tests/e2e/test_openai_api.py::test_min_tokens_and_ignore_eos"},
    {"min_tokens", kBothEndpoints, kImpl,
     "tests/e2e/test_openai_api.py::test_min_tokens_and_ignore_eos"},
    {"repetition_penalty", kBothEndpoints, kImpl,
     "tests/e2e/test_openai_api.py::test_penalties_change_greedy_output"},
    {"presence_penalty", kBothEndpoints, kImpl,
     "tests/e2e/test_openai_api.py::test_penalties_change_greedy_output"},
    {"frequency_penalty", kBothEndpoints, kImpl,
     "tests/e2e/test_openai_api.py::test_penalties_change_greedy_output"},
    {"logit_bias", kBothEndpoints, kImpl,
     "tests/e2e/test_openai_api.py::test_logit_bias_bans_a_token"},
    {"stop_token_ids", kBothEndpoints, kImpl,
     "tests/e2e/test_openai_api.py::test_stop_token_ids_stop"},
    {"include_stop_str_in_output", kBothEndpoints, kImpl,
     "tests/e2e/test_openai_api.py::test_stop_strings_and_include_stop_str"},
    {"response_format", kBothEndpoints, kImpl,
     "tests/e2e/test_openai_api.py::test_structured_outputs_parse_and_validate"},
    {"structured_outputs", kBothEndpoints, kImpl,
     "tests/e2e/test_openai_api.py::test_structured_outputs_parse_and_validate"},
    {"guided_json", kBothEndpoints, kImpl,
     "tests/e2e/test_openai_api.py::test_structured_outputs_parse_and_validate"},
    {"guided_regex", kBothEndpoints, kImpl,
     "tests/e2e/test_openai_api.py::test_structured_outputs_parse_and_validate"},
    {"guided_choice", kBothEndpoints, kImpl,
     "tests/e2e/test_openai_api.py::test_structured_outputs_parse_and_validate"},
    {"user", kBothEndpoints, kImpl, "tests/e2e/test_openai_api.py::test_request_log_line"},
    {"truncate_prompt_tokens", kBothEndpoints, kImpl,
     "tests/e2e/test_openai_api.py::test_truncate_prompt_tokens_keeps_the_last_tokens"},
    {"return_tokens_as_token_ids", kBothEndpoints, kImpl,
     "tests/e2e/test_openai_api.py::test_return_tokens_as_token_ids"},
    {"allowed_token_ids", kBothEndpoints, kImpl,
     "tests/e2e/test_openai_api.py::test_allowed_token_ids_narrow_the_choice"},
    {"bad_words", kBothEndpoints, kImpl,
     "tests/e2e/test_openai_api.py::test_bad_words_are_not_generated"},
    {"add_generation_prompt", kChat, kImpl,
     "tests/e2e/test_openai_api.py::test_continue_final_message_and_generation_prompt"},
    {"continue_final_message", kChat, kImpl,
     "tests/e2e/test_openai_api.py::test_continue_final_message_and_generation_prompt"},

    // --- accepted only with neutral values -----------------------------------------
    {"best_of", kCompletions, kNeutral, "", "n", "3"},
    {"suffix", kCompletions, kNeutral, "", "[]", "\"tail\""},
    {"echo", kChat, kNeutral, "", "[false]", "true"},
    {"guided_grammar", kBothEndpoints, kNeutral, "", "[]", "\"root ::= \\\"a\\\"\""},
    {"prompt_logprobs", kBothEndpoints, kNeutral, "", "[]", "1"},
    {"use_beam_search", kBothEndpoints, kNeutral, "", "[false]", "true"},
    {"length_penalty", kBothEndpoints, kNeutral, "", "[1]", "2"},
    {"skip_special_tokens", kBothEndpoints, kNeutral, "", "[true]", "false"},
    {"spaces_between_special_tokens", kBothEndpoints, kNeutral, "", "[true]", "false"},
    {"service_tier", kBothEndpoints, kNeutral, "", R"(["auto","default"])", "\"flex\""},
    {"store", kBothEndpoints, kNeutral, "", "[false]", "true"},
    {"metadata", kBothEndpoints, kNeutral, "", "[{}]", R"({"k":"v"})"},
    {"tools", kChat, kNeutral, "", "[[]]",
     R"([{"type":"function","function":{"name":"f","parameters":{}}}])"},
    {"tool_choice", kChat, kNeutral, "", R"(["none"])", "\"auto\""},
    {"parallel_tool_calls", kChat, kNeutral, "", "[]", "true"},
    {"functions", kChat, kNeutral, "", "[[]]", R"([{"name":"f"}])"},
    {"function_call", kChat, kNeutral, "", R"(["none"])", "\"auto\""},
    {"audio", kChat, kNeutral, "", "[]", R"({"voice":"alloy","format":"wav"})"},
    {"modalities", kChat, kNeutral, "", R"([["text"]])", R"(["text","audio"])"},
    {"prediction", kChat, kNeutral, "", "[]", R"({"type":"content","content":"x"})"},
    {"reasoning_effort", kChat, kNeutral, "", "[]", "\"low\""},
    {"web_search_options", kChat, kNeutral, "", "[]", "{}"},
    {"chat_template", kChat, kNeutral, "", "[]", "\"{{ messages }}\""},
    {"chat_template_kwargs", kChat, kNeutral, "", "[{}]", R"({"enable_thinking":false})"},
    {"documents", kChat, kNeutral, "", "[]", R"([{"text":"x"}])"},
};

unsigned EndpointBit(ApiKind kind) {
  switch (kind) {
    case ApiKind::kCompletion:
      return kCompletions;
    case ApiKind::kChat:
      return kChat;
  }
  return 0;
}

const char* EndpointName(ApiKind kind) {
  switch (kind) {
    case ApiKind::kCompletion:
      return "/v1/completions";
    case ApiKind::kChat:
      return "/v1/chat/completions";
  }
  return "?";
}

const RequestField* Find(std::string_view name, unsigned endpoint) {
  for (const RequestField& f : kFields) {
    if (f.name == name && (f.endpoints & endpoint) != 0) return &f;
  }
  return nullptr;
}

bool IsNeutral(const RequestField& f, const json& value, const json& body) {
  if (value.is_null()) return true;
  if (f.neutral == "n") {
    auto n = body.find("n");
    const json want = (n == body.end() || n->is_null()) ? json(1) : *n;
    return value == want;
  }
  const json accepted = json::parse(f.neutral, nullptr, /*allow_exceptions=*/false);
  for (const json& v : accepted) {
    if (v == value) return true;
  }
  return false;
}

std::string NeutralText(const RequestField& f) {
  if (f.neutral == "n") return "null or equal to 'n'";
  std::string out = "null";
  const json accepted = json::parse(f.neutral, nullptr, /*allow_exceptions=*/false);
  for (const json& v : accepted) out += ", " + v.dump();
  return out;
}

}  // namespace

std::span<const RequestField> RequestFields() { return kFields; }

std::optional<ApiError> CheckRequestFields(const json& body, ApiKind kind) {
  const unsigned endpoint = EndpointBit(kind);
  for (auto it = body.begin(); it != body.end(); ++it) {
    const std::string& key = it.key();
    const RequestField* f = Find(key, endpoint);
    const std::string name = TruncateUtf8(key, 64);
    if (f == nullptr) {
      return BadRequest("unrecognized request argument '" + name + "' for " + EndpointName(kind) +
                            " (docs/API.md lists the fields this server takes)",
                        name);
    }
    if (f->support == FieldSupport::kNeutralOnly && !IsNeutral(*f, it.value(), body)) {
      return BadRequest("'" + name + "' is not supported by this server (accepted only as " +
                            NeutralText(*f) + ")",
                        name);
    }
  }
  return std::nullopt;
}

}  // namespace skipjoin::frontend
