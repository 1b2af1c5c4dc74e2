#include "client/bench/openai_api.h"

#include <gtest/gtest.h>

#include <nlohmann/json.hpp>

namespace skipjoin::bench {
namespace {

using nlohmann::json;

TEST(OpenAiApiTest, CompletionBodyStreamsWithUsageAndAsksTheOutputLength) {
  BenchPrompt p;
  p.token_ids = {5, 6, 7};
  p.input_len = 3;
  p.output_len = 9;
  const json body = json::parse(BuildRequestBody(p, {ApiFlavor::kCompletions, "m", true}));
  EXPECT_EQ(body["model"], "m");
  EXPECT_EQ(body["prompt"], json({5, 6, 7}));
  EXPECT_EQ(body["max_tokens"], 9);
  EXPECT_EQ(body["stream"], true);
  EXPECT_EQ(body["stream_options"]["include_usage"], true);
  EXPECT_EQ(body["ignore_eos"], true);

  const json plain = json::parse(BuildRequestBody(p, {ApiFlavor::kCompletions, "m", false}));
  EXPECT_FALSE(plain.contains("ignore_eos"));
  p.token_ids.clear();
  p.text = "the cat";
  EXPECT_EQ(json::parse(BuildRequestBody(p, {ApiFlavor::kCompletions, "m", false}))["prompt"],
            "the cat");
}

TEST(OpenAiApiTest, ChatBodySendsOneUserMessage) {
  BenchPrompt p;
  p.text = "hello there";
  p.output_len = 4;
  const json body = json::parse(BuildRequestBody(p, {ApiFlavor::kChat, "m", false}));
  EXPECT_EQ(body["messages"][0]["role"], "user");
  EXPECT_EQ(body["messages"][0]["content"], "hello there");
  EXPECT_EQ(body["max_completion_tokens"], 4);
  EXPECT_FALSE(body.contains("prompt"));
}

TEST(OpenAiApiTest, FlavorFollowsTheEndpoint) {
  EXPECT_EQ(FlavorForEndpoint("/v1/completions"), ApiFlavor::kCompletions);
  EXPECT_EQ(FlavorForEndpoint("/v1/chat/completions"), ApiFlavor::kChat);
  EXPECT_EQ(FlavorForEndpoint("/v1/chat/completions/"), ApiFlavor::kChat);
}

TEST(OpenAiApiTest, ChunksYieldContentUsageDoneAndErrors) {
  auto text = ParseStreamChunk(R"({"choices":[{"index":0,"text":"Hi","finish_reason":null}]})",
                               ApiFlavor::kCompletions);
  ASSERT_TRUE(text.ok());
  EXPECT_EQ(text->content, "Hi");
  EXPECT_FALSE(text->done);

  auto last = ParseStreamChunk(R"({"choices":[{"index":0,"text":"","finish_reason":"length"}]})",
                               ApiFlavor::kCompletions);
  ASSERT_TRUE(last.ok());
  EXPECT_EQ(last->content, "");

  auto delta = ParseStreamChunk(R"({"choices":[{"delta":{"content":"Yo"}}]})", ApiFlavor::kChat);
  ASSERT_TRUE(delta.ok());
  EXPECT_EQ(delta->content, "Yo");
  auto role = ParseStreamChunk(R"({"choices":[{"delta":{"role":"assistant","content":""}}]})",
                               ApiFlavor::kChat);
  ASSERT_TRUE(role.ok());
  EXPECT_EQ(role->content, "");

  auto usage = ParseStreamChunk(
      R"({"choices":[],"usage":{"prompt_tokens":12,"completion_tokens":7,"total_tokens":19}})",
      ApiFlavor::kCompletions);
  ASSERT_TRUE(usage.ok());
  EXPECT_EQ(usage->prompt_tokens, 12);
  EXPECT_EQ(usage->completion_tokens, 7);
  auto null_usage =
      ParseStreamChunk(R"({"choices":[{"text":"a"}],"usage":null})", ApiFlavor::kCompletions);
  ASSERT_TRUE(null_usage.ok());
  EXPECT_FALSE(null_usage->completion_tokens.has_value());

  auto done = ParseStreamChunk("[DONE]", ApiFlavor::kCompletions);
  ASSERT_TRUE(done.ok());
  EXPECT_TRUE(done->done);

  auto error = ParseStreamChunk(R"({"error":{"message":"replica lost","type":"x"}})",
                                ApiFlavor::kCompletions);
  ASSERT_TRUE(error.ok());
  EXPECT_EQ(error->error, "replica lost");

  EXPECT_EQ(ParseStreamChunk("{not json", ApiFlavor::kCompletions).status().code(),
            StatusCode::kDataLoss);
  EXPECT_FALSE(ParseStreamChunk("[1,2]", ApiFlavor::kCompletions).ok());
}

TEST(OpenAiApiTest, ErrorMessagesComeFromTheCommonBodyShapes) {
  EXPECT_EQ(ErrorMessageFromBody(R"({"error":{"message":"'model' is required"}})"),
            "'model' is required");
  EXPECT_EQ(ErrorMessageFromBody(R"({"object":"error","message":"bad model"})"), "bad model");
  EXPECT_EQ(ErrorMessageFromBody(R"({"detail":"Not Found"})"), "Not Found");
  EXPECT_EQ(ErrorMessageFromBody("plain text\n"), "plain text");
  EXPECT_EQ(ErrorMessageFromBody(""), "(empty body)");
  EXPECT_EQ(ErrorMessageFromBody(std::string(1000, 'x')).size(), 303u);  // shortened + "..."
}

}  // namespace
}  // namespace skipjoin::bench
