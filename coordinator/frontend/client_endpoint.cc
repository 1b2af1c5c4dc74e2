#include "coordinator/frontend/client_endpoint.h"

#include <algorithm>
#include <atomic>
#include <chrono>
#include <map>
#include <thread>
#include <unordered_map>
#include <utility>
#include <vector>

#include "common/logging.h"
#include "coordinator/frontend/generation_request.h"
#include "coordinator/frontend/native_request.h"
#include "coordinator/frontend/native_response.h"
#include "common/mailbox.h"
#include "protocol/channel.h"
#include "protocol/disconnect_watch.h"

namespace skipjoin::frontend {

namespace {

using namespace std::chrono_literals;

constexpr size_t kMaxClientRequestIdBytes = 256;
// Messages taken from the socket per loop turn, so the mailbox (token events)
// is never starved by a flood of inbound frames.
constexpr int kMaxInboundPerTurn = 256;

// Routing ids are binary; logs show them in hex.
std::string PeerName(const std::string& peer) {
  static const char* kHex = "0123456789abcdef";
  std::string s;
  for (unsigned char c : peer.substr(0, 16)) {
    s += kHex[c >> 4];
    s += kHex[c & 15];
  }
  return s;
}

}  // namespace

class ClientEndpoint::Impl {
 public:
  using Task = std::function<void(Impl&)>;

  Impl(const ClientEndpointOptions& options, protocol::RouterChannel channel,
       zmq::socket_t monitor, server::CoordinatorCore* core, const Tokenizer* tokenizer,
       server::CoordinatorMetrics* metrics)
      : options_(options),
        disconnects_(std::move(monitor)),
        channel_(std::move(channel)),
        core_(core),
        tokenizer_(tokenizer),
        metrics_(metrics),
        chat_template_(ChatTemplate::FromTemplateText(tokenizer->chat_template(),
                                                      tokenizer->TokenText(tokenizer->bos_id()),
                                                      tokenizer->TokenText(tokenizer->eos_id()))),
        mailbox_(std::make_shared<Mailbox<Task>>()) {
    setup_.tokenizer = tokenizer;
    setup_.chat_template = &chat_template_;
    setup_.stop_token_ids = tokenizer->StopTokenIds();
    setup_.model_name = options.model_name;
    setup_.max_context = options.max_context;
    setup_.limits = options.limits;
  }

  void Run();
  // Any thread: ends Run (which then cancels the open requests).
  void RequestStop() {
    stopping_.store(true);
    mailbox_->Close();
  }

 private:
  // One open SubmitRequest. Keyed by (peer, client_request_id).
  using Key = std::pair<std::string, std::string>;
  struct Open {
    std::unique_ptr<NativeResponse> response;
  };

  // Core thread -> the endpoint's mailbox. Holds the mailbox, not the Impl, so
  // a late Deliver after the endpoint stopped is dropped (Push fails on a
  // closed mailbox) instead of touching freed memory.
  class Sink final : public server::EventSink {
   public:
    explicit Sink(std::shared_ptr<Mailbox<Task>> mailbox) : mailbox_(std::move(mailbox)) {}
    void Deliver(std::vector<server::SequenceEvent> events) override {
      mailbox_->Push([ev = std::move(events)](Impl& impl) { impl.OnEvents(ev); });
    }

   private:
    std::shared_ptr<Mailbox<Task>> mailbox_;
  };

  void Handle(protocol::Inbound inbound);
  void OnSubmit(const std::string& peer, protocol::SubmitRequest request);
  void OnCancel(const std::string& peer, const protocol::CancelRequest& request);
  void OnStatus(const std::string& peer);
  void OnEvents(const std::vector<server::SequenceEvent>& events);
  void Reject(const std::string& peer, const std::string& request_id, const Status& status);
  // Sends a reply that ends nothing if lost (ErrorReply, StatusReply, ModelsReply).
  void Reply(const std::string& peer, const protocol::Message& message);
  // Sends chunks of an open request; false when the peer is gone (its
  // requests are then cancelled and erased, `key` included).
  bool SendChunks(const Key& key, std::vector<protocol::TokenChunk>& chunks);
  void DropPeer(const std::string& peer, const Status& why);
  // After a connection dropped: a no-op send to each peer with open
  // requests; one that is gone has its requests cancelled.
  void ProbePeers();
  void Erase(const Key& key);

  const ClientEndpointOptions options_;
  // Before the channel, so it is destroyed after it (RouterChannel::Monitor).
  protocol::DisconnectWatch disconnects_;
  protocol::RouterChannel channel_;  // this thread only
  server::CoordinatorCore* core_;
  const Tokenizer* tokenizer_;
  server::CoordinatorMetrics* metrics_;
  ChatTemplate chat_template_;
  GenerationSetup setup_;  // points into this object
  std::shared_ptr<Mailbox<Task>> mailbox_;
  std::atomic<bool> stopping_{false};
  // Open requests, by client key and by scheduler request id. This thread only.
  std::map<Key, Open> open_;
  std::unordered_map<server::RequestId, Key> by_seq_;
};

void ClientEndpoint::Impl::Run() {
  while (!stopping_.load()) {
    zmq::pollitem_t items[3] = {{channel_.socket().handle(), 0, ZMQ_POLLIN, 0},
                                {nullptr, mailbox_->fd(), ZMQ_POLLIN, 0},
                                {disconnects_.handle(), 0, ZMQ_POLLIN, 0}};
    try {
      zmq::poll(items, disconnects_.handle() ? 3 : 2, std::chrono::milliseconds(100));
    } catch (const zmq::error_t& e) {
      if (e.num() != EINTR) {
        SJ_LOG(Error) << "client endpoint poll: " << e.what();
      }
    }
    for (Task& task : mailbox_->PopAll()) task(*this);
    const double now =
        std::chrono::duration<double>(std::chrono::steady_clock::now().time_since_epoch()).count();
    disconnects_.Drain(now);
    if (disconnects_.ProbeDue(now)) ProbePeers();
    for (int i = 0; i < kMaxInboundPerTurn && !stopping_.load(); ++i) {
      auto inbound = channel_.Recv(0ms);
      if (!inbound.ok()) {
        if (inbound.status().code() != StatusCode::kDeadlineExceeded) {
          SJ_LOG(Warn) << "client endpoint receive: " << inbound.status().ToString();
        }
        break;
      }
      Handle(std::move(*inbound));
    }
  }
  // Stopping: nobody will read these requests' output any more.
  std::vector<server::RequestId> live;
  for (const auto& [key, open] : open_) {
    if (!open.response->done()) live.push_back(open.response->seq_id());
  }
  if (!live.empty()) core_->Cancel(std::move(live));
  open_.clear();
  by_seq_.clear();
  channel_.Close();
}

void ClientEndpoint::Impl::Handle(protocol::Inbound inbound) {
  const std::string& peer = inbound.peer;
  if (!inbound.message.ok()) {
    Status why = inbound.message.status();
    if (why.code() == StatusCode::kResourceExhausted) {
      // Over the request size limit, as an HTTP body over it gets a 413.
      why = InvalidArgument(why.message() + " (coordinator.limits.max_body_bytes)");
    }
    SJ_LOG(Warn) << "client " << PeerName(peer) << ": malformed frame: " << why.ToString();
    return Reply(peer, protocol::ErrorReply{protocol::ErrorInfo::FromStatus(why), ""});
  }
  protocol::Message& m = *inbound.message;
  if (auto* submit = std::get_if<protocol::SubmitRequest>(&m))
    return OnSubmit(peer, std::move(*submit));
  if (auto* cancel = std::get_if<protocol::CancelRequest>(&m)) return OnCancel(peer, *cancel);
  if (std::holds_alternative<protocol::StatusRequest>(m)) return OnStatus(peer);
  if (std::holds_alternative<protocol::ModelsRequest>(m)) {
    protocol::ModelsReply reply;
    reply.models.push_back(
        {options_.model_name, static_cast<uint32_t>(std::max<int64_t>(options_.max_context, 0))});
    return Reply(peer, reply);
  }
  const std::string type = protocol::MessageTypeName(protocol::TypeOf(m));
  SJ_LOG(Warn) << "client " << PeerName(peer) << ": unexpected " << type << " on the client port";
  Reply(peer,
        protocol::ErrorReply{protocol::ErrorInfo::FromStatus(InvalidArgument(
                                 "unexpected " + type +
                                 " on the client port; clients send SubmitRequest, CancelRequest, "
                                 "StatusRequest or ModelsRequest")),
                             ""});
}

void ClientEndpoint::Impl::Reject(const std::string& peer, const std::string& request_id,
                                  const Status& status) {
  metrics_->RequestDone("rejected");
  Reply(peer, protocol::ErrorReply{protocol::ErrorInfo::FromStatus(status), request_id});
}

void ClientEndpoint::Impl::OnSubmit(const std::string& peer, protocol::SubmitRequest request) {
  metrics_->RequestReceived();
  const std::string& rid = request.client_request_id;
  if (rid.empty()) return Reject(peer, rid, InvalidArgument("client_request_id must not be empty"));
  if (rid.size() > kMaxClientRequestIdBytes) {
    return Reject(peer, "",
                  InvalidArgument("client_request_id is longer than " +
                                  std::to_string(kMaxClientRequestIdBytes) + " bytes"));
  }
  Key key{peer, rid};
  if (open_.count(key) > 0) {
    return Reject(peer, rid,
                  InvalidArgument("request '" + rid +
                                  "' is still running on this connection; ids must "
                                  "be unique per connection"));
  }
  ApiRequest api;
  auto err = ApiRequestFromSubmit(request, options_.model_name, &api);
  PreparedGeneration prepared;
  if (!err) err = PrepareGeneration(api, setup_, *core_, &prepared);
  if (err) return Reject(peer, rid, StatusFromError(*err));
  // n is always 1 on the native API.
  const server::RequestId seq = prepared.ids.at(0);
  Open open;
  // One prompt too: the native request carries one.
  TokenizedPrompt& prompt = prepared.prompts.at(0);
  open.response = std::make_unique<NativeResponse>(api, *tokenizer_, rid, std::move(prompt.ids),
                                                   std::move(prompt.text), seq);
  open_.emplace(key, std::move(open));
  by_seq_.emplace(seq, std::move(key));
  core_->Submit(std::move(prepared.items), std::make_shared<Sink>(mailbox_), /*reserved=*/true);
}

void ClientEndpoint::Impl::OnCancel(const std::string& peer,
                                    const protocol::CancelRequest& request) {
  auto it = open_.find({peer, request.request_id});
  if (it == open_.end()) {
    // Usually a request that finished while the cancel was on its way.
    return Reply(peer, protocol::ErrorReply{
                           protocol::ErrorInfo::FromStatus(NotFound(
                               "no open request '" + request.request_id + "' on this connection")),
                           request.request_id});
  }
  const Key key = it->first;
  NativeResponse& response = *it->second.response;
  if (!response.done()) core_->Cancel({response.seq_id()});  // counted as "abort" by the core
  std::vector<protocol::TokenChunk> last{response.Abort()};
  if (SendChunks(key, last)) Erase(key);
}

void ClientEndpoint::Impl::OnStatus(const std::string& peer) {
  // The snapshot is taken on the core's thread and comes back through the mailbox.
  core_->GetStatus([mailbox = mailbox_, peer](protocol::StatusReply reply) {
    mailbox->Push([peer, reply = std::move(reply)](Impl& impl) { impl.Reply(peer, reply); });
  });
}

void ClientEndpoint::Impl::OnEvents(const std::vector<server::SequenceEvent>& events) {
  // Usually one event per request per step; keep each request's in order.
  std::map<server::RequestId, std::vector<server::SequenceEvent>> per_seq;
  for (const server::SequenceEvent& e : events) per_seq[e.id].push_back(e);
  for (auto& [seq, seq_events] : per_seq) {
    auto k = by_seq_.find(seq);
    if (k == by_seq_.end()) continue;  // cancelled, or its client went away
    const Key key = k->second;
    auto it = open_.find(key);
    if (it == open_.end()) continue;
    NativeResponse::Update u = it->second.response->OnEvents(seq_events);
    if (u.finish_in_core) core_->Finish({seq});
    if (!SendChunks(key, u.chunks)) continue;
    if (u.done) Erase(key);
  }
}

void ClientEndpoint::Impl::Reply(const std::string& peer, const protocol::Message& message) {
  Status st = channel_.Send(peer, message, options_.send_timeout);
  if (!st.ok()) {
    SJ_LOG(Info) << "client " << PeerName(peer) << ": "
                 << protocol::MessageTypeName(protocol::TypeOf(message))
                 << " not delivered: " << st.ToString();
    if (st.code() == StatusCode::kUnavailable || st.code() == StatusCode::kDeadlineExceeded)
      DropPeer(peer, st);
  }
}

bool ClientEndpoint::Impl::SendChunks(const Key& key, std::vector<protocol::TokenChunk>& chunks) {
  for (protocol::TokenChunk& chunk : chunks) {
    Status st = channel_.Send(key.first, chunk, options_.send_timeout);
    if (st.ok()) continue;
    if (st.code() == StatusCode::kUnavailable || st.code() == StatusCode::kDeadlineExceeded) {
      DropPeer(key.first, st);
      return false;
    }
    // Anything else (a chunk over the frame limit) is this request's problem only.
    SJ_LOG(Error) << "client " << PeerName(key.first) << ": chunk of '" << key.second
                  << "' not sent: " << st.ToString();
  }
  return true;
}

void ClientEndpoint::Impl::DropPeer(const std::string& peer, const Status& why) {
  std::vector<server::RequestId> live;
  std::vector<Key> keys;
  for (auto it = open_.lower_bound({peer, ""}); it != open_.end() && it->first.first == peer;
       ++it) {
    keys.push_back(it->first);
    if (!it->second.response->done()) live.push_back(it->second.response->seq_id());
  }
  if (keys.empty()) return;
  SJ_LOG(Info) << "client " << PeerName(peer) << " is gone (" << why.message() << "); cancelling "
               << live.size() << " request(s)";
  if (!live.empty()) core_->Cancel(std::move(live));  // counted as "abort" by the core
  for (const Key& key : keys) Erase(key);
}

void ClientEndpoint::Impl::ProbePeers() {
  std::vector<std::string> peers;
  for (const auto& [key, open] : open_) {
    if (peers.empty() || peers.back() != key.first) peers.push_back(key.first);
  }
  for (const std::string& peer : peers) {
    Status st = channel_.Send(peer, protocol::Heartbeat{}, 0ms);
    if (st.code() == StatusCode::kUnavailable) DropPeer(peer, st);
  }
}

void ClientEndpoint::Impl::Erase(const Key& key) {
  auto it = open_.find(key);
  if (it == open_.end()) return;
  by_seq_.erase(it->second.response->seq_id());
  open_.erase(it);
}

Result<std::unique_ptr<ClientEndpoint>> ClientEndpoint::Start(const ClientEndpointOptions& options,
                                                              zmq::context_t* context,
                                                              server::CoordinatorCore* core,
                                                              const Tokenizer* tokenizer,
                                                              server::CoordinatorMetrics* metrics) {
  protocol::ChannelOptions channel_options;
  channel_options.curve = options.curve;
  // A request may be as large as an HTTP body (a larger one gets an error
  // reply); ZeroMQ drops a connection whose frame is far over that. Replies
  // (a long completion with logprobs) may be larger.
  channel_options.max_inbound_frame_bytes = options.limits.max_body_bytes;
  channel_options.limits.max_frame_bytes =
      std::max<size_t>(size_t{16} << 20, 4 * options.limits.max_body_bytes);
  auto channel = protocol::RouterChannel::Bind(*context, options.endpoint, channel_options);
  if (!channel.ok()) return channel.status().WithContext("client endpoint " + options.endpoint);
  // Disconnects make the endpoint probe its clients: the requests of a client
  // that exited are cancelled at once, not at their next token.
  auto monitor = channel->Monitor(*context, ZMQ_EVENT_DISCONNECTED);
  if (!monitor.ok()) return monitor.status().WithContext("client endpoint monitor");
  std::unique_ptr<ClientEndpoint> endpoint(new ClientEndpoint());
  endpoint->endpoint_ = channel->endpoint();
  endpoint->impl_ = std::make_unique<Impl>(options, std::move(*channel), std::move(*monitor), core,
                                           tokenizer, metrics);
  // The socket moves to the endpoint's thread here; std::thread's start is the
  // memory barrier ZeroMQ asks for.
  endpoint->thread_ = std::thread([impl = endpoint->impl_.get()] { impl->Run(); });
  return endpoint;
}

ClientEndpoint::~ClientEndpoint() { Stop(); }

void ClientEndpoint::Stop() {
  if (!impl_) return;
  impl_->RequestStop();
  if (thread_.joinable()) thread_.join();
  impl_.reset();
}

}  // namespace skipjoin::frontend
