// GenerationResponse: turns the SequenceEvents of one OpenAI request (one
// scheduler request per choice) into what the HTTP session writes: SSE chunks
// while streaming, or one JSON body at the end. It owns the per-choice text
// streams (detokenization, stop strings), logprobs and usage accounting, and
// tells the session which scheduler requests to Finish (stop string seen).
//
// Thread-safety: single owner (the HTTP session's strand or the native
// endpoint's thread). The Tokenizer must outlive it.
#pragma once

#include <cstdint>
#include <memory>
#include <nlohmann/json_fwd.hpp>
#include <optional>
#include <string>
#include <vector>

#include "coordinator/frontend/api_error.h"
#include "coordinator/frontend/openai_request.h"
#include "coordinator/frontend/text_stream.h"
#include "coordinator/server/request_events.h"
#include "coordinator/tokenizer/tokenizer.h"

namespace skipjoin::frontend {

struct ResponseContext {
  std::string id;       // "cmpl-..." / "chatcmpl-..."
  int64_t created = 0;  // unix seconds
  std::string model;
  // The request's prompts (chat: one); choice i answers prompts[i / n]. Their
  // texts are what echo puts in front.
  std::vector<TokenizedPrompt> prompts;
};

class GenerationResponse {
 public:
  // seq_ids[i] is the scheduler request of choice i; there are n per prompt
  // (request.n * context.prompts.size() in all).
  GenerationResponse(ApiRequest request, const Tokenizer& tokenizer, ResponseContext context,
                     std::vector<server::RequestId> seq_ids);

  struct Update {
    // Streaming: SSE frames to write now (the first non-empty update starts the
    // stream). Non-streaming: the whole JSON body once done.
    std::string data;
    bool done = false;
    // Scheduler requests that ended here (stop string): Finish them.
    std::vector<server::RequestId> finish;
    // Scheduler requests to Cancel (another choice failed).
    std::vector<server::RequestId> cancel;
    // Set when the request failed. If nothing was written yet the session
    // answers with this HTTP error; when streaming has started, `data` already
    // holds the error chunk and [DONE].
    std::optional<ApiError> error;
  };

  // `stream_started`: whether the session has already written stream bytes.
  Update OnEvents(const std::vector<server::SequenceEvent>& events, bool stream_started);

  bool done() const { return done_; }
  // For the request log line: "user=... prompt_tokens=N completion_tokens=M
  // finish=stop,length" (user only when the request named one).
  std::string LogSummary() const;
  bool streaming() const { return request_.stream; }
  // Scheduler requests that may still be running (for cancel on disconnect).
  std::vector<server::RequestId> LiveSequences() const;

 private:
  struct Choice {
    server::RequestId seq_id = 0;
    size_t prompt = 0;  // index into ctx_.prompts
    std::unique_ptr<ChoiceTextStream> text;
    std::string full_text;  // non-streaming accumulation
    int32_t completion_tokens = 0;
    bool done = false;
    bool began = false;  // streaming preamble (role / echo) sent
    const char* finish_reason = nullptr;
    std::vector<int32_t> tokens;  // with logprobs
    std::vector<float> logprobs;
    std::vector<size_t> text_offsets;  // of each token in the choice's whole text (with echo)
    size_t next_text_offset = 0;
    std::vector<std::vector<protocol::TokenLogprob>> tops;
    std::vector<float> prompt_logprobs;
  };

  int FindChoice(server::RequestId id) const;
  void HandleToken(int index, const server::SequenceEvent& e, std::string* stream_out);
  void EndChoice(int index, const char* reason, std::string* stream_out);
  // max_tokens 0 (echo): the choice is its prompt alone; the one token the
  // scheduler ran (so that the worker scored the prompt) is dropped.
  void EndWithPromptOnly(int index, const server::SequenceEvent& e, std::string* stream_out);
  const TokenizedPrompt& PromptOf(const Choice& c) const { return ctx_.prompts[c.prompt]; }
  // A token as logprobs name it: its text, or "token_id:<id>" with
  // return_tokens_as_token_ids (vLLM's spelling).
  std::string LogprobToken(int32_t token) const;
  int64_t PromptTokens() const;  // over all prompts, each counted once (not per choice)
  // The choice's "logprobs" object for its tokens [begin, end), prompt tokens
  // first when with_prompt (echo); null when logprobs were not asked for.
  nlohmann::json LogprobsJson(int index, size_t begin, size_t end, bool with_prompt) const;
  std::string ChunkJson(int index, const std::string& text, bool role, const char* finish,
                        size_t logprob_begin, size_t logprob_end, bool with_prompt) const;
  std::string FinalBody() const;
  std::string UsageChunk() const;

  ApiRequest request_;
  const Tokenizer& tokenizer_;
  ResponseContext ctx_;
  std::vector<Choice> choices_;
  bool done_ = false;
};

}  // namespace skipjoin::frontend
