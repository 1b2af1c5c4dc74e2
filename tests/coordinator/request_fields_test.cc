// The request-schema rule: every field the OpenAI endpoints take is either
// implemented, with a named test that shows its effect, or accepted only with
// neutral values and refused with a 400 naming it otherwise; an unknown field
// is a 400 naming it; docs/API.md lists every field.
#include "coordinator/frontend/request_fields.h"

#include <gtest/gtest.h>

#include <cstdlib>
#include <fstream>
#include <map>
#include <nlohmann/json.hpp>
#include <set>
#include <sstream>
#include <string>

#include "coordinator/frontend/openai_request.h"

namespace skipjoin::frontend {
namespace {

using nlohmann::json;

// ctest sets SKIPJOIN_SOURCE_DIR; run by hand from the source root otherwise.
std::string SourceDir() {
  const char* dir = std::getenv("SKIPJOIN_SOURCE_DIR");
  return dir != nullptr ? dir : ".";
}

std::string ReadFile(const std::string& path) {
  std::ifstream in(path);
  std::stringstream ss;
  ss << in.rdbuf();
  return ss.str();
}

// A minimal valid body of the endpoint plus one field.
std::string BodyWith(ApiKind kind, const std::string& name, const std::string& value_json) {
  json body = {{"model", "m"}};
  if (kind == ApiKind::kCompletion) {
    body["prompt"] = "x";
  } else {
    body["messages"] = json::array({{{"role", "user"}, {"content", "x"}}});
  }
  body[name] = json::parse(value_json);
  return body.dump();
}

std::optional<ApiError> Parse(ApiKind kind, const std::string& body) {
  ApiRequest r;
  return kind == ApiKind::kCompletion ? ParseCompletionRequest(body, &r)
                                      : ParseChatRequest(body, &r);
}

std::vector<ApiKind> KindsOf(const RequestField& f) {
  std::vector<ApiKind> kinds;
  if (f.endpoints & kCompletions) kinds.push_back(ApiKind::kCompletion);
  if (f.endpoints & kChat) kinds.push_back(ApiKind::kChat);
  return kinds;
}

TEST(RequestFieldsTest, EveryImplementedFieldNamesATestThatExists) {
  for (const RequestField& f : RequestFields()) {
    if (f.support != FieldSupport::kImplemented) continue;
    const std::string ref(f.effect_test);
    const size_t sep = ref.find("::");
    ASSERT_NE(sep, std::string::npos) << f.name << ": effect_test must be path::name, got " << ref;
    const std::string text = ReadFile(SourceDir() + "/" + ref.substr(0, sep));
    ASSERT_FALSE(text.empty()) << f.name << ": " << ref.substr(0, sep) << " is missing or empty";
    const std::string name = ref.substr(sep + 2);
    const bool found = text.find("def " + name + "(") != std::string::npos ||
                       text.find(", " + name + ")") != std::string::npos;
    EXPECT_TRUE(found) << f.name << ": no test " << name << " in " << ref.substr(0, sep);
  }
}

TEST(RequestFieldsTest, NeutralOnlyFieldsTakeNullAndTheirNeutralValuesAndRefuseTheRest) {
  for (const RequestField& f : RequestFields()) {
    if (f.support != FieldSupport::kNeutralOnly) continue;
    for (ApiKind kind : KindsOf(f)) {
      const std::string name(f.name);
      EXPECT_FALSE(Parse(kind, BodyWith(kind, name, "null")).has_value()) << name << " = null";
      if (f.neutral != "n") {
        for (const json& v : json::parse(f.neutral)) {
          auto e = Parse(kind, BodyWith(kind, name, v.dump()));
          EXPECT_FALSE(e.has_value()) << name << " = " << v.dump() << ": " << e->message;
        }
      }
      auto e = Parse(kind, BodyWith(kind, name, std::string(f.refused_example)));
      ASSERT_TRUE(e.has_value()) << name << " = " << f.refused_example << " was accepted";
      EXPECT_EQ(e->http_status, 400);
      EXPECT_EQ(e->param, name);
      EXPECT_NE(e->message.find("not supported"), std::string::npos) << e->message;
    }
  }
}

TEST(RequestFieldsTest, BestOfIsAcceptedOnlyEqualToN) {
  ApiRequest r;
  EXPECT_FALSE(ParseCompletionRequest(R"({"model":"m","prompt":"x","n":2,"best_of":2})", &r));
  EXPECT_FALSE(ParseCompletionRequest(R"({"model":"m","prompt":"x","best_of":1})", &r));
  auto e = ParseCompletionRequest(R"({"model":"m","prompt":"x","n":3,"best_of":2})", &r);
  ASSERT_TRUE(e.has_value());
  EXPECT_EQ(e->param, "best_of");
}

TEST(RequestFieldsTest, UnknownFieldsAreRefusedByName) {
  for (ApiKind kind : {ApiKind::kCompletion, ApiKind::kChat}) {
    auto e = Parse(kind, BodyWith(kind, "frobnicate", "1"));
    ASSERT_TRUE(e.has_value());
    EXPECT_EQ(e->http_status, 400);
    EXPECT_EQ(e->param, "frobnicate");
    EXPECT_NE(e->message.find("unrecognized request argument 'frobnicate'"), std::string::npos);
  }
  // A field of the other endpoint is unknown here.
  auto e = Parse(ApiKind::kCompletion, BodyWith(ApiKind::kCompletion, "messages", "[]"));
  ASSERT_TRUE(e.has_value());
  EXPECT_EQ(e->param, "messages");
  e = Parse(ApiKind::kChat, BodyWith(ApiKind::kChat, "prompt", "\"x\""));
  ASSERT_TRUE(e.has_value());
  EXPECT_EQ(e->param, "prompt");
  e = Parse(ApiKind::kChat,
            BodyWith(ApiKind::kChat, "stream_options", R"({"continuous_usage_stats":true})"));
  ASSERT_TRUE(e.has_value());
  EXPECT_EQ(e->param, "stream_options.continuous_usage_stats");
}

TEST(RequestFieldsTest, EveryImplementedFieldIsParsedNotRefused) {
  // A typical value of each implemented field parses (the parser and the
  // table agree on what is implemented).
  const std::map<std::string, std::string> values = {
      {"max_tokens", "4"},
      {"max_completion_tokens", "4"},
      {"temperature", "0.5"},
      {"top_p", "0.9"},
      {"top_k", "5"},
      {"min_p", "0.1"},
      {"seed", "7"},
      {"n", "2"},
      {"stop", "[\"x\"]"},
      {"stream", "true"},
      {"stream_options", R"({"include_usage":true})"},
      {"top_logprobs", "2"},
      {"echo", "true"},
      {"priority", "3"},
      {"ignore_eos", "true"},
      {"min_tokens", "2"},
      {"repetition_penalty", "1.3"},
      {"presence_penalty", "0.5"},
      {"frequency_penalty", "-0.5"},
      {"logit_bias", R"({"42":-100})"},
      {"stop_token_ids", "[2]"},
      {"include_stop_str_in_output", "true"},
      {"truncate_prompt_tokens", "4"},
      {"return_tokens_as_token_ids", "true"},
      {"allowed_token_ids", "[1, 2]"},
      {"bad_words", R"(["bad"])"},
      {"add_generation_prompt", "false"},
      {"continue_final_message", "false"},  // true needs a final assistant message
      {"user", "\"alice\""},
      {"response_format", R"({"type":"json_schema","json_schema":{"schema":{"type":"object"}}})"},
      {"structured_outputs", R"({"choice":["a","b"]})"},
      {"guided_json", R"({"type":"object","properties":{"a":{"type":"integer"}}})"},
      {"guided_regex", R"("[0-9]{3}")"},
      {"guided_choice", R"(["yes","no"])"}};
  for (const RequestField& f : RequestFields()) {
    if (f.support != FieldSupport::kImplemented) continue;
    const std::string name(f.name);
    if (name == "model" || name == "prompt" || name == "messages") continue;  // in every body
    for (ApiKind kind : KindsOf(f)) {
      std::string value = name == "logprobs" ? (kind == ApiKind::kChat ? "true" : "2") : "";
      if (value.empty()) {
        auto it = values.find(name);
        ASSERT_NE(it, values.end()) << "add a sample value for " << name;
        value = it->second;
      }
      json body = json::parse(BodyWith(kind, name, value));
      if (name == "top_logprobs") body["logprobs"] = true;
      ApiRequest r;
      auto e = kind == ApiKind::kCompletion ? ParseCompletionRequest(body.dump(), &r)
                                            : ParseChatRequest(body.dump(), &r);
      EXPECT_FALSE(e.has_value()) << name << " = " << value << ": " << e->message;
    }
  }
}

TEST(RequestFieldsTest, DocsListEveryField) {
  const std::string doc = ReadFile(SourceDir() + "/docs/API.md");
  ASSERT_FALSE(doc.empty());
  std::set<std::string> names;
  for (const RequestField& f : RequestFields()) names.insert(std::string(f.name));
  for (const std::string& name : names) {
    EXPECT_NE(doc.find("`" + name + "`"), std::string::npos)
        << "docs/API.md does not list " << name;
  }
}

}  // namespace
}  // namespace skipjoin::frontend
