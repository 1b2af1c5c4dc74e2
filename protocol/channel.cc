#include "protocol/channel.h"

#include <algorithm>
#include <atomic>
#include <utility>
#include <vector>

namespace skipjoin::protocol {
namespace {

Status ZmqError(const char* what, const zmq::error_t& e) {
  return Internal(std::string(what) + ": " + e.what());
}

void ApplyCommonOptions(zmq::socket_t& s, const ChannelOptions& o) {
  s.set(zmq::sockopt::linger, 0);
  s.set(zmq::sockopt::maxmsgsize,
        static_cast<int64_t>(std::min<size_t>(o.limits.max_frame_bytes, INT64_MAX)));
  s.set(zmq::sockopt::sndhwm, o.send_high_water_mark);
  s.set(zmq::sockopt::rcvhwm, o.recv_high_water_mark);
}

Status ApplyCurve(zmq::socket_t& s, const CurveOptions& c, bool server) {
  if (!c.enabled()) return Status::Ok();
  if (!CurveAvailable())
    return Unimplemented("this libzmq was built without CURVE; cannot use keys");
  if (server) {
    if (c.zap_domain.empty()) return InvalidArgument("a CURVE server socket needs a ZAP domain");
    s.set(zmq::sockopt::curve_server, 1);
    s.set(zmq::sockopt::curve_secretkey, c.own.secret_key);
    s.set(zmq::sockopt::zap_domain, c.zap_domain);
  } else {
    if (c.server_public_key.empty())
      return InvalidArgument("a CURVE client socket needs the server's public key");
    s.set(zmq::sockopt::curve_serverkey, c.server_public_key);
    s.set(zmq::sockopt::curve_publickey, c.own.public_key);
    s.set(zmq::sockopt::curve_secretkey, c.own.secret_key);
  }
  return Status::Ok();
}

// Sends the parts as one multipart message, waiting up to `timeout` for room.
Status SendParts(zmq::socket_t& s, std::vector<zmq::message_t>& parts,
                 std::chrono::milliseconds timeout, std::string_view peer_for_errors) {
  try {
    s.set(zmq::sockopt::sndtimeo, static_cast<int>(timeout.count()));
    for (size_t i = 0; i < parts.size(); ++i) {
      const bool last = i + 1 == parts.size();
      // Once the first part is queued, ZeroMQ queues the rest atomically.
      auto sent = s.send(parts[i], last ? zmq::send_flags::none : zmq::send_flags::sndmore);
      if (!sent) {
        return DeadlineExceeded("send queue full for " + std::to_string(timeout.count()) + " ms");
      }
    }
  } catch (const zmq::error_t& e) {
    if (e.num() == EHOSTUNREACH) {
      return Unavailable("no connected peer with routing id of " +
                         std::to_string(peer_for_errors.size()) + " bytes");
    }
    return ZmqError("zmq send", e);
  }
  return Status::Ok();
}

// Receives one whole multipart message. Parts past `keep` are read and dropped
// (a misbehaving peer cannot make us hold them); `total` gets the part count.
Result<std::vector<zmq::message_t>> RecvParts(zmq::socket_t& s, std::chrono::milliseconds timeout,
                                              size_t keep, size_t* total) {
  try {
    zmq::pollitem_t item{s.handle(), 0, ZMQ_POLLIN, 0};
    if (zmq::poll(&item, 1, timeout) == 0) {
      return DeadlineExceeded("no message within " + std::to_string(timeout.count()) + " ms");
    }
    std::vector<zmq::message_t> parts;
    *total = 0;
    bool more = true;
    while (more) {
      zmq::message_t part;
      // All parts of a message arrive together, so dontwait cannot stall mid-message.
      auto got = s.recv(part, zmq::recv_flags::dontwait);
      if (!got) {
        if (*total == 0)
          return DeadlineExceeded("no message within " + std::to_string(timeout.count()) + " ms");
        return Internal("multipart message ended early");
      }
      more = part.more();
      ++*total;
      if (parts.size() < keep) parts.push_back(std::move(part));
    }
    return parts;
  } catch (const zmq::error_t& e) {
    if (e.num() == ETERM) return Cancelled("zmq context terminated");
    return ZmqError("zmq recv", e);
  }
}

Result<Message> DecodePart(const zmq::message_t& part, const CodecLimits& limits) {
  return Decode(std::string_view(static_cast<const char*>(part.data()), part.size()), limits);
}

Result<zmq::message_t> EncodeChecked(const Message& message, const CodecLimits& limits) {
  std::string frame = Encode(message);
  if (frame.size() > limits.max_frame_bytes) {
    return ResourceExhausted(std::string(MessageTypeName(TypeOf(message))) + " encodes to " +
                             std::to_string(frame.size()) + " bytes, over the frame limit of " +
                             std::to_string(limits.max_frame_bytes));
  }
  return zmq::message_t(frame.data(), frame.size());
}

}  // namespace

// ---------------------------------------------------------------------------
// RouterChannel

Result<RouterChannel> RouterChannel::Bind(zmq::context_t& context, const std::string& endpoint,
                                          const ChannelOptions& options) {
  try {
    zmq::socket_t socket(context, zmq::socket_type::router);
    ApplyCommonOptions(socket, options);
    SJ_RETURN_IF_ERROR(ApplyCurve(socket, options.curve, /*server=*/true));
    socket.set(zmq::sockopt::router_mandatory, 1);
    socket.bind(endpoint);
    std::string bound = socket.get(zmq::sockopt::last_endpoint);
    return RouterChannel(std::move(socket), bound.empty() ? endpoint : bound, options);
  } catch (const zmq::error_t& e) {
    if (e.num() == EADDRINUSE) return Unavailable("cannot bind " + endpoint + ": address in use");
    return InvalidArgument("cannot bind ROUTER to '" + endpoint + "': " + e.what());
  }
}

Status RouterChannel::Send(std::string_view peer, const Message& message,
                           std::chrono::milliseconds timeout) {
  if (peer.empty()) return InvalidArgument("RouterChannel::Send needs a peer routing id");
  SJ_ASSIGN_OR_RETURN(zmq::message_t frame, EncodeChecked(message, options_.limits));
  std::vector<zmq::message_t> parts;
  parts.emplace_back(peer.data(), peer.size());
  parts.push_back(std::move(frame));
  return SendParts(socket_, parts, timeout, peer);
}

Status RouterChannel::SendEncoded(std::string_view peer, std::string_view frame,
                                  std::chrono::milliseconds timeout) {
  if (peer.empty()) return InvalidArgument("RouterChannel::SendEncoded needs a peer routing id");
  if (frame.size() > options_.limits.max_frame_bytes) {
    return ResourceExhausted("a frame of " + std::to_string(frame.size()) +
                             " bytes is over the frame limit of " +
                             std::to_string(options_.limits.max_frame_bytes));
  }
  std::vector<zmq::message_t> parts;
  parts.emplace_back(peer.data(), peer.size());
  parts.emplace_back(frame.data(), frame.size());
  return SendParts(socket_, parts, timeout, peer);
}

Result<Inbound> RouterChannel::Recv(std::chrono::milliseconds timeout) {
  size_t total = 0;
  SJ_ASSIGN_OR_RETURN(std::vector<zmq::message_t> parts, RecvParts(socket_, timeout, 2, &total));
  // ROUTER always prepends the peer id, so parts[0] exists.
  std::string peer(static_cast<const char*>(parts[0].data()), parts[0].size());
  if (total != 2) {
    return Inbound{std::move(peer),
                   DataLoss("expected a message of 1 frame after the routing id, got " +
                            std::to_string(total - 1))};
  }
  std::string user_id;
  if (options_.curve.enabled()) {
    // Set by libzmq from the ZAP reply of the connection the message came on.
    if (const char* id = zmq_msg_gets(parts[1].handle(), "User-Id")) user_id = id;
  }
  CodecLimits limits = options_.limits;
  if (options_.max_inbound_frame_bytes > 0)
    limits.max_frame_bytes = std::min(limits.max_frame_bytes, options_.max_inbound_frame_bytes);
  return Inbound{std::move(peer), DecodePart(parts[1], limits), std::move(user_id)};
}

void RouterChannel::Close() {
  if (!socket_) return;
  (void)zmq_socket_monitor(socket_.handle(), nullptr, 0);  // no-op when not monitored
  socket_.close();
}

Result<zmq::socket_t> RouterChannel::Monitor(zmq::context_t& context, int events) {
  static std::atomic<uint64_t> next{0};
  const std::string endpoint =
      "inproc://skipjoin-router-monitor-" + std::to_string(next.fetch_add(1));
  if (zmq_socket_monitor(socket_.handle(), endpoint.c_str(), events) != 0) {
    return Internal(std::string("zmq_socket_monitor: ") + zmq_strerror(zmq_errno()));
  }
  try {
    zmq::socket_t monitor(context, zmq::socket_type::pair);
    monitor.set(zmq::sockopt::linger, 0);
    monitor.connect(endpoint);
    return monitor;
  } catch (const zmq::error_t& e) {
    return ZmqError("monitor socket", e);
  }
}

// ---------------------------------------------------------------------------
// DealerChannel

Result<DealerChannel> DealerChannel::Connect(zmq::context_t& context, const std::string& endpoint,
                                             const ChannelOptions& options) {
  try {
    zmq::socket_t socket(context, zmq::socket_type::dealer);
    ApplyCommonOptions(socket, options);
    SJ_RETURN_IF_ERROR(ApplyCurve(socket, options.curve, /*server=*/false));
    if (!options.routing_id.empty()) {
      if (options.routing_id.size() > 255 || options.routing_id[0] == '\0') {
        return InvalidArgument("routing id must be 1..255 bytes and not start with a zero byte");
      }
      socket.set(zmq::sockopt::routing_id, zmq::buffer(options.routing_id));
    }
    socket.connect(endpoint);
    return DealerChannel(std::move(socket), endpoint, options);
  } catch (const zmq::error_t& e) {
    return InvalidArgument("cannot connect DEALER to '" + endpoint + "': " + e.what());
  }
}

Status DealerChannel::Send(const Message& message, std::chrono::milliseconds timeout) {
  SJ_ASSIGN_OR_RETURN(zmq::message_t frame, EncodeChecked(message, options_.limits));
  std::vector<zmq::message_t> parts;
  parts.push_back(std::move(frame));
  return SendParts(socket_, parts, timeout, {});
}

Result<Message> DealerChannel::Recv(std::chrono::milliseconds timeout) {
  size_t total = 0;
  SJ_ASSIGN_OR_RETURN(std::vector<zmq::message_t> parts, RecvParts(socket_, timeout, 1, &total));
  if (total != 1) return DataLoss("expected a message of 1 frame, got " + std::to_string(total));
  return DecodePart(parts[0], options_.limits);
}

}  // namespace skipjoin::protocol
