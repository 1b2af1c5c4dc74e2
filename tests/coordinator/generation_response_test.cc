#include "coordinator/frontend/generation_response.h"

#include <gtest/gtest.h>

#include <nlohmann/json.hpp>
#include <string>
#include <vector>

#include "coordinator/frontend/prompt_rules.h"
#include "coordinator/frontend/text_stream.h"
#include "tests/testutil/tiny_model.h"

namespace skipjoin::frontend {
namespace {

using server::SequenceEvent;

std::unique_ptr<Tokenizer> TinyTokenizer() {
  const auto& t = testutil::GetTinyTokenizer();
  TokenizerSpec spec;
  spec.tokens = t.tokens;
  spec.merges = t.merges;
  spec.types.assign(t.tokens.size(), TokenType::kNormal);
  spec.types[t.endoftext_id] = spec.types[t.im_start_id] = spec.types[t.im_end_id] =
      TokenType::kControl;
  spec.bos_id = t.bos_id;
  spec.eos_id = t.eos_id;
  auto tok = Tokenizer::FromSpec(std::move(spec));
  EXPECT_TRUE(tok.ok()) << tok.status().ToString();
  return std::move(tok).value();
}

// Splits the SSE text into the JSON payloads (and "[DONE]").
std::vector<std::string> Frames(const std::string& sse) {
  std::vector<std::string> out;
  size_t pos = 0;
  while (pos < sse.size()) {
    EXPECT_EQ(sse.compare(pos, 6, "data: "), 0) << sse.substr(pos);
    const size_t end = sse.find("\n\n", pos);
    EXPECT_NE(end, std::string::npos);
    out.push_back(sse.substr(pos + 6, end - pos - 6));
    pos = end + 2;
  }
  return out;
}

SequenceEvent Token(server::RequestId id, int32_t token) {
  SequenceEvent e;
  e.kind = SequenceEvent::Kind::kToken;
  e.id = id;
  e.token = token;
  e.logprob = -0.5f;
  return e;
}

SequenceEvent Finished(server::RequestId id, protocol::FinishReason r) {
  SequenceEvent e;
  e.kind = SequenceEvent::Kind::kFinished;
  e.id = id;
  e.finish = r;
  return e;
}

TEST(StopStringMatcherTest, HoldsBackPrefixesAcrossPushes) {
  StopStringMatcher m({"STOP", "xy"});
  EXPECT_EQ(m.Push("hello S"), "hello ");
  EXPECT_EQ(m.Push("T"), "");
  EXPECT_EQ(m.Push("a"), "STa");  // not a stop after all
  EXPECT_EQ(m.Push("bx"), "b");
  EXPECT_EQ(m.Push("yz"), "");  // "xy" matched across pushes
  EXPECT_TRUE(m.stopped());
  EXPECT_EQ(m.Push("more"), "");
  EXPECT_EQ(m.Flush(), "");
}

TEST(StopStringMatcherTest, EarliestMatchWinsAndFlushReleases) {
  StopStringMatcher m({"bc", "ab"});
  EXPECT_EQ(m.Push("zabc"), "z");
  EXPECT_TRUE(m.stopped());
  StopStringMatcher n({"<end>"});
  EXPECT_EQ(n.Push("text <en"), "text ");
  EXPECT_EQ(n.Flush(), "<en");
  StopStringMatcher none({});
  EXPECT_EQ(none.Push("abc"), "abc");
}

TEST(ChoiceTextStreamTest, StopStringSpanningTokensIsCut) {
  auto tok = TinyTokenizer();
  std::vector<int32_t> ids = tok->Encode("one two three four", false, false);
  ASSERT_GT(ids.size(), 3u);
  ChoiceTextStream s(*tok, StopOptions{{"three"}});
  std::string out;
  for (int32_t id : ids) {
    out += s.Push(id);
    if (s.stopped()) break;
  }
  out += s.Flush();
  EXPECT_TRUE(s.stopped());
  EXPECT_EQ(out, "one two ");
}

TEST(StopStringMatcherTest, IncludeStopKeepsTheMatchedString) {
  StopStringMatcher m({"bc", "ab"}, /*include_stop=*/true);
  EXPECT_EQ(m.Push("zab"), "zab");
  EXPECT_TRUE(m.stopped());
  StopStringMatcher n({"<end>"}, true);
  EXPECT_EQ(n.Push("text <en"), "text ");
  EXPECT_EQ(n.Push("d> more"), "<end>");
}

// Pushes every token of `text`; returns the output and whether it stopped.
std::pair<std::string, bool> StreamAll(const Tokenizer& tok, const std::string& text,
                                       StopOptions options) {
  ChoiceTextStream s(tok, std::move(options));
  std::string out;
  for (int32_t id : tok.Encode(text, false, false)) {
    out += s.Push(id);
    if (s.stopped()) break;
  }
  out += s.Flush();
  return {out, s.stopped()};
}

TEST(ChoiceTextStreamTest, StopStringsCountOnlyAfterMinTokens) {
  auto tok = TinyTokenizer();
  const std::string text = "one two one two";
  const size_t n = tok->Encode(text, false, false).size();
  ASSERT_GE(n, 4u);
  // The first "two" falls inside min_tokens; the second one stops.
  auto [out, stopped] = StreamAll(*tok, text, StopOptions{{"two"}, false, 3});
  EXPECT_TRUE(stopped);
  EXPECT_EQ(out, "one two one ");
  auto [all, never] = StreamAll(*tok, text, StopOptions{{"two"}, false, static_cast<int32_t>(n)});
  EXPECT_FALSE(never);
  EXPECT_EQ(all, text);
  auto [with, s2] = StreamAll(*tok, text, StopOptions{{"two"}, true, 0});
  EXPECT_TRUE(s2);
  EXPECT_EQ(with, "one two");
}

ApiRequest ChatRequest(bool stream) {
  ApiRequest r;
  r.kind = ApiKind::kChat;
  r.stream = stream;
  r.include_usage = true;
  r.n = 1;
  return r;
}

TEST(GenerationResponseTest, StreamsChatWithRoleUsageAndDone) {
  auto tok = TinyTokenizer();
  std::vector<int32_t> ids = tok->Encode("hi there", false, false);
  ResponseContext ctx{"chatcmpl-1", 123, "tiny", {{{1, 2, 3}, ""}}};
  GenerationResponse resp(ChatRequest(true), *tok, ctx, {7});
  std::vector<SequenceEvent> events;
  for (int32_t id : ids) events.push_back(Token(7, id));
  auto u1 = resp.OnEvents(events, false);
  EXPECT_FALSE(u1.done);
  auto u2 = resp.OnEvents(
      {Token(7, testutil::GetTinyTokenizer().eos_id), Finished(7, protocol::FinishReason::kStop)},
      true);
  EXPECT_TRUE(u2.done);
  auto frames = Frames(u1.data + u2.data);
  ASSERT_GE(frames.size(), 4u);
  auto first = nlohmann::json::parse(frames[0]);
  EXPECT_EQ(first["object"], "chat.completion.chunk");
  EXPECT_EQ(first["choices"][0]["delta"]["role"], "assistant");
  std::string text;
  std::string finish;
  for (size_t i = 0; i + 2 < frames.size(); ++i) {
    auto j = nlohmann::json::parse(frames[i]);
    auto& delta = j["choices"][0]["delta"];
    if (delta.contains("content")) text += delta["content"].get<std::string>();
    if (!j["choices"][0]["finish_reason"].is_null()) finish = j["choices"][0]["finish_reason"];
  }
  EXPECT_EQ(text, "hi there");
  EXPECT_EQ(finish, "stop");
  auto usage = nlohmann::json::parse(frames[frames.size() - 2]);
  EXPECT_TRUE(usage["choices"].empty());
  EXPECT_EQ(usage["usage"]["prompt_tokens"], 3);
  EXPECT_EQ(usage["usage"]["completion_tokens"], static_cast<int>(ids.size()) + 1);
  EXPECT_EQ(frames.back(), "[DONE]");
}

TEST(GenerationResponseTest, NonStreamingStopStringFinishesAndCuts) {
  auto tok = TinyTokenizer();
  ApiRequest r;
  r.kind = ApiKind::kCompletion;
  r.stop = {" b"};
  r.n = 2;
  r.echo = true;
  ResponseContext ctx{"cmpl-1", 1, "tiny", {{{5}, "P:"}}};
  GenerationResponse resp(r, *tok, ctx, {1, 2});
  std::vector<SequenceEvent> ev;
  for (int32_t id : tok->Encode("a b c", false, false)) ev.push_back(Token(1, id));
  auto u = resp.OnEvents(ev, false);
  ASSERT_EQ(u.finish.size(), 1u);
  EXPECT_EQ(u.finish[0], 1u);
  EXPECT_FALSE(u.done);
  u = resp.OnEvents(
      {Token(2, tok->Encode("z", false, false)[0]), Finished(2, protocol::FinishReason::kLength)},
      false);
  ASSERT_TRUE(u.done);
  auto body = nlohmann::json::parse(u.data);
  EXPECT_EQ(body["object"], "text_completion");
  EXPECT_EQ(body["choices"][0]["text"], "P:a");
  EXPECT_EQ(body["choices"][0]["finish_reason"], "stop");
  EXPECT_EQ(body["choices"][1]["text"], "P:z");
  EXPECT_EQ(body["choices"][1]["finish_reason"], "length");
  EXPECT_EQ(body["usage"]["prompt_tokens"], 1);
}

TEST(GenerationResponseTest, ErrorBeforeStreamIsHttpErrorAfterIsChunk) {
  auto tok = TinyTokenizer();
  SequenceEvent err;
  err.kind = SequenceEvent::Kind::kError;
  err.id = 3;
  err.error = Unavailable("replica lost");
  {
    ApiRequest two = ChatRequest(true);
    two.n = 2;
    GenerationResponse resp(two, *tok, {"c", 0, "m", {{{1}, ""}}}, {3, 4});
    auto u = resp.OnEvents({err}, false);
    ASSERT_TRUE(u.error.has_value());
    EXPECT_EQ(u.error->http_status, 503);
    EXPECT_TRUE(u.data.empty());
    EXPECT_EQ(u.cancel, (std::vector<server::RequestId>{4}));
  }
  {
    GenerationResponse resp(ChatRequest(true), *tok, {"c", 0, "m", {{{1}, ""}}}, {3});
    auto u = resp.OnEvents({Token(3, 100), err}, false);
    auto frames = Frames(u.data);
    ASSERT_GE(frames.size(), 3u);
    EXPECT_NE(frames[frames.size() - 2].find("\"error\""), std::string::npos);
    EXPECT_EQ(frames.back(), "[DONE]");
  }
}

TEST(GenerationResponseTest, ChatLogprobsCarryTopAlternatives) {
  auto tok = TinyTokenizer();
  ApiRequest r = ChatRequest(false);
  r.logprobs = true;
  r.top_logprobs = 1;
  GenerationResponse resp(r, *tok, {"c", 0, "m", {{{1}, ""}}}, {9});
  SequenceEvent t = Token(9, 'a');
  t.top = {{'a', -0.5f}, {'b', -1.0f}};
  auto u = resp.OnEvents({t, Finished(9, protocol::FinishReason::kLength)}, false);
  ASSERT_TRUE(u.done);
  auto body = nlohmann::json::parse(u.data);
  auto& content = body["choices"][0]["logprobs"]["content"];
  ASSERT_EQ(content.size(), 1u);
  EXPECT_FLOAT_EQ(content[0]["logprob"].get<float>(), -0.5f);
  EXPECT_EQ(content[0]["top_logprobs"].size(), 1u);
}

// Parses each SSE frame but [DONE] as JSON.
std::vector<nlohmann::json> Chunks(const std::string& sse) {
  std::vector<nlohmann::json> out;
  for (const std::string& f : Frames(sse)) {
    if (f != "[DONE]") out.push_back(nlohmann::json::parse(f));
  }
  return out;
}

ApiRequest CompletionRequest(int n, bool stream) {
  ApiRequest r;
  r.kind = ApiKind::kCompletion;
  r.n = n;
  r.stream = stream;
  r.echo = true;
  r.include_usage = true;
  return r;
}

TEST(GenerationResponseTest, BatchChoicesAreIndexedPromptTimesNPlusSample) {
  auto tok = TinyTokenizer();
  const int32_t a = tok->Encode("a", false, false)[0];
  ResponseContext ctx{"cmpl-b", 1, "tiny", {{{5, 6}, "P0:"}, {{7}, "P1:"}}};
  // Choices 0, 1 answer prompt 0; 2, 3 prompt 1.
  for (bool stream : {false, true}) {
    GenerationResponse resp(CompletionRequest(2, stream), *tok, ctx, {10, 11, 12, 13});
    std::string data;
    for (server::RequestId id : {13, 10, 12, 11}) {
      auto u = resp.OnEvents({Token(id, a), Finished(id, protocol::FinishReason::kLength)}, true);
      data += u.data;
      EXPECT_EQ(u.done, id == 11);
    }
    std::vector<std::string> text(4);
    nlohmann::json usage;
    if (stream) {
      for (const nlohmann::json& c : Chunks(data)) {
        if (c["choices"].empty()) {
          usage = c["usage"];
          continue;
        }
        text.at(c["choices"][0]["index"].get<size_t>()) += c["choices"][0]["text"];
      }
    } else {
      auto body = nlohmann::json::parse(data);
      ASSERT_EQ(body["choices"].size(), 4u);
      for (size_t i = 0; i < 4; ++i) {
        EXPECT_EQ(body["choices"][i]["index"], i);
        text[i] = body["choices"][i]["text"];
      }
      usage = body["usage"];
    }
    EXPECT_EQ(text, (std::vector<std::string>{"P0:a", "P0:a", "P1:a", "P1:a"})) << stream;
    // Each prompt counts once, not once per choice.
    EXPECT_EQ(usage["prompt_tokens"], 3);
    EXPECT_EQ(usage["completion_tokens"], 4);
    EXPECT_EQ(usage["total_tokens"], 7);
  }
}

TEST(GenerationResponseTest, MaxTokensZeroReturnsThePromptAloneWithItsLogprobs) {
  auto tok = TinyTokenizer();
  const std::vector<int32_t> prompt = tok->Encode("a b", false, false);
  ASSERT_GE(prompt.size(), 2u);
  ResponseContext ctx{"cmpl-z", 1, "tiny", {{prompt, "a b"}}};
  for (bool stream : {false, true}) {
    ApiRequest r = CompletionRequest(1, stream);
    r.max_tokens = 0;
    r.logprobs = true;
    GenerationResponse resp(r, *tok, ctx, {4});
    SequenceEvent first = Token(4, 'z');  // the scored token, dropped
    first.prompt_logprobs.assign(prompt.size() - 1, -1.25f);
    auto u = resp.OnEvents({first}, false);
    ASSERT_TRUE(u.done);
    EXPECT_EQ(u.finish, (std::vector<server::RequestId>{4}));  // the core stops it
    nlohmann::json choice;
    nlohmann::json usage;
    std::string text;
    std::string finish;
    if (stream) {
      for (const nlohmann::json& c : Chunks(u.data)) {
        if (c["choices"].empty()) {
          usage = c["usage"];
          continue;
        }
        text += c["choices"][0]["text"];
        if (!c["choices"][0]["logprobs"].is_null()) choice = c["choices"][0];
        if (!c["choices"][0]["finish_reason"].is_null()) finish = c["choices"][0]["finish_reason"];
      }
    } else {
      auto body = nlohmann::json::parse(u.data);
      choice = body["choices"][0];
      text = choice["text"];
      finish = choice["finish_reason"];
      usage = body["usage"];
    }
    EXPECT_EQ(text, "a b") << stream;
    EXPECT_EQ(finish, "length");
    EXPECT_EQ(usage["completion_tokens"], 0);
    const auto& lp = choice["logprobs"];
    ASSERT_EQ(lp["tokens"].size(), prompt.size()) << choice.dump();
    EXPECT_TRUE(lp["token_logprobs"][0].is_null());
    EXPECT_FLOAT_EQ(lp["token_logprobs"][1].get<float>(), -1.25f);
    // Events after the choice ended change nothing.
    EXPECT_TRUE(resp.OnEvents({Finished(4, protocol::FinishReason::kLength)}, true).data.empty());
  }
}

TEST(GenerationResponseTest, ReturnTokensAsTokenIdsNamesEveryLogprobToken) {
  auto tok = TinyTokenizer();
  const int32_t a_id = tok->Encode("a", false, false)[0];
  const int32_t b_id = tok->Encode("b", false, false)[0];
  SequenceEvent t = Token(9, a_id);
  t.top = {{a_id, -0.5f}, {b_id, -1.0f}};
  ApiRequest chat = ChatRequest(false);
  chat.logprobs = true;
  chat.top_logprobs = 2;
  chat.return_tokens_as_token_ids = true;
  GenerationResponse c(chat, *tok, {"c", 0, "m", {{{1}, ""}}}, {9});
  auto u = c.OnEvents({t, Finished(9, protocol::FinishReason::kLength)}, false);
  auto body = nlohmann::json::parse(u.data);
  const auto& content = body["choices"][0]["logprobs"]["content"][0];
  const std::string a = "token_id:" + std::to_string(a_id);
  EXPECT_EQ(content["token"], a);
  EXPECT_EQ(content["bytes"].size(), a.size());
  EXPECT_EQ(content["top_logprobs"][1]["token"], "token_id:" + std::to_string(b_id));
  // The text itself is unchanged.
  EXPECT_EQ(body["choices"][0]["message"]["content"], "a");

  const std::vector<int32_t> prompt = tok->Encode("a b", false, false);
  ApiRequest comp = CompletionRequest(1, false);
  comp.logprobs = true;
  comp.top_logprobs = 2;
  comp.return_tokens_as_token_ids = true;
  GenerationResponse p(comp, *tok, {"cmpl", 0, "m", {{prompt, "a b"}}}, {4});
  t.id = 4;
  u = p.OnEvents({t, Finished(4, protocol::FinishReason::kLength)}, false);
  body = nlohmann::json::parse(u.data);
  const auto& lp = body["choices"][0]["logprobs"];
  ASSERT_EQ(lp["tokens"].size(), prompt.size() + 1) << lp.dump();
  EXPECT_EQ(lp["tokens"][0], "token_id:" + std::to_string(prompt[0]));
  EXPECT_EQ(lp["tokens"][prompt.size()], a);
  EXPECT_TRUE(lp["top_logprobs"][prompt.size()].contains("token_id:" + std::to_string(b_id)));
  // Offsets still count the text's bytes.
  EXPECT_EQ(lp["text_offset"][prompt.size()], 3);
  EXPECT_EQ(body["choices"][0]["text"], "a ba");
}

TEST(BadWordTokenIdsTest, WordsLoseLeadingWhitespaceAndGainASpacedSpelling) {
  auto tok = TinyTokenizer();
  const auto ids = BadWordTokenIds({"  a b", "b"}, *tok);
  const std::vector<int32_t> plain = tok->Encode("a b", false, false);
  const std::vector<int32_t> spaced = tok->Encode(" a b", false, false);
  ASSERT_GE(ids.size(), 2u);
  EXPECT_EQ(ids[0], plain);
  size_t next = 1;
  if (spaced[0] != plain[0] && spaced.size() == plain.size()) {
    EXPECT_EQ(ids[next++], spaced);
  }
  EXPECT_EQ(ids[next], tok->Encode("b", false, false));
}

}  // namespace
}  // namespace skipjoin::frontend
