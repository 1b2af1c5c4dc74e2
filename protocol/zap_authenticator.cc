#include "protocol/zap_authenticator.h"

#include <chrono>

#include "common/logging.h"

namespace skipjoin::protocol {
namespace {

constexpr const char* kZapEndpoint = "inproc://zeromq.zap.01";

std::string Text(const zmq::message_t& m) {
  return std::string(static_cast<const char*>(m.data()), m.size());
}

}  // namespace

Result<std::unique_ptr<ZapAuthenticator>> ZapAuthenticator::Start(
    zmq::context_t& context, std::map<std::string, std::vector<AuthorizedKey>> domains) {
  std::unique_ptr<ZapAuthenticator> auth(new ZapAuthenticator());
  for (auto& [domain, keys] : domains) {
    auto& table = auth->keys_[domain];
    for (const AuthorizedKey& k : keys) {
      uint8_t raw[32];
      if (k.public_key.size() != 40 || zmq_z85_decode(raw, k.public_key.c_str()) == nullptr) {
        return InvalidArgument("authorized key for " + k.user_id + " is not a Z85 CURVE key");
      }
      table[std::string(reinterpret_cast<const char*>(raw), 32)] = k.user_id;
    }
  }
  try {
    auth->socket_ = zmq::socket_t(context, zmq::socket_type::rep);
    auth->socket_.set(zmq::sockopt::linger, 0);
    auth->socket_.bind(kZapEndpoint);
  } catch (const zmq::error_t& e) {
    return Internal(std::string("cannot start the ZAP handler: ") + e.what());
  }
  auth->thread_ = std::thread([a = auth.get()] { a->Run(); });
  return auth;
}

ZapAuthenticator::~ZapAuthenticator() { Stop(); }

void ZapAuthenticator::Stop() {
  stop_.store(true);
  if (thread_.joinable()) thread_.join();
}

void ZapAuthenticator::Run() {
  using Clock = std::chrono::steady_clock;
  uint64_t refused_since_log = 0;
  Clock::time_point last_log{};
  std::string last_reason, last_address;
  while (!stop_.load()) {
    try {
      zmq::pollitem_t item{socket_.handle(), 0, ZMQ_POLLIN, 0};
      if (zmq::poll(&item, 1, std::chrono::milliseconds(100)) == 0) {
        if (refused_since_log > 0 && Clock::now() - last_log > std::chrono::seconds(10)) {
          SJ_LOG(Warn) << "refused " << refused_since_log << " connection(s) (last from "
                       << last_address << ": " << last_reason << ")";
          refused_since_log = 0;
          last_log = Clock::now();
        }
        continue;
      }
      // version, request id, domain, address, routing id, mechanism, credentials...
      std::vector<zmq::message_t> parts;
      do {
        zmq::message_t part;
        if (!socket_.recv(part, zmq::recv_flags::none)) break;
        const bool more = part.more();
        parts.push_back(std::move(part));
        if (!more) break;
      } while (parts.size() < 16);
      while (socket_.get(zmq::sockopt::rcvmore)) {  // drop any excess parts
        zmq::message_t extra;
        (void)socket_.recv(extra, zmq::recv_flags::none);
      }
      std::string status = "400", reason = "malformed ZAP request", user_id;
      const std::string request_id = parts.size() > 1 ? Text(parts[1]) : "";
      if (parts.size() >= 6 && Text(parts[0]) == "1.0") {
        const std::string domain = Text(parts[2]);
        const std::string mechanism = Text(parts[5]);
        last_address = Text(parts[3]);
        auto table = keys_.find(domain);
        if (table == keys_.end()) {
          reason = "no keys for ZAP domain '" + domain + "'";
        } else if (mechanism != "CURVE" || parts.size() < 7 || parts[6].size() != 32) {
          reason = "mechanism " + mechanism + " is not allowed (CURVE only)";
        } else if (auto key = table->second.find(Text(parts[6])); key == table->second.end()) {
          reason = "client key not authorized for " + domain;
        } else {
          status = "200";
          reason = "OK";
          user_id = key->second;
        }
      }
      if (status == "200") {
        accepted_.fetch_add(1, std::memory_order_relaxed);
      } else {
        refused_.fetch_add(1, std::memory_order_relaxed);
        last_reason = reason;
        if (++refused_since_log == 1 && Clock::now() - last_log > std::chrono::seconds(10)) {
          SJ_LOG(Warn) << "refused a connection from " << last_address << ": " << reason;
          refused_since_log = 0;
          last_log = Clock::now();
        }
      }
      const std::string reply[] = {"1.0", request_id, status, reason, user_id, ""};
      for (size_t i = 0; i < 6; ++i) {
        socket_.send(zmq::buffer(reply[i]),
                     i + 1 < 6 ? zmq::send_flags::sndmore : zmq::send_flags::none);
      }
    } catch (const zmq::error_t& e) {
      if (e.num() == ETERM) break;
      SJ_LOG(Error) << "ZAP handler: " << e.what();
    }
  }
  socket_.close();
}

}  // namespace skipjoin::protocol
