// ZeroMQ channels that carry protocol messages.
//
//   RouterChannel: the coordinator side (WorkerHub, ClientEndpoint). Binds;
//     every inbound message comes with the sending peer's routing id, and every
//     send names the peer. Wire: [peer id][frame].
//   DealerChannel: the worker Link and the native client. Connects; talks to
//     the one ROUTER it connected to. Wire: [frame].
// A frame is one codec.h frame. Messages with another number of parts are
// reported as errors and dropped, never crash the receiver.
//
// Threading: a zmq socket belongs to one thread. A channel is created by any
// thread, may be moved to its owning thread before first use, and from then on
// only that thread calls Send, Recv, socket() or Close() (ZeroMQ requires a
// full memory barrier when a socket changes threads; handing it through a
// Mailbox provides one). The zmq::context_t is thread-safe, is shared by all
// channels of a process, and must outlive them.
//
// Sockets: linger 0 (close never blocks on unsent messages), ZMQ_MAXMSGSIZE set
// to the frame limit (a TCP peer that sends more is disconnected by ZeroMQ),
// bounded high-water marks, and ROUTER_MANDATORY on routers so a send to an
// unknown or departed peer fails with kUnavailable instead of vanishing.
#pragma once

#include <chrono>
#include <cstddef>
#include <string>
#include <string_view>
#include <zmq.hpp>

#include "common/status.h"
#include "protocol/codec.h"
#include "protocol/curve.h"
#include "protocol/messages.h"

namespace skipjoin::protocol {

// CURVE encryption and authentication of a channel (curve.h). Off when
// `own.secret_key` is empty.
//   RouterChannel: `own` is the server keypair; every handshake is checked by
//     the process's ZapAuthenticator under `zap_domain`, which must be running
//     before Bind (without a ZAP handler libzmq would accept any client key).
//   DealerChannel: `own` is this client's keypair, `server_public_key` the
//     server's; a server that refuses the key shows up as no replies (and a
//     ZMQ_EVENT_HANDSHAKE_FAILED_AUTH socket event).
struct CurveOptions {
  CurveKeypair own;
  std::string server_public_key;  // DealerChannel
  std::string zap_domain;         // RouterChannel
  bool enabled() const { return !own.secret_key.empty(); }
};

struct ChannelOptions {
  CodecLimits limits;                // limits.max_frame_bytes is also ZMQ_MAXMSGSIZE
  // RouterChannel::Recv: frames over this (when > 0) get a kResourceExhausted
  // decode error instead of a message, so the owner can answer; frames over
  // limits.max_frame_bytes never arrive (ZeroMQ drops the connection).
  size_t max_inbound_frame_bytes = 0;
  int send_high_water_mark = 10000;  // messages queued per peer before Send waits
  int recv_high_water_mark = 10000;
  std::string routing_id;  // DealerChannel: the id the ROUTER sees; empty: random
  CurveOptions curve;
};

// One message received by a RouterChannel. A frame that fails to decode still
// names its peer, so the owner can answer with an ErrorReply.
struct Inbound {
  std::string peer;         // routing id of the sender; pass it back to Send
  Result<Message> message;  // the decoded message, or why decoding failed
  std::string user_id;      // CURVE: the ZAP user id of the sender's key; else empty
};

class RouterChannel {
 public:
  // Binds a ROUTER socket. endpoint: "inproc://name", "tcp://host:port" or
  // "tcp://host:*" for an ephemeral port (see endpoint()).
  static Result<RouterChannel> Bind(zmq::context_t& context, const std::string& endpoint,
                                    const ChannelOptions& options = {});

  RouterChannel(RouterChannel&&) = default;
  RouterChannel& operator=(RouterChannel&& other) {
    if (this != &other) {
      Close();
      socket_ = std::move(other.socket_);
      endpoint_ = std::move(other.endpoint_);
      options_ = std::move(other.options_);
    }
    return *this;
  }
  ~RouterChannel() { Close(); }

  // The endpoint actually bound, with the port resolved ("tcp://127.0.0.1:40123").
  const std::string& endpoint() const { return endpoint_; }

  // Sends to one peer. kUnavailable: the peer is unknown or gone;
  // kDeadlineExceeded: the peer's queue stayed full for `timeout`;
  // kResourceExhausted: the encoded frame is over the frame limit.
  Status Send(std::string_view peer, const Message& message, std::chrono::milliseconds timeout);
  // Sends a frame Encode() made, so that one message going to several peers
  // (a step plan to every rank) is encoded once. Same errors as Send.
  Status SendEncoded(std::string_view peer, std::string_view frame,
                     std::chrono::milliseconds timeout);

  // Waits up to `timeout` (0: do not wait) for one message.
  // kDeadlineExceeded when none arrived; a transport error otherwise.
  Result<Inbound> Recv(std::chrono::milliseconds timeout);

  // For zmq::poll together with other sockets (owning thread only).
  zmq::socket_ref socket() { return socket_; }
  // Stops the monitor (if any), then closes the socket. Idempotent.
  void Close();

  // A PAIR socket that receives this socket's connection events (`events`, a
  // ZMQ_EVENT_* mask; zmq_socket_monitor's two-frame format). Call before the
  // channel moves to its owning thread; the returned socket goes with it.
  // Close the channel before the returned socket: libzmq's I/O thread sends
  // each event with a blocking send, so events for a monitor whose reader is
  // gone stall every socket of the context (Close stops the monitor first).
  Result<zmq::socket_t> Monitor(zmq::context_t& context, int events);

 private:
  RouterChannel(zmq::socket_t socket, std::string endpoint, ChannelOptions options)
      : socket_(std::move(socket)), endpoint_(std::move(endpoint)), options_(std::move(options)) {}

  zmq::socket_t socket_;
  std::string endpoint_;
  ChannelOptions options_;
};

class DealerChannel {
 public:
  // Connects a DEALER socket. Succeeds before the ROUTER exists; messages wait
  // in the queue (up to the high-water mark) until the connection is up.
  static Result<DealerChannel> Connect(zmq::context_t& context, const std::string& endpoint,
                                       const ChannelOptions& options = {});

  DealerChannel(DealerChannel&&) = default;
  DealerChannel& operator=(DealerChannel&&) = default;

  const std::string& endpoint() const { return endpoint_; }

  // kDeadlineExceeded: the queue stayed full for `timeout`;
  // kResourceExhausted: the encoded frame is over the frame limit.
  Status Send(const Message& message, std::chrono::milliseconds timeout);

  // Waits up to `timeout` for one message. kDeadlineExceeded when none arrived;
  // a decode error (codec.h codes) when one arrived malformed.
  Result<Message> Recv(std::chrono::milliseconds timeout);

  zmq::socket_ref socket() { return socket_; }
  void Close() { socket_.close(); }

 private:
  DealerChannel(zmq::socket_t socket, std::string endpoint, ChannelOptions options)
      : socket_(std::move(socket)), endpoint_(std::move(endpoint)), options_(std::move(options)) {}

  zmq::socket_t socket_;
  std::string endpoint_;
  ChannelOptions options_;
};

}  // namespace skipjoin::protocol
