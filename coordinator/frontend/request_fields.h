// The request schema of the OpenAI-compatible endpoints, as one table: every
// top-level field a completions or chat completions body may carry, and what
// this server does with it. The rule the table enforces: a field is either
// implemented (every value it accepts has an effect, and `effect_test` names
// the test that shows it) or accepted only with its neutral values (null, or
// values that by definition change nothing, such as `store: false` or
// `tools: []`) and refused with a 400 naming it otherwise. A field the table
// does not list is refused too, as OpenAI's API does. The schema test
// (tests/coordinator/request_fields_test.cc) checks the table against the
// parser, the named tests and docs/API.md.
//
// Pure data and functions; any thread.
#pragma once

#include <nlohmann/json_fwd.hpp>
#include <optional>
#include <span>
#include <string_view>

#include "coordinator/frontend/api_error.h"
#include "coordinator/frontend/openai_request.h"

namespace skipjoin::frontend {

enum class FieldSupport {
  kImplemented,  // parsed by ParseCompletionRequest / ParseChatRequest, with an effect
  kNeutralOnly,  // only null or one of `neutral`; anything else is a 400
};

inline constexpr unsigned kCompletions = 1;
inline constexpr unsigned kChat = 2;
inline constexpr unsigned kBothEndpoints = kCompletions | kChat;

struct RequestField {
  std::string_view name;
  unsigned endpoints = kBothEndpoints;  // kCompletions | kChat
  FieldSupport support = FieldSupport::kImplemented;
  // kImplemented: "path::TestName" of a test that shows the effect.
  std::string_view effect_test;
  // kNeutralOnly: the accepted non-null values as a JSON array ("[false]");
  // "n" accepts only the request's own `n` (best_of).
  std::string_view neutral;
  // kNeutralOnly: a value that must be refused (JSON), for the schema test.
  std::string_view refused_example;
};

// The whole table, in the order docs/API.md lists it.
std::span<const RequestField> RequestFields();

// Every top-level key of `body` must be a field of the endpoint, and a
// kNeutralOnly field must hold a neutral value; otherwise a 400 whose param is
// the field. `body` is a JSON object.
std::optional<ApiError> CheckRequestFields(const nlohmann::json& body, ApiKind kind);

}  // namespace skipjoin::frontend
