#include "client/cluster_client.h"

#include <arpa/inet.h>
#include <netdb.h>
#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cerrno>
#include <cstdio>
#include <cstring>
#include <filesystem>

#include "common/config/cluster_config.h"

namespace skipjoin::cli {
namespace {

using Clock = std::chrono::steady_clock;
using std::chrono::milliseconds;

milliseconds Left(Clock::time_point deadline) {
  return std::max(milliseconds(0),
                  std::chrono::duration_cast<milliseconds>(deadline - Clock::now()));
}

}  // namespace

void AddClientFlags(FlagSet* flags, ClientFlags* target) {
  flags->String("coordinator", &target->coordinator, "native client endpoint, tcp://HOST:PORT");
  flags->String("config", &target->config, "cluster config to read the endpoint and keys from");
  flags->String("keys-dir", &target->keys_dir,
                "the cluster's key directory (cluster.pub, client.key)");
  flags->String("key", &target->key_file,
                "this client's key file (default: client.key of the keys)");
  flags->Int("connect-timeout-ms", &target->connect_timeout_ms,
             "give up when the coordinator does not answer at all within this long, ms");
}

Result<ClientTarget> ResolveClientTarget(const ClientFlags& flags) {
  ClientTarget target;
  std::string dir = flags.keys_dir;
  std::string path = flags.config;
  if (path.empty() && flags.coordinator.empty() && std::filesystem::exists(kDefaultConfig))
    path = kDefaultConfig;
  if (path.empty() && !flags.sets.empty()) {
    return InvalidArgument("--set " + flags.sets.front() +
                           ": no cluster config to apply it to (pass --config FILE)");
  }
  if (!path.empty()) {
    auto cfg = config::LoadClusterConfig(path, flags.sets);
    if (!cfg.ok()) return cfg.status();
    target.endpoint =
        "tcp://" + cfg->coordinator.host + ":" + std::to_string(cfg->coordinator.client_port);
    target.model_path = cfg->model.path;
    if (dir.empty() && cfg->security.auth == config::AuthMode::kCurve)
      dir = config::KeysDirFor(*cfg);
  }
  if (!flags.coordinator.empty()) {
    target.endpoint = flags.coordinator.find("://") == std::string::npos
                          ? "tcp://" + flags.coordinator
                          : flags.coordinator;
  }
  if (target.endpoint.empty()) target.endpoint = kFallbackClientEndpoint;
  if (!dir.empty()) {
    SJ_ASSIGN_OR_RETURN(
        protocol::CurveKeypair server,
        protocol::ReadCurveKeyFile(dir + "/" + protocol::kClusterKeyStem + ".pub", false));
    const std::string own =
        flags.key_file.empty() ? dir + "/" + protocol::kClientKeyStem + ".key" : flags.key_file;
    SJ_ASSIGN_OR_RETURN(target.curve.own, protocol::ReadCurveKeyFile(own, true));
    target.curve.server_public_key = server.public_key;
  }
  return target;
}

std::string SecondsText(milliseconds d) {
  char buf[32];
  std::snprintf(buf, sizeof(buf), "%g s", static_cast<double>(d.count()) / 1000.0);
  return buf;
}

Status UnreachableError(const std::string& endpoint, milliseconds timeout) {
  return DeadlineExceeded("no coordinator answered at " + endpoint + " within " +
                          SecondsText(timeout) +
                          "; is the cluster launched? (skipjoin launch CONFIG; or pass "
                          "--coordinator tcp://HOST:PORT / --config FILE for another one)");
}

NativeClient::NativeClient(std::unique_ptr<zmq::context_t> context, protocol::DealerChannel channel,
                           zmq::socket_t monitor, std::string endpoint, bool with_keys)
    : context_(std::move(context)),
      channel_(std::move(channel)),
      monitor_(std::move(monitor)),
      endpoint_(std::move(endpoint)),
      with_keys_(with_keys) {}

NativeClient::~NativeClient() {
  zmq_socket_monitor(channel_.socket().handle(), nullptr, 0);
  monitor_.close();
  channel_.Close();
}

Result<std::unique_ptr<NativeClient>> NativeClient::Connect(const ClientTarget& target) {
  auto context = std::make_unique<zmq::context_t>(1);
  protocol::ChannelOptions options;
  options.curve = target.curve;
  auto channel = protocol::DealerChannel::Connect(*context, target.endpoint, options);
  if (!channel.ok()) return channel.status().WithContext("connecting to " + target.endpoint);
  // Handshake failures tell "wrong or missing key" from "nobody there".
  zmq::socket_t monitor;
  const char* monitor_endpoint = "inproc://skipjoin-native-client-monitor";
  if (zmq_socket_monitor(channel->socket().handle(), monitor_endpoint,
                         ZMQ_EVENT_HANDSHAKE_FAILED_NO_DETAIL |
                             ZMQ_EVENT_HANDSHAKE_FAILED_PROTOCOL |
                             ZMQ_EVENT_HANDSHAKE_FAILED_AUTH) == 0) {
    monitor = zmq::socket_t(*context, zmq::socket_type::pair);
    monitor.set(zmq::sockopt::linger, 0);
    monitor.connect(monitor_endpoint);
  }
  return std::unique_ptr<NativeClient>(
      new NativeClient(std::move(context), std::move(channel).value(), std::move(monitor),
                       target.endpoint, target.curve.enabled()));
}

Status NativeClient::NoAnswer(milliseconds timeout) {
  uint16_t failure = 0;
  while (monitor_) {
    zmq::message_t event, address;
    if (!monitor_.recv(event, zmq::recv_flags::dontwait)) break;
    if (event.more()) (void)monitor_.recv(address, zmq::recv_flags::dontwait);
    if (event.size() >= sizeof(failure)) std::memcpy(&failure, event.data(), sizeof(failure));
  }
  if (failure == ZMQ_EVENT_HANDSHAKE_FAILED_AUTH) {
    return Unavailable(
        "the coordinator at " + endpoint_ +
        " refused this client's key (is it this cluster's client key? see docs/SECURITY.md)");
  }
  if (failure != 0) {
    return Unavailable("the secure handshake with the coordinator at " + endpoint_ + " failed" +
                       (with_keys_
                            ? " (its cluster.pub may not be this cluster's)"
                            : " (the cluster uses keys: pass --config FILE or --keys-dir DIR)"));
  }
  if (answered_) {
    return DeadlineExceeded("the coordinator at " + endpoint_ + " answered before but not within " +
                            SecondsText(timeout) +
                            " now (is it overloaded or stopped? see its log)");
  }
  return UnreachableError(endpoint_, timeout);
}

template <typename T>
Result<T> NativeClient::Call(const protocol::Message& request, milliseconds timeout) {
  const auto deadline = Clock::now() + timeout;
  if (Status st = channel_.Send(request, timeout); !st.ok()) {
    return st.code() == StatusCode::kDeadlineExceeded ? NoAnswer(timeout) : st;
  }
  while (true) {
    auto m = channel_.Recv(Left(deadline));
    if (!m.ok()) {
      if (m.status().code() == StatusCode::kDeadlineExceeded) return NoAnswer(timeout);
      return m.status().WithContext("reply from " + endpoint_);
    }
    if (T* t = std::get_if<T>(&*m)) return std::move(*t);
    if (auto* e = std::get_if<protocol::ErrorReply>(&*m)) return e->error.ToStatus();
    // Anything else (a late chunk of an earlier request, a probe's answer) is not ours.
  }
}

Status NativeClient::EnsureAnswering(milliseconds timeout) {
  if (answered_) return Status::Ok();
  // The DEALER queues messages until a connection is up, so only an answer
  // tells that a coordinator is there; ModelsRequest is the cheapest one.
  auto reply = Call<protocol::ModelsReply>(protocol::ModelsRequest{}, timeout);
  if (!reply.ok()) return reply.status();
  answered_ = true;
  return Status::Ok();
}

Status NativeClient::Submit(const protocol::SubmitRequest& request,
                            const std::function<void(const protocol::TokenChunk&)>& on_chunk,
                            const WaitOptions& wait) {
  SJ_RETURN_IF_ERROR(EnsureAnswering(wait.connect));
  if (Status st = channel_.Send(request, wait.silence); !st.ok()) {
    return st.code() == StatusCode::kDeadlineExceeded ? NoAnswer(wait.silence) : st;
  }
  // A request may run silently for long (no stream, or a long queue): probe
  // the coordinator instead of giving up on it.
  // Probe at least twice within the silence allowed, so a short --timeout-ms
  // does not cut off a request whose coordinator answers.
  const milliseconds probe_every =
      std::max(milliseconds(1), std::min(wait.probe_every, wait.silence / 3));
  auto last_heard = Clock::now();
  auto last_probe = last_heard;
  while (true) {
    const auto next_probe = std::max(last_heard, last_probe) + probe_every;
    const auto give_up = last_heard + wait.silence;
    const auto now = Clock::now();
    if (now >= give_up) {
      return DeadlineExceeded("the coordinator at " + endpoint_ +
                              " stopped answering: nothing for " + SecondsText(wait.silence) +
                              " while the request ran (is it overloaded or stopped? see its log)");
    }
    if (now >= next_probe) {
      // A full queue means the connection is stuck: the silence check ends it.
      (void)channel_.Send(protocol::ModelsRequest{}, milliseconds(0));
      last_probe = now;
      continue;
    }
    auto m = channel_.Recv(std::max(milliseconds(1), Left(std::min(next_probe, give_up))));
    if (!m.ok()) {
      if (m.status().code() == StatusCode::kDeadlineExceeded) continue;
      return m.status().WithContext("reply from " + endpoint_);
    }
    last_heard = Clock::now();
    if (auto* e = std::get_if<protocol::ErrorReply>(&*m)) {
      if (e->request_id.empty() || e->request_id == request.client_request_id) {
        return e->error.ToStatus();
      }
      continue;
    }
    auto* chunk = std::get_if<protocol::TokenChunk>(&*m);
    if (chunk == nullptr || chunk->request_id != request.client_request_id) continue;
    on_chunk(*chunk);
    if (chunk->finish_reason != protocol::FinishReason::kNone) {
      if (chunk->finish_reason == protocol::FinishReason::kError) {
        return chunk->error ? chunk->error->ToStatus() : Internal("the request failed");
      }
      return Status::Ok();
    }
  }
}

Result<protocol::StatusReply> NativeClient::GetStatus(const WaitOptions& wait) {
  SJ_RETURN_IF_ERROR(EnsureAnswering(wait.connect));
  return Call<protocol::StatusReply>(protocol::StatusRequest{}, wait.silence);
}

Result<protocol::ModelsReply> NativeClient::GetModels(const WaitOptions& wait) {
  SJ_RETURN_IF_ERROR(EnsureAnswering(wait.connect));
  return Call<protocol::ModelsReply>(protocol::ModelsRequest{}, wait.silence);
}

Result<int> HttpGet(const std::string& host, int port, const std::string& path,
                    milliseconds timeout, std::string* body) {
  const auto deadline = Clock::now() + timeout;
  addrinfo hints{};
  hints.ai_family = AF_INET;
  hints.ai_socktype = SOCK_STREAM;
  addrinfo* ai = nullptr;
  if (int rc = getaddrinfo(host.c_str(), std::to_string(port).c_str(), &hints, &ai); rc != 0) {
    return InvalidArgument("cannot resolve " + host + ": " + gai_strerror(rc));
  }
  int fd = socket(ai->ai_family, ai->ai_socktype | SOCK_NONBLOCK, ai->ai_protocol);
  int rc = connect(fd, ai->ai_addr, ai->ai_addrlen);
  freeaddrinfo(ai);
  auto fail = [&](Status st) {
    close(fd);
    return st;
  };
  const std::string where = "http://" + host + ":" + std::to_string(port) + path;
  if (rc != 0 && errno != EINPROGRESS)
    return fail(Unavailable(where + ": " + std::strerror(errno)));
  pollfd p{fd, POLLOUT, 0};
  if (poll(&p, 1, static_cast<int>(Left(deadline).count())) <= 0) {
    return fail(DeadlineExceeded(where + ": connect timed out"));
  }
  int err = 0;
  socklen_t len = sizeof(err);
  getsockopt(fd, SOL_SOCKET, SO_ERROR, &err, &len);
  if (err != 0) return fail(Unavailable(where + ": " + std::strerror(err)));
  const std::string req =
      "GET " + path + " HTTP/1.1\r\nHost: " + host + "\r\nConnection: close\r\n\r\n";
  if (send(fd, req.data(), req.size(), MSG_NOSIGNAL) != static_cast<ssize_t>(req.size())) {
    return fail(Unavailable(where + ": send failed"));
  }
  std::string response;
  char buf[4096];
  while (true) {
    pollfd q{fd, POLLIN, 0};
    if (poll(&q, 1, static_cast<int>(Left(deadline).count())) <= 0) {
      if (!response.empty()) break;
      return fail(DeadlineExceeded(where + ": no response"));
    }
    ssize_t n = recv(fd, buf, sizeof(buf), 0);
    if (n < 0 && (errno == EINTR || errno == EAGAIN)) continue;
    if (n <= 0) break;
    response.append(buf, static_cast<size_t>(n));
  }
  close(fd);
  // "HTTP/1.1 200 OK"
  const auto sp = response.find(' ');
  if (response.rfind("HTTP/", 0) != 0 || sp == std::string::npos) {
    return Unavailable(where + ": not an HTTP response");
  }
  int code = std::atoi(response.c_str() + sp + 1);
  if (body) {
    const auto b = response.find("\r\n\r\n");
    *body = b == std::string::npos ? "" : response.substr(b + 4);
  }
  return code;
}

}  // namespace skipjoin::cli
