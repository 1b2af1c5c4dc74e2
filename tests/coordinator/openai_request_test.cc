#include "coordinator/frontend/openai_request.h"

#include <gtest/gtest.h>

#include <nlohmann/json.hpp>
#include <string>
#include <variant>

#include "coordinator/frontend/api_error.h"
#include "coordinator/frontend/generation_request.h"
#include "coordinator/frontend/prompt_rules.h"
#include "coordinator/frontend/sse.h"

namespace skipjoin::frontend {
namespace {

struct BadCase {
  const char* body;
  int status;
  const char* param;
};

TEST(OpenAiRequestTest, ParsesCompletionFields) {
  ApiRequest r;
  auto e = ParseCompletionRequest(
      R"({"model":"m","prompt":"hi","max_tokens":7,"temperature":0,"top_p":0.5,"top_k":-1,"min_p":0.1,
          "seed":-3,"stop":"\n","n":2,"stream":true,"stream_options":{"include_usage":true},
          "logprobs":3,"echo":true,"priority":5,"presence_penalty":0,"user":"u"})",
      &r);
  ASSERT_FALSE(e.has_value()) << e->message;
  EXPECT_EQ(r.kind, ApiKind::kCompletion);
  EXPECT_EQ(r.model, "m");
  ASSERT_EQ(r.prompts.size(), 1u);
  EXPECT_EQ(std::get<std::string>(r.prompts[0]), "hi");
  EXPECT_EQ(*r.max_tokens, 7);
  EXPECT_EQ(r.temperature, 0);
  EXPECT_EQ(r.top_p, 0.5);
  EXPECT_EQ(r.top_k, 0);
  EXPECT_DOUBLE_EQ(r.min_p, 0.1);
  EXPECT_EQ(*r.seed, static_cast<uint64_t>(-3));
  ASSERT_EQ(r.stop.size(), 1u);
  EXPECT_EQ(r.stop[0], "\n");
  EXPECT_EQ(r.n, 2);
  EXPECT_TRUE(r.stream);
  EXPECT_TRUE(r.include_usage);
  EXPECT_TRUE(r.logprobs);
  EXPECT_EQ(r.top_logprobs, 3);
  EXPECT_TRUE(r.echo);
  EXPECT_EQ(r.priority, 5);
}

TEST(OpenAiRequestTest, ParsesLogitProcessors) {
  ApiRequest r;
  auto e = ParseCompletionRequest(
      R"({"model":"m","prompt":"hi","repetition_penalty":1.3,"presence_penalty":0.5,
          "frequency_penalty":-1,"logit_bias":{"42":-100,"7":2.5},"stop_token_ids":[2,3],
          "min_tokens":4,"max_tokens":8,"include_stop_str_in_output":true})",
      &r);
  ASSERT_FALSE(e.has_value()) << e->message;
  EXPECT_DOUBLE_EQ(r.repetition_penalty, 1.3);
  EXPECT_DOUBLE_EQ(r.presence_penalty, 0.5);
  EXPECT_DOUBLE_EQ(r.frequency_penalty, -1.0);
  ASSERT_EQ(r.logit_bias.size(), 2u);
  EXPECT_EQ(r.stop_token_ids, (std::vector<int32_t>{2, 3}));
  EXPECT_EQ(r.min_tokens, 4);
  EXPECT_TRUE(r.include_stop_str_in_output);
}

TEST(OpenAiRequestTest, ParsesTokenPromptAndNulls) {
  ApiRequest r;
  auto e = ParseCompletionRequest(
      R"({"model":"m","prompt":[1,2,3],"max_tokens":null,"stop":null,"seed":null})", &r);
  ASSERT_FALSE(e.has_value()) << e->message;
  ASSERT_EQ(r.prompts.size(), 1u);
  EXPECT_EQ(std::get<std::vector<int32_t>>(r.prompts[0]), (std::vector<int32_t>{1, 2, 3}));
  EXPECT_EQ(PromptParam(r, 0), "prompt");
  EXPECT_FALSE(r.max_tokens.has_value());
  EXPECT_FALSE(r.seed.has_value());
}

TEST(OpenAiRequestTest, ParsesChatMessagesAndLogprobs) {
  ApiRequest r;
  auto e = ParseChatRequest(
      R"({"model":"m","messages":[{"role":"developer","content":"be brief"},
          {"role":"user","content":[{"type":"text","text":"a"},{"type":"text","text":"b"}]}],
          "max_completion_tokens":9,"logprobs":true,"top_logprobs":2,"stop":["x","yz"]})",
      &r);
  ASSERT_FALSE(e.has_value()) << e->message;
  ASSERT_EQ(r.messages.size(), 2u);
  EXPECT_EQ(r.messages[0].role, "system");
  EXPECT_EQ(r.messages[1].content, "ab");
  EXPECT_EQ(*r.max_tokens, 9);
  EXPECT_TRUE(r.logprobs);
  EXPECT_EQ(r.top_logprobs, 2);
  EXPECT_EQ(r.stop.size(), 2u);
}

TEST(OpenAiRequestTest, RejectsBadCompletionInputWithParam) {
  const BadCase cases[] = {
      {"not json", 400, ""},
      {"[1,2]", 400, ""},
      {R"({"model":"","prompt":"x"})", 400, "model"},
      {R"({"model":3,"prompt":"x"})", 400, "model"},
      {R"({"model":"m"})", 400, "prompt"},
      {R"({"model":"m","prompt":""})", 400, "prompt"},
      {R"({"model":"m","prompt":{}})", 400, "prompt"},
      {R"({"model":"m","prompt":[]})", 400, "prompt"},
      {R"({"model":"m","prompt":[1,-2]})", 400, "prompt"},
      {R"({"model":"m","prompt":[1,"a"]})", 400, "prompt"},
      {R"({"model":"m","prompt":[1,4294967296]})", 400, "prompt"},
      {R"({"model":"m","prompt":[null]})", 400, "prompt[0]"},
      {R"({"model":"m","prompt":["a",""]})", 400, "prompt[1]"},
      {R"({"model":"m","prompt":["a",5]})", 400, "prompt[1]"},
      {R"({"model":"m","prompt":["a",{}]})", 400, "prompt[1]"},
      {R"({"model":"m","prompt":[[1],[]]})", 400, "prompt[1]"},
      {R"({"model":"m","prompt":[[1],[2,-1]]})", 400, "prompt[1]"},
      {R"({"model":"m","prompt":[[1],["x"]]})", 400, "prompt[1]"},
      {R"({"model":"m","prompt":[[1],[[2]]]})", 400, "prompt[1]"},
      {R"({"model":"m","prompt":"x","max_tokens":0})", 400, "max_tokens"},
      {R"({"model":"m","prompt":"x","max_tokens":0,"echo":false})", 400, "max_tokens"},
      {R"({"model":"m","prompt":"x","max_tokens":-1,"echo":true})", 400, "max_tokens"},
      {R"({"model":"m","prompt":"x","max_tokens":"5"})", 400, "max_tokens"},
      {R"({"model":"m","prompt":"x","max_tokens":1.5})", 400, "max_tokens"},
      {R"({"model":"m","prompt":"x","temperature":-1})", 400, "temperature"},
      {R"({"model":"m","prompt":"x","temperature":"hot"})", 400, "temperature"},
      {R"({"model":"m","prompt":"x","top_p":0})", 400, "top_p"},
      {R"({"model":"m","prompt":"x","top_p":1.5})", 400, "top_p"},
      {R"({"model":"m","prompt":"x","top_k":-2})", 400, "top_k"},
      {R"({"model":"m","prompt":"x","min_p":2})", 400, "min_p"},
      {R"({"model":"m","prompt":"x","n":0})", 400, "n"},
      {R"({"model":"m","prompt":"x","n":1000})", 400, "n"},
      {R"({"model":"m","prompt":"x","stream":"yes"})", 400, "stream"},
      {R"({"model":"m","prompt":"x","stop":5})", 400, "stop"},
      {R"({"model":"m","prompt":"x","stop":[""]})", 400, "stop"},
      {R"({"model":"m","prompt":"x","stop":[1]})", 400, "stop"},
      {R"({"model":"m","prompt":"x","logprobs":50})", 400, "logprobs"},
      {R"({"model":"m","prompt":"x","echo":1})", 400, "echo"},
      {R"({"model":"m","prompt":"x","presence_penalty":3})", 400, "presence_penalty"},
      {R"({"model":"m","prompt":"x","frequency_penalty":"a"})", 400, "frequency_penalty"},
      {R"({"model":"m","prompt":"x","repetition_penalty":0})", 400, "repetition_penalty"},
      {R"({"model":"m","prompt":"x","repetition_penalty":-1})", 400, "repetition_penalty"},
      {R"({"model":"m","prompt":"x","repetition_penalty":"x"})", 400, "repetition_penalty"},
      {R"({"model":"m","prompt":"x","logit_bias":{"a":1}})", 400, "logit_bias"},
      {R"({"model":"m","prompt":"x","logit_bias":{"5":101}})", 400, "logit_bias"},
      {R"({"model":"m","prompt":"x","logit_bias":{"-5":1}})", 400, "logit_bias"},
      {R"({"model":"m","prompt":"x","logit_bias":[1]})", 400, "logit_bias"},
      {R"({"model":"m","prompt":"x","stop_token_ids":[-1]})", 400, "stop_token_ids"},
      {R"({"model":"m","prompt":"x","stop_token_ids":"2"})", 400, "stop_token_ids"},
      {R"({"model":"m","prompt":"x","min_tokens":-1})", 400, "min_tokens"},
      {R"({"model":"m","prompt":"x","min_tokens":5,"max_tokens":4})", 400, "min_tokens"},
      {R"({"model":"m","prompt":"x","include_stop_str_in_output":1})", 400,
       "include_stop_str_in_output"},
      {R"({"model":"m","prompt":"x","user":5})", 400, "user"},
      {R"({"model":"m","prompt":"x","stream_options":{"include_usage":"y"}})", 400,
       "stream_options.include_usage"},
      {R"({"model":"m","prompt":"x","response_format":"json"})", 400, "response_format"},
      {R"({"model":"m","prompt":"x","response_format":{"type":"yaml"}})", 400,
       "response_format.type"},
      {R"({"model":"m","prompt":"x","response_format":{"type":"json_schema"}})", 400,
       "response_format.json_schema"},
      {R"({"model":"m","prompt":"x","guided_json":{"type":"object","patternProperties":{}}})", 400,
       "guided_json"},
      {R"({"model":"m","prompt":"x","guided_json":5})", 400, "guided_json"},
      {R"({"model":"m","prompt":"x","guided_regex":"(a"})", 400, "guided_regex"},
      {R"({"model":"m","prompt":"x","guided_choice":[]})", 400, "guided_choice"},
      {R"({"model":"m","prompt":"x","guided_choice":["a",""]})", 400, "guided_choice"},
      {R"({"model":"m","prompt":"x","guided_regex":"a","guided_choice":["a"]})", 400,
       "guided_choice"},
      {R"({"model":"m","prompt":"x","guided_choice":["a"],"ignore_eos":true})", 400, "ignore_eos"},
      {R"({"model":"m","prompt":"x","structured_outputs":{"grammar":"x"}})", 400,
       "structured_outputs"},
      {R"({"model":"m","prompt":"x","structured_outputs":{"regex":"a","choice":["a"]}})", 400,
       "structured_outputs"},
  };
  for (const BadCase& c : cases) {
    ApiRequest r;
    auto e = ParseCompletionRequest(c.body, &r);
    ASSERT_TRUE(e.has_value()) << c.body;
    EXPECT_EQ(e->http_status, c.status) << c.body;
    EXPECT_EQ(e->param, c.param) << c.body << " -> " << e->message;
    EXPECT_FALSE(e->message.empty());
  }
}

TEST(OpenAiRequestTest, ParsesBatchPromptsInOrder) {
  ApiRequest r;
  auto e = ParseCompletionRequest(R"({"prompt":["a","b c"],"n":2})", &r);
  ASSERT_FALSE(e.has_value()) << e->message;
  ASSERT_EQ(r.prompts.size(), 2u);
  EXPECT_EQ(std::get<std::string>(r.prompts[0]), "a");
  EXPECT_EQ(std::get<std::string>(r.prompts[1]), "b c");
  EXPECT_EQ(PromptParam(r, 1), "prompt[1]");

  e = ParseCompletionRequest(R"({"prompt":[[1,2],[3],"x"]})", &r);
  ASSERT_FALSE(e.has_value()) << e->message;
  ASSERT_EQ(r.prompts.size(), 3u);
  EXPECT_EQ(std::get<std::vector<int32_t>>(r.prompts[0]), (std::vector<int32_t>{1, 2}));
  EXPECT_EQ(std::get<std::vector<int32_t>>(r.prompts[1]), (std::vector<int32_t>{3}));
  EXPECT_EQ(std::get<std::string>(r.prompts[2]), "x");

  // A list with one string is one prompt.
  e = ParseCompletionRequest(R"({"prompt":["only"]})", &r);
  ASSERT_FALSE(e.has_value()) << e->message;
  ASSERT_EQ(r.prompts.size(), 1u);
  EXPECT_EQ(PromptParam(r, 0), "prompt");
}

TEST(OpenAiRequestTest, BatchOfMoreThanTheLimitIs400NamingPrompt) {
  nlohmann::json body = {{"prompt", std::vector<std::string>(kMaxPrompts, "a")}};
  ApiRequest r;
  auto e = ParseCompletionRequest(body.dump(), &r);
  ASSERT_FALSE(e.has_value()) << e->message;
  EXPECT_EQ(r.prompts.size(), static_cast<size_t>(kMaxPrompts));
  body["prompt"].push_back("a");
  e = ParseCompletionRequest(body.dump(), &r);
  ASSERT_TRUE(e.has_value());
  EXPECT_EQ(e->param, "prompt");
  EXPECT_NE(e->message.find(std::to_string(kMaxPrompts)), std::string::npos) << e->message;
}

TEST(OpenAiRequestTest, MaxTokensZeroOnlyWithEcho) {
  ApiRequest r;
  auto e = ParseCompletionRequest(R"({"prompt":"x","max_tokens":0,"echo":true,"logprobs":1})", &r);
  ASSERT_FALSE(e.has_value()) << e->message;
  EXPECT_EQ(*r.max_tokens, 0);
  int32_t max_new = -1;
  config::RequestLimits limits;
  EXPECT_FALSE(ResolveMaxNewTokens(r, 5, 100, limits, &max_new).has_value());
  EXPECT_EQ(max_new, 0);

  e = ParseCompletionRequest(R"({"prompt":"x","max_tokens":0})", &r);
  ASSERT_TRUE(e.has_value());
  EXPECT_EQ(e->param, "max_tokens");
  EXPECT_NE(e->message.find("echo"), std::string::npos) << e->message;
  // Chat has no echo: 0 stays out of range.
  e = ParseChatRequest(R"({"messages":[{"role":"user","content":"x"}],"max_tokens":0})", &r);
  ASSERT_TRUE(e.has_value());
  EXPECT_EQ(e->param, "max_tokens");
}

TEST(OpenAiRequestTest, ModelMayBeOmitted) {
  for (const char* body : {R"({"prompt":"x"})", R"({"model":null,"prompt":"x"})"}) {
    ApiRequest r;
    auto e = ParseCompletionRequest(body, &r);
    ASSERT_FALSE(e.has_value()) << body << " -> " << e->message;
    EXPECT_EQ(r.model, "") << body;
  }
  GenerationSetup setup;
  setup.model_name = "smol";
  setup.model_aliases = {"gpt-4o-mini", "small"};
  EXPECT_TRUE(ServesModel(setup, ""));
  EXPECT_TRUE(ServesModel(setup, "smol"));
  EXPECT_TRUE(ServesModel(setup, "small"));
  EXPECT_FALSE(ServesModel(setup, "Small"));
  EXPECT_FALSE(ServesModel(setup, "other"));
}

TEST(OpenAiRequestTest, StructuredOutputSpellingsSetOneGuide) {
  struct Case {
    const char* extra;
    GuideKind kind;
  };
  const Case cases[] = {
      {R"("response_format":{"type":"text"})", GuideKind::kNone},
      {R"("response_format":{"type":"json_object"})", GuideKind::kJsonObject},
      {R"("response_format":{"type":"json_schema","json_schema":{"schema":{"type":"object"}}})",
       GuideKind::kJsonSchema},
      {R"("guided_json":"{\"type\":\"integer\"}")", GuideKind::kJsonSchema},
      {R"("guided_regex":"[a-z]+")", GuideKind::kRegex},
      {R"("guided_choice":["x","y"])", GuideKind::kChoice},
      {R"("structured_outputs":{"json_object":true})", GuideKind::kJsonObject},
      {R"("structured_outputs":{"json":{"type":"string"}})", GuideKind::kJsonSchema},
  };
  for (const Case& c : cases) {
    ApiRequest r;
    const std::string body = std::string(R"({"model":"m","prompt":"x",)") + c.extra + "}";
    auto e = ParseCompletionRequest(body, &r);
    ASSERT_FALSE(e.has_value()) << body << " -> " << e->message;
    EXPECT_EQ(r.guide, c.kind) << body;
  }
  ApiRequest r;
  ASSERT_FALSE(ParseCompletionRequest(R"({"model":"m","prompt":"x","guided_choice":["x","y"]})", &r)
                   .has_value());
  EXPECT_EQ(r.guide_spec, R"(["x","y"])");
}

TEST(OpenAiRequestTest, RejectsBadChatInputWithParam) {
  const BadCase cases[] = {
      {R"({"model":"m"})", 400, "messages"},
      {R"({"model":"m","messages":[]})", 400, "messages"},
      {R"({"model":"m","messages":"hi"})", 400, "messages"},
      {R"({"model":"m","messages":[{"role":"wizard","content":"x"}]})", 400, "messages[0].role"},
      {R"({"model":"m","messages":[{"content":"x"}]})", 400, "messages[0].role"},
      {R"({"model":"m","messages":[{"role":"user"}]})", 400, "messages[0].content"},
      {R"({"model":"m","messages":[{"role":"user","content":5}]})", 400, "messages[0].content"},
      {R"({"model":"m","messages":[{"role":"user","content":"x"}],"top_logprobs":2})", 400,
       "top_logprobs"},
      {R"({"model":"m","messages":[{"role":"user","content":"x"}],"logprobs":3})", 400, "logprobs"},
      {R"({"model":"m","messages":[{"role":"user","content":"x"}],"max_completion_tokens":-1})",
       400, "max_completion_tokens"},
  };
  for (const BadCase& c : cases) {
    ApiRequest r;
    auto e = ParseChatRequest(c.body, &r);
    ASSERT_TRUE(e.has_value()) << c.body;
    EXPECT_EQ(e->http_status, c.status) << c.body;
    EXPECT_EQ(e->param, c.param) << c.body << " -> " << e->message;
  }
}

TEST(OpenAiRequestTest, TruncatePromptTokensIsAPositiveCountOnBothEndpoints) {
  ApiRequest r;
  ASSERT_FALSE(ParseCompletionRequest(R"({"prompt":"x","truncate_prompt_tokens":3})", &r));
  EXPECT_EQ(r.truncate_prompt_tokens, 3);
  ASSERT_FALSE(ParseCompletionRequest(R"({"prompt":"x","truncate_prompt_tokens":null})", &r));
  EXPECT_FALSE(r.truncate_prompt_tokens.has_value());
  ASSERT_FALSE(ParseChatRequest(
      R"({"messages":[{"role":"user","content":"x"}],"truncate_prompt_tokens":1})", &r));
  EXPECT_EQ(r.truncate_prompt_tokens, 1);
  for (const char* bad : {"0", "-1", "2.5", "\"4\"", "true", "4294967296"}) {
    const std::string body = std::string(R"({"prompt":"x","truncate_prompt_tokens":)") + bad + "}";
    auto e = ParseCompletionRequest(body, &r);
    ASSERT_TRUE(e.has_value()) << body;
    EXPECT_EQ(e->http_status, 400);
    EXPECT_EQ(e->param, "truncate_prompt_tokens") << body;
  }
}

TEST(OpenAiRequestTest, ReturnTokensAsTokenIdsIsABoolean) {
  ApiRequest r;
  ASSERT_FALSE(ParseCompletionRequest(R"({"prompt":"x","return_tokens_as_token_ids":true})", &r));
  EXPECT_TRUE(r.return_tokens_as_token_ids);
  ASSERT_FALSE(ParseChatRequest(
      R"({"messages":[{"role":"user","content":"x"}],"return_tokens_as_token_ids":false})", &r));
  EXPECT_FALSE(r.return_tokens_as_token_ids);
  auto e = ParseCompletionRequest(R"({"prompt":"x","return_tokens_as_token_ids":1})", &r);
  ASSERT_TRUE(e.has_value());
  EXPECT_EQ(e->param, "return_tokens_as_token_ids");
}

TEST(OpenAiRequestTest, AllowedTokenIdsAndBadWordsAreListsNamedInErrors) {
  ApiRequest r;
  ASSERT_FALSE(ParseChatRequest(R"({"messages":[{"role":"user","content":"x"}],
      "allowed_token_ids":[5,3,5],"bad_words":["foo"," bar baz"]})",
                                &r));
  EXPECT_EQ(r.allowed_token_ids, (std::vector<int32_t>{5, 3, 5}));
  EXPECT_EQ(r.bad_words, (std::vector<std::string>{"foo", " bar baz"}));
  ASSERT_FALSE(
      ParseCompletionRequest(R"({"prompt":"x","allowed_token_ids":null,"bad_words":[]})", &r));
  EXPECT_TRUE(r.allowed_token_ids.empty());
  EXPECT_TRUE(r.bad_words.empty());
  const BadCase cases[] = {
      {R"({"prompt":"x","allowed_token_ids":[]})", 400, "allowed_token_ids"},
      {R"({"prompt":"x","allowed_token_ids":[-1]})", 400, "allowed_token_ids"},
      {R"({"prompt":"x","allowed_token_ids":["a"]})", 400, "allowed_token_ids"},
      {R"({"prompt":"x","allowed_token_ids":7})", 400, "allowed_token_ids"},
      {R"({"prompt":"x","bad_words":[""]})", 400, "bad_words"},
      {R"({"prompt":"x","bad_words":["  "]})", 400, "bad_words"},
      {R"({"prompt":"x","bad_words":[3]})", 400, "bad_words"},
      {R"({"prompt":"x","bad_words":"foo"})", 400, "bad_words"},
  };
  for (const BadCase& c : cases) {
    auto e = ParseCompletionRequest(c.body, &r);
    ASSERT_TRUE(e.has_value()) << c.body;
    EXPECT_EQ(e->http_status, c.status) << c.body;
    EXPECT_EQ(e->param, c.param) << c.body << " -> " << e->message;
  }
}

TEST(OpenAiRequestTest, ChatRendersWithoutGenerationPromptOrContinuesTheLastMessage) {
  const ChatTemplate t = ChatTemplate::ForFamily(ChatTemplateFamily::kChatMl);
  ApiRequest r;
  const std::string msgs = R"("messages":[{"role":"user","content":"Hi"},
      {"role":"assistant","content":"Hello th"}])";
  std::string text;
  ASSERT_FALSE(ParseChatRequest("{" + msgs + "}", &r));
  ASSERT_FALSE(RenderChatPrompt(r, t, &text));
  EXPECT_EQ(text,
            "<|im_start|>user\nHi<|im_end|>\n<|im_start|>assistant\nHello th<|im_end|>\n"
            "<|im_start|>assistant\n");
  ASSERT_FALSE(ParseChatRequest("{" + msgs + R"(,"add_generation_prompt":false})", &r));
  ASSERT_FALSE(RenderChatPrompt(r, t, &text));
  EXPECT_EQ(text, "<|im_start|>user\nHi<|im_end|>\n<|im_start|>assistant\nHello th<|im_end|>\n");
  ASSERT_FALSE(ParseChatRequest(
      "{" + msgs + R"(,"add_generation_prompt":false,"continue_final_message":true})", &r));
  ASSERT_FALSE(RenderChatPrompt(r, t, &text));
  EXPECT_EQ(text, "<|im_start|>user\nHi<|im_end|>\n<|im_start|>assistant\nHello th");

  const char* bad[] = {
      // Both true (add_generation_prompt defaults to true), as vLLM refuses.
      R"({"messages":[{"role":"assistant","content":"a"}],"continue_final_message":true})",
      R"({"messages":[{"role":"user","content":"a"}],"add_generation_prompt":false,
          "continue_final_message":true})",
      R"({"messages":[{"role":"assistant","content":""}],"add_generation_prompt":false,
          "continue_final_message":true})",
  };
  for (const char* body : bad) {
    auto e = ParseChatRequest(body, &r);
    ASSERT_TRUE(e.has_value()) << body;
    EXPECT_EQ(e->param, "continue_final_message") << body;
  }
  auto e = ParseChatRequest("{" + msgs + R"(,"add_generation_prompt":1})", &r);
  ASSERT_TRUE(e.has_value());
  EXPECT_EQ(e->param, "add_generation_prompt");
}

TEST(OpenAiRequestTest, RejectsDeepNestingWithoutRecursing) {
  std::string body =
      R"({"model":"m","prompt":)" + std::string(100000, '[') + std::string(100000, ']') + "}";
  ApiRequest r;
  auto e = ParseCompletionRequest(body, &r);
  ASSERT_TRUE(e.has_value());
  EXPECT_EQ(e->http_status, 400);
  EXPECT_TRUE(JsonDepthWithin(R"({"a":"[[[[[[[[[[[["})", 3));
}

TEST(OpenAiRequestTest, ResolvesMaxTokensAgainstContext) {
  config::RequestLimits limits;
  limits.max_tokens_default = 16;
  limits.max_tokens_limit = 100;
  ApiRequest r;
  int32_t n = 0;
  EXPECT_FALSE(ResolveMaxNewTokens(r, 10, 20, limits, &n).has_value());
  EXPECT_EQ(n, 10);  // min(default 16, room 10)
  EXPECT_FALSE(ResolveMaxNewTokens(r, 2, 100, limits, &n).has_value());
  EXPECT_EQ(n, 16);

  auto e = ResolveMaxNewTokens(r, 20, 20, limits, &n);
  ASSERT_TRUE(e.has_value());
  EXPECT_EQ(e->param, "input_tokens");
  EXPECT_EQ(e->http_status, 400);

  r.max_tokens = 11;
  e = ResolveMaxNewTokens(r, 10, 20, limits, &n);
  ASSERT_TRUE(e.has_value());
  EXPECT_EQ(e->param, "max_tokens");
  r.max_tokens = 101;
  e = ResolveMaxNewTokens(r, 1, 1000, limits, &n);
  ASSERT_TRUE(e.has_value());
  EXPECT_EQ(e->param, "max_tokens");
  r.max_tokens = 10;
  EXPECT_FALSE(ResolveMaxNewTokens(r, 10, 20, limits, &n).has_value());
  EXPECT_EQ(n, 10);
}

TEST(ApiErrorTest, BodyHasOpenAiShapeAndIsBounded) {
  ApiError e = BadRequest(std::string(100000, 'x') + "\xC3\xA9", std::string(5000, 'p'));
  std::string body = ErrorBody(e);
  EXPECT_LT(body.size(), kMaxErrorMessageBytes + kMaxErrorParamBytes + 200);
  EXPECT_NE(body.find(R"("type":"invalid_request_error")"), std::string::npos);
  EXPECT_NE(body.find(R"("code":null)"), std::string::npos);

  std::string nulls = ErrorBody(InternalError("boom"));
  EXPECT_NE(nulls.find(R"("param":null)"), std::string::npos);
  EXPECT_NE(nulls.find(R"("message":"boom")"), std::string::npos);
  // Invalid UTF-8 in a message does not throw.
  EXPECT_NE(ErrorBody(BadRequest("\xFF\xFE")).find("error"), std::string::npos);
  // A cut never splits a character.
  EXPECT_EQ(TruncateUtf8("a\xC3\xA9", 2), "a");
}

TEST(ApiErrorTest, MapsStatusCodes) {
  EXPECT_EQ(ErrorFromStatus(InvalidArgument("x")).http_status, 400);
  EXPECT_EQ(ErrorFromStatus(NotFound("x")).http_status, 404);
  EXPECT_EQ(ErrorFromStatus(Unavailable("x")).http_status, 503);
  EXPECT_EQ(ErrorFromStatus(Internal("x")).http_status, 500);
  EXPECT_EQ(StatusFromError(BadRequest("x", "p")).code(), StatusCode::kInvalidArgument);
}

TEST(SseTest, FramesAndDone) {
  EXPECT_EQ(SseFrame(R"({"a":1})"), "data: {\"a\":1}\n\n");
  EXPECT_EQ(SseFrame("a\nb"), "data: a\\nb\n\n");
  EXPECT_EQ(SseDone(), "data: [DONE]\n\n");
}

}  // namespace
}  // namespace skipjoin::frontend
