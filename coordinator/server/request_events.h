// What the coordinator core streams back to a frontend for each scheduler
// request (one per OpenAI choice): sampled tokens with their logprobs, then
// exactly one terminal event (finished or error). A request the frontend
// finishes or cancels itself gets no terminal event.
//
// Thread-safety: value types. EventSink::Deliver is called on the core's
// thread and must not block: implementations hand the events to their own
// thread (asio::post onto a session strand, a mailbox).
#pragma once

#include <cstdint>
#include <vector>

#include "common/status.h"
#include "protocol/messages.h"

namespace skipjoin::server {

using skipjoin::RequestId;

struct SequenceEvent {
  enum class Kind { kToken, kFinished, kError };
  Kind kind = Kind::kToken;
  RequestId id = 0;
  // kToken
  int32_t token = -1;
  float logprob = 0;
  std::vector<protocol::TokenLogprob> top;  // best first, when asked
  // First kToken of an echo request: logprobs of prompt tokens 1..n-1.
  std::vector<float> prompt_logprobs;
  // kFinished: kStop (stop token) or kLength. kError: error says why.
  protocol::FinishReason finish = protocol::FinishReason::kNone;
  Status error;
};

class EventSink {
 public:
  virtual ~EventSink() = default;
  // Core thread; events of one step, in order. Must not block.
  virtual void Deliver(std::vector<SequenceEvent> events) = 0;
};

}  // namespace skipjoin::server
