// Client-side helpers shared by launch, submit, status and models: where the
// coordinator is (from flags or a cluster config), a blocking native-protocol
// client, and a minimal HTTP GET for health checks.
//
// Threading: a NativeClient belongs to the thread that created it.
#pragma once

#include <chrono>
#include <functional>
#include <memory>
#include <string>
#include <zmq.hpp>

#include "common/status.h"
#include "protocol/channel.h"
#include "protocol/messages.h"

namespace skipjoin::cli {

// The default cluster config, relative to the working directory.
inline constexpr const char* kDefaultConfig = "cluster_configs/local-cpu.yaml";
// local-cpu.yaml's client endpoint, used when that file is not at hand either.
inline constexpr const char* kFallbackClientEndpoint = "tcp://127.0.0.1:5555";

// Where a native client connects and with which keys.
struct ClientTarget {
  std::string endpoint;
  protocol::CurveOptions curve;  // off for a plaintext (security.auth: none) cluster
};

// The native client endpoint: `coordinator` when given, else the config's
// coordinator host and client_port (`config` or kDefaultConfig when it exists),
// else kFallbackClientEndpoint. A bare "host:port" gets "tcp://" prepended.
// Keys: `keys_dir` (its cluster.pub and `key_file`, default client.key) when
// given, else the config's (security.keys_dir, unless security.auth is none);
// with neither, the client connects without keys.
Result<ClientTarget> ResolveClientTarget(const std::string& coordinator, const std::string& config,
                                         const std::string& keys_dir,
                                         const std::string& key_file = "");

class NativeClient {
 public:
  static Result<std::unique_ptr<NativeClient>> Connect(const ClientTarget& target);
  ~NativeClient();

  // Sends one request and calls on_chunk for every TokenChunk until the one
  // with a finish reason. kDeadlineExceeded when no chunk arrives for
  // `idle_timeout` (the coordinator is down or stuck); an ErrorReply from the
  // coordinator comes back as its Status.
  Status Submit(const protocol::SubmitRequest& request,
                const std::function<void(const protocol::TokenChunk&)>& on_chunk,
                std::chrono::milliseconds idle_timeout);

  Result<protocol::StatusReply> GetStatus(std::chrono::milliseconds timeout);
  Result<protocol::ModelsReply> GetModels(std::chrono::milliseconds timeout);

  const std::string& endpoint() const { return endpoint_; }

 private:
  NativeClient(std::unique_ptr<zmq::context_t> context, protocol::DealerChannel channel,
               zmq::socket_t monitor, std::string endpoint, bool with_keys);
  // Why no answer came: a refused CURVE handshake (from the socket monitor),
  // else UnreachableError.
  Status NoAnswer(std::chrono::milliseconds timeout);
  // Waits for a reply of type T, skipping stale TokenChunks.
  template <typename T>
  Result<T> Call(const protocol::Message& request, std::chrono::milliseconds timeout);

  std::unique_ptr<zmq::context_t> context_;
  protocol::DealerChannel channel_;
  zmq::socket_t monitor_;
  std::string endpoint_;
  bool with_keys_ = false;
};

// "no answer from the coordinator at X within N s (is the cluster running? ...)".
Status UnreachableError(const std::string& endpoint, std::chrono::milliseconds timeout);

// GET http://host:port/path with a timeout; returns the status code (body in
// *body when given). kUnavailable when nothing listens.
Result<int> HttpGet(const std::string& host, int port, const std::string& path,
                    std::chrono::milliseconds timeout, std::string* body = nullptr);

}  // namespace skipjoin::cli
