#include "coordinator/frontend/native_response.h"

#include <utility>

namespace skipjoin::frontend {

using server::SequenceEvent;

NativeResponse::NativeResponse(const ApiRequest& request, const Tokenizer& tokenizer,
                               std::string client_request_id, std::vector<int32_t> prompt_ids,
                               std::string prompt_text, server::RequestId seq_id)
    : stream_(request.stream),
      logprobs_(request.logprobs),
      top_logprobs_(request.top_logprobs),
      echo_(request.echo),
      client_request_id_(std::move(client_request_id)),
      prompt_ids_(std::move(prompt_ids)),
      prompt_text_(std::move(prompt_text)),
      seq_id_(seq_id),
      text_(tokenizer, {request.stop, request.include_stop_str_in_output, request.min_tokens}) {
  pending_ = NewChunk();
}

protocol::TokenChunk NativeResponse::NewChunk() const {
  protocol::TokenChunk c;
  c.request_id = client_request_id_;
  return c;
}

protocol::Usage NativeResponse::MakeUsage() const {
  protocol::Usage u;
  u.prompt_tokens = static_cast<uint32_t>(prompt_ids_.size());
  u.completion_tokens = completion_tokens_;
  return u;
}

void NativeResponse::OnToken(const SequenceEvent& e, Update* u) {
  protocol::TokenChunk chunk = NewChunk();
  protocol::TokenChunk& out = stream_ ? chunk : pending_;
  if (!began_) {
    began_ = true;
    if (echo_) {
      out.text_delta += prompt_text_;
      out.token_ids.insert(out.token_ids.end(), prompt_ids_.begin(), prompt_ids_.end());
      if (logprobs_) {
        for (size_t p = 0; p < prompt_ids_.size(); ++p) {
          protocol::TokenLogprobs lp;
          lp.token = prompt_ids_[p];
          if (p > 0 && p - 1 < e.prompt_logprobs.size()) lp.logprob = e.prompt_logprobs[p - 1];
          out.logprobs.push_back(std::move(lp));
        }
      }
    }
  }
  ++completion_tokens_;
  out.token_ids.push_back(e.token);
  if (logprobs_) {
    protocol::TokenLogprobs lp;
    lp.token = e.token;
    lp.logprob = e.logprob;
    lp.top = e.top;
    if (lp.top.size() > static_cast<size_t>(top_logprobs_)) lp.top.resize(top_logprobs_);
    out.logprobs.push_back(std::move(lp));
  }
  out.text_delta += text_.Push(e.token);
  if (stream_) u->chunks.push_back(std::move(chunk));
  if (text_.stopped()) {
    u->chunks.push_back(End(protocol::FinishReason::kStop));
    u->finish_in_core = true;
  }
}

protocol::TokenChunk NativeResponse::End(protocol::FinishReason reason) {
  done_ = true;
  protocol::TokenChunk last = stream_ ? NewChunk() : std::move(pending_);
  if (!text_.stopped()) last.text_delta += text_.Flush();
  // A stop string that completes together with EOS or max_tokens still ends as "stop".
  if (text_.stopped() && reason == protocol::FinishReason::kLength)
    reason = protocol::FinishReason::kStop;
  last.finish_reason = reason;
  last.usage = MakeUsage();
  return last;
}

NativeResponse::Update NativeResponse::OnEvents(const std::vector<SequenceEvent>& events) {
  Update u;
  for (const SequenceEvent& e : events) {
    if (done_) break;
    if (e.id != seq_id_) continue;
    switch (e.kind) {
      case SequenceEvent::Kind::kToken:
        OnToken(e, &u);
        break;
      case SequenceEvent::Kind::kFinished:
        u.chunks.push_back(End(e.finish == protocol::FinishReason::kLength
                                   ? protocol::FinishReason::kLength
                                   : protocol::FinishReason::kStop));
        break;
      case SequenceEvent::Kind::kError: {
        protocol::TokenChunk last = End(protocol::FinishReason::kError);
        last.error = protocol::ErrorInfo::FromStatus(e.error);
        u.chunks.push_back(std::move(last));
        break;
      }
    }
  }
  u.done = done_;
  return u;
}

protocol::TokenChunk NativeResponse::Abort() {
  if (done_) {
    protocol::TokenChunk c = NewChunk();
    c.finish_reason = protocol::FinishReason::kAbort;
    c.usage = MakeUsage();
    return c;
  }
  return End(protocol::FinishReason::kAbort);
}

}  // namespace skipjoin::frontend
