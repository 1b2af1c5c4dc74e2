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
#include <vector>
#include <zmq.hpp>

#include "common/flags.h"
#include "common/status.h"
#include "protocol/channel.h"
#include "protocol/messages.h"

namespace skipjoin::cli {

// The default cluster config, relative to the working directory.
inline constexpr const char* kDefaultConfig = "cluster_configs/local-cpu.yaml";
// local-cpu.yaml's client endpoint, used when that file is not at hand either.
inline constexpr const char* kFallbackClientEndpoint = "tcp://127.0.0.1:5555";

// The flags every native client command takes (submit, status, models).
struct ClientFlags {
  std::string coordinator;        // --coordinator tcp://HOST:PORT
  std::string config;             // --config FILE
  std::string keys_dir;           // --keys-dir DIR
  std::string key_file;           // --key FILE
  std::vector<std::string> sets;  // --set key=value, applied to the config (TakeConfigOverrides)
  int64_t connect_timeout_ms =
      2000;  // --connect-timeout-ms: how long the coordinator has to answer
};
// Declares coordinator, config, keys-dir, key and connect-timeout-ms on `flags`.
void AddClientFlags(FlagSet* flags, ClientFlags* target);

// Where a native client connects and with which keys.
struct ClientTarget {
  std::string endpoint;
  protocol::CurveOptions curve;  // off for a plaintext (security.auth: none) cluster
  std::string model_path;        // the config's model.path when a config was read, else ""
};

// The native client endpoint: flags.coordinator when given, else the config's
// coordinator host and client_port (flags.config or kDefaultConfig when it
// exists, with flags.sets applied as by `launch --set`), else
// kFallbackClientEndpoint. A bare "host:port" gets "tcp://" prepended.
// Keys: flags.keys_dir (its cluster.pub and flags.key_file, default
// client.key) when given, else the config's (security.keys_dir, unless
// security.auth is none); with neither, the client connects without keys.
// --set without a config to apply it to is an error.
Result<ClientTarget> ResolveClientTarget(const ClientFlags& flags);

// How long a NativeClient waits. The coordinator must answer a first probe
// within `connect`, so a client with nobody to talk to fails in about that
// long. After that, a running request is never cut off while the coordinator
// answers: when no reply comes for `probe_every`, the client asks again (a
// ModelsRequest, answered by the coordinator's client endpoint itself), and it
// gives up only when nothing at all arrives for `silence` (probing at least
// every silence / 3).
struct WaitOptions {
  std::chrono::milliseconds connect{2000};
  std::chrono::milliseconds silence{30000};
  std::chrono::milliseconds probe_every{5000};
};

class NativeClient {
 public:
  static Result<std::unique_ptr<NativeClient>> Connect(const ClientTarget& target);
  ~NativeClient();

  // Sends one request and calls on_chunk for every TokenChunk until the one
  // with a finish reason. UnreachableError when the coordinator does not
  // answer within wait.connect; kDeadlineExceeded when it stops answering
  // while the request runs; an ErrorReply from the coordinator comes back as
  // its Status.
  Status Submit(const protocol::SubmitRequest& request,
                const std::function<void(const protocol::TokenChunk&)>& on_chunk,
                const WaitOptions& wait);

  // One request each; `wait.silence` bounds the wait for the reply.
  Result<protocol::StatusReply> GetStatus(const WaitOptions& wait);
  Result<protocol::ModelsReply> GetModels(const WaitOptions& wait);

  const std::string& endpoint() const { return endpoint_; }

 private:
  NativeClient(std::unique_ptr<zmq::context_t> context, protocol::DealerChannel channel,
               zmq::socket_t monitor, std::string endpoint, bool with_keys);
  // Why no answer came: a refused CURVE handshake (from the socket monitor),
  // else UnreachableError.
  Status NoAnswer(std::chrono::milliseconds timeout);
  // The first probe (once per client): a ModelsReply within `timeout`.
  Status EnsureAnswering(std::chrono::milliseconds timeout);
  // Waits for a reply of type T, skipping stale TokenChunks.
  template <typename T>
  Result<T> Call(const protocol::Message& request, std::chrono::milliseconds timeout);

  std::unique_ptr<zmq::context_t> context_;
  protocol::DealerChannel channel_;
  zmq::socket_t monitor_;
  std::string endpoint_;
  bool with_keys_ = false;
  bool answered_ = false;  // the coordinator has answered this client once
};

// "no coordinator answered at X within N s; is the cluster launched? ...".
Status UnreachableError(const std::string& endpoint, std::chrono::milliseconds timeout);

// "2 s", "1.5 s", "0.25 s": a duration for messages.
std::string SecondsText(std::chrono::milliseconds d);

// GET http://host:port/path with a timeout; returns the status code (body in
// *body when given). kUnavailable when nothing listens.
Result<int> HttpGet(const std::string& host, int port, const std::string& path,
                    std::chrono::milliseconds timeout, std::string* body = nullptr);

}  // namespace skipjoin::cli
