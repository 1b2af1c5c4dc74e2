// ClientEndpoint: the native client protocol (protocol/messages.h) on a
// ZeroMQ ROUTER bound at the config's coordinator client port. docs/API.md
// ("Native protocol") documents it.
//
//   SubmitRequest -> TokenChunks (streaming) or one TokenChunk (not), the last
//                    with a finish reason and usage; an invalid request gets an
//                    ErrorReply naming its client_request_id.
//   CancelRequest -> the request's KV blocks are freed at its replica's next
//                    step; the client gets a last chunk with finish "abort".
//   StatusRequest -> StatusReply (CoordinatorCore::GetStatus).
//   ModelsRequest -> ModelsReply.
//   anything else, or a frame that does not decode -> ErrorReply, a log line,
//                    and the endpoint goes on serving.
// Validation, tokenization, chat templates, stop strings and detokenization
// are the HTTP API's (native_request.h, generation_request.h,
// native_response.h), so both APIs behave the same.
//
// A client that goes away: the ROUTER uses ROUTER_MANDATORY, so a send to a
// departed peer fails; the first failed send to a peer (or one whose queue
// stays full for send_timeout) cancels every open request of that peer. A
// dropped connection (a socket monitor event) makes the endpoint probe every
// peer with open requests at once, so even a queued, non-streaming request of
// a client that exited is cancelled within about a second.
//
// Limits: a request frame over limits.max_body_bytes (the HTTP body limit)
// gets an ErrorReply; admission (limits.max_pending_*) refuses a request with
// kResourceExhausted before it is tokenized, as the HTTP API answers 429.
//
// Threading: an actor. One thread owns the ROUTER socket and every open
// request; it polls the socket together with a Mailbox (eventfd). The core
// delivers SequenceEvents on the core's thread through each request's
// EventSink, which only posts them to the mailbox; GetStatus answers the same
// way. Start, Stop and the destructor are for the owner's thread (not the
// endpoint's own).
#pragma once

#include <chrono>
#include <cstdint>
#include <memory>
#include <string>
#include <thread>
#include <zmq.hpp>

#include "common/config/cluster_config.h"
#include "common/status.h"
#include "coordinator/server/core.h"
#include "coordinator/server/metrics.h"
#include "coordinator/tokenizer/tokenizer.h"
#include "protocol/channel.h"

namespace skipjoin::frontend {

struct ClientEndpointOptions {
  // Where the ROUTER binds: "tcp://HOST:PORT"; "tcp://127.0.0.1:*" picks a port (see endpoint()).
  std::string endpoint;
  std::string model_name;   // the served model id (ModelsReply, and what requests run on)
  int64_t max_context = 0;  // tokens
  config::RequestLimits limits;
  // How long a send may wait on a peer whose queue is full before the peer
  // counts as gone (its requests are cancelled).
  std::chrono::milliseconds send_timeout{200};
  // CURVE on the native port (ZAP domain "clients"; the process's
  // ZapAuthenticator must be running). Off when empty.
  protocol::CurveOptions curve;
};

class ClientEndpoint {
 public:
  // Binds and starts the thread. context, core, tokenizer and metrics must
  // outlive the endpoint.
  static Result<std::unique_ptr<ClientEndpoint>> Start(const ClientEndpointOptions& options,
                                                       zmq::context_t* context,
                                                       server::CoordinatorCore* core,
                                                       const Tokenizer* tokenizer,
                                                       server::CoordinatorMetrics* metrics);
  ~ClientEndpoint();  // Stop()
  ClientEndpoint(const ClientEndpoint&) = delete;
  ClientEndpoint& operator=(const ClientEndpoint&) = delete;

  // The endpoint actually bound ("tcp://127.0.0.1:5555").
  const std::string& endpoint() const { return endpoint_; }
  // Cancels the open requests in the core, closes the socket, joins the
  // thread. Idempotent.
  void Stop();

  class Impl;

 private:
  ClientEndpoint() = default;
  std::string endpoint_;
  std::unique_ptr<Impl> impl_;  // touched only by thread_ between Start and Stop
  std::thread thread_;
};

}  // namespace skipjoin::frontend
