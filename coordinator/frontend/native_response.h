// NativeResponse: turns the SequenceEvents of one native SubmitRequest (one
// scheduler request; the native API has n = 1) into TokenChunks. It shares
// the HTTP API's per-choice text stream (incremental UTF-8-safe
// detokenization and stop strings, text_stream.h).
//
// Streaming: one chunk per sampled token (text_delta may be empty while a
// possible stop string or a partial UTF-8 character is held back), then the
// chunk that carries the finish reason and usage. Non-streaming: one chunk at
// the end with all of it. Echo: the first chunk's text starts with the prompt
// text, and its token_ids (and logprobs, when asked) start with the prompt's
// tokens; the first prompt token's logprob is 0 (nothing precedes it).
//
// Thread-safety: single owner (the ClientEndpoint's thread). The Tokenizer
// must outlive it.
#pragma once

#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include "coordinator/frontend/openai_request.h"
#include "coordinator/frontend/text_stream.h"
#include "coordinator/server/request_events.h"
#include "coordinator/tokenizer/tokenizer.h"
#include "protocol/messages.h"

namespace skipjoin::frontend {

class NativeResponse {
 public:
  // request: the validated request (stop strings, stream, logprobs, echo).
  // prompt_text: the prompt as text, for echo.
  NativeResponse(const ApiRequest& request, const Tokenizer& tokenizer,
                 std::string client_request_id, std::vector<int32_t> prompt_ids,
                 std::string prompt_text, server::RequestId seq_id);

  struct Update {
    std::vector<protocol::TokenChunk> chunks;  // to send now, in order
    bool done = false;                         // the last chunk is among `chunks`
    bool finish_in_core = false;  // a stop string ended it here: Finish the scheduler request
  };

  // Events of this request's scheduler request.
  Update OnEvents(const std::vector<server::SequenceEvent>& events);
  // The client cancelled: the last chunk (finish reason abort, usage so far,
  // with the text that was held back when not streaming).
  protocol::TokenChunk Abort();

  bool done() const { return done_; }
  server::RequestId seq_id() const { return seq_id_; }
  const std::string& client_request_id() const { return client_request_id_; }

 private:
  void OnToken(const server::SequenceEvent& e, Update* u);
  protocol::TokenChunk End(protocol::FinishReason reason);
  protocol::TokenChunk NewChunk() const;
  protocol::Usage MakeUsage() const;

  const bool stream_;
  const bool logprobs_;
  const int top_logprobs_;
  const bool echo_;
  const std::string client_request_id_;
  const std::vector<int32_t> prompt_ids_;
  const std::string prompt_text_;
  const server::RequestId seq_id_;
  ChoiceTextStream text_;
  bool began_ = false;
  bool done_ = false;
  uint32_t completion_tokens_ = 0;
  protocol::TokenChunk pending_;  // non-streaming: everything so far
};

}  // namespace skipjoin::frontend
