// ZapAuthenticator: the ZeroMQ Authentication Protocol (ZAP, RFC 27) handler
// of a process. libzmq asks it about every CURVE handshake on a socket that
// set a ZAP domain; it accepts a client whose public key is listed for that
// domain and reports the key's user id (read back per message with
// RecvUserId / Inbound::user_id), and refuses every other key, so a peer
// without a listed key never gets a message through.
//
// Threading: an actor. Start() binds the handler socket in `context` and runs
// it on its own thread; the key table is fixed at start (immutable after).
// Stop() (also the destructor) joins it; call it before the context is closed.
// At most one per context (the ZAP endpoint is a fixed inproc address).
#pragma once

#include <atomic>
#include <cstdint>
#include <map>
#include <memory>
#include <string>
#include <thread>
#include <vector>
#include <zmq.hpp>

#include "common/status.h"
#include "protocol/curve.h"

namespace skipjoin::protocol {

class ZapAuthenticator {
 public:
  // domains: ZAP domain (the sockets' zap_domain) -> the keys allowed there.
  static Result<std::unique_ptr<ZapAuthenticator>> Start(
      zmq::context_t& context, std::map<std::string, std::vector<AuthorizedKey>> domains);
  ~ZapAuthenticator();
  ZapAuthenticator(const ZapAuthenticator&) = delete;
  ZapAuthenticator& operator=(const ZapAuthenticator&) = delete;

  void Stop();

  // Handshakes answered since start (tests, logs). Any thread.
  uint64_t accepted() const { return accepted_.load(std::memory_order_relaxed); }
  uint64_t refused() const { return refused_.load(std::memory_order_relaxed); }

 private:
  ZapAuthenticator() = default;
  void Run();

  zmq::socket_t socket_;
  // domain -> raw 32-byte public key -> user id
  std::map<std::string, std::map<std::string, std::string>> keys_;
  std::thread thread_;
  std::atomic<bool> stop_{false};
  std::atomic<uint64_t> accepted_{0}, refused_{0};
};

}  // namespace skipjoin::protocol
