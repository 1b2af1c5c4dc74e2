// Hostile peers against a real cluster (`skipjoin launch`, CURVE by default):
// impostor registrations on the worker port, a flood of bad frames from a
// peer that holds a node key, and clients without keys. Nothing gets in,
// nothing is replaced, and the cluster keeps serving.
#include <gtest/gtest.h>
#include <signal.h>

#include <chrono>
#include <string>
#include <thread>

#include "common/config/cluster_config.h"
#include "protocol/channel.h"
#include "protocol/curve.h"
#include "tests/integration/cluster_harness.h"

namespace skipjoin::integration {
namespace {

using std::chrono::milliseconds;
using std::chrono::seconds;
using Clock = std::chrono::steady_clock;

std::string Completion(const std::string& prompt, int max_tokens) {
  return "{\"model\":\"tiny\",\"prompt\":\"" + prompt +
         "\",\"max_tokens\":" + std::to_string(max_tokens) + ",\"temperature\":0}";
}

class SecurityTest : public ::testing::Test {
 protected:
  void SetUp() override {
    ASSERT_TRUE(cluster_.Start()) << cluster_.log();
    auto cfg = config::LoadClusterConfig(cluster_.config_path());
    ASSERT_TRUE(cfg.ok()) << cfg.status().ToString();
    cluster_id_ = config::ClusterId(*cfg);
    auto server = protocol::ReadCurveKeyFile(cluster_.keys_dir() + "/cluster.pub", false);
    ASSERT_TRUE(server.ok()) << server.status().ToString();
    server_public_ = server->public_key;
  }

  std::string WorkerEndpoint() const {
    return "tcp://127.0.0.1:" + std::to_string(cluster_.worker_port());
  }

  protocol::DealerChannel Dealer(const protocol::CurveKeypair& own) {
    protocol::ChannelOptions o;
    if (!own.secret_key.empty()) {
      o.curve.own = own;
      o.curve.server_public_key = server_public_;
    }
    auto d = protocol::DealerChannel::Connect(ctx_, WorkerEndpoint(), o);
    EXPECT_TRUE(d.ok()) << d.status().ToString();
    return std::move(*d);
  }

  protocol::WorkerRegister Registration(const std::string& cluster_id) const {
    protocol::WorkerRegister reg;
    reg.node = "local";
    reg.device_kind = protocol::DeviceKind::kCpu;
    reg.device_index = 0;  // a device a live worker holds
    reg.device_memory_bytes = 1ull << 30;
    reg.pid = 4242;
    reg.cluster_id = cluster_id;
    return reg;
  }

  // Registers and returns the first reply (or its error: none within `wait`).
  Result<protocol::Message> RegisterAndWait(protocol::DealerChannel& d,
                                            const std::string& cluster_id, milliseconds wait) {
    EXPECT_TRUE(d.Send(Registration(cluster_id), milliseconds(500)).ok());
    const auto deadline = Clock::now() + wait;
    while (Clock::now() < deadline) {
      auto m = d.Recv(milliseconds(100));
      if (!m.ok()) continue;
      if (std::holds_alternative<protocol::Heartbeat>(*m)) continue;  // a connection probe
      return m;
    }
    return DeadlineExceeded("no reply");
  }

  bool Serves() {
    auto r = HttpRequest(cluster_.http_port(), "POST", "/v1/completions",
                         Completion("still ours?", 4), milliseconds(30000));
    return r.status == 200;
  }

  Cluster cluster_;
  zmq::context_t ctx_{1};
  std::string cluster_id_, server_public_;
};

TEST_F(SecurityTest, ImpostorsGetNothingAndNothingIsReplaced) {
  const pid_t w0 = cluster_.WorkerPid(0);
  ASSERT_GT(w0, 0);
  // 1. No keys at all (plaintext ZMTP): the handshake fails, no reply ever.
  {
    auto d = Dealer({});
    auto m = RegisterAndWait(d, cluster_id_, milliseconds(1000));
    EXPECT_FALSE(m.ok()) << "a plaintext peer got a reply";
    d.Close();
  }
  // 2. A key nobody listed.
  {
    auto key = protocol::GenerateCurveKeypair();
    ASSERT_TRUE(key.ok());
    auto d = Dealer(*key);
    EXPECT_FALSE(RegisterAndWait(d, cluster_id_, milliseconds(1000)).ok())
        << "an unknown key got a reply";
    d.Close();
  }
  // 3. A client key: good on the native port, not on the worker port.
  {
    auto key = protocol::ReadCurveKeyFile(cluster_.keys_dir() + "/client.key", true);
    ASSERT_TRUE(key.ok()) << key.status().ToString();
    auto d = Dealer(*key);
    EXPECT_FALSE(RegisterAndWait(d, cluster_id_, milliseconds(1000)).ok())
        << "a client key got a reply";
    d.Close();
  }
  auto node_key = protocol::ReadCurveKeyFile(cluster_.keys_dir() + "/node-local.key", true);
  ASSERT_TRUE(node_key.ok()) << node_key.status().ToString();
  // 4. The node's key, but another cluster's config.
  {
    auto d = Dealer(*node_key);
    auto m = RegisterAndWait(d, "other/0000000000000000", milliseconds(5000));
    ASSERT_TRUE(m.ok()) << "no answer to a registration with the node key";
    auto* err = std::get_if<protocol::ErrorReply>(&*m);
    ASSERT_NE(err, nullptr) << protocol::MessageTypeName(protocol::TypeOf(*m));
    EXPECT_NE(err->error.message.find("serves cluster " + cluster_id_), std::string::npos)
        << err->error.message;
    d.Close();
  }
  // 5. The node's key and the right cluster, for a device a live worker holds.
  {
    auto d = Dealer(*node_key);
    auto m = RegisterAndWait(d, cluster_id_, milliseconds(5000));
    ASSERT_TRUE(m.ok());
    auto* err = std::get_if<protocol::ErrorReply>(&*m);
    ASSERT_NE(err, nullptr) << "the impostor got "
                            << protocol::MessageTypeName(protocol::TypeOf(*m));
    EXPECT_NE(err->error.message.find("already has a live worker"), std::string::npos)
        << err->error.message;
    d.Close();
  }
  // The real workers were left alone and the cluster serves.
  EXPECT_EQ(kill(w0, 0), 0) << "the real worker was shut down";
  EXPECT_TRUE(Serves()) << cluster_.log();
  EXPECT_EQ(cluster_.log().find("replacing"), std::string::npos);
  EXPECT_EQ(cluster_.log().find("down:"), std::string::npos) << cluster_.log();
}

TEST_F(SecurityTest, FloodFromAKeyHolderThatNeverReadsDoesNotStallTheCluster) {
  auto node_key = protocol::ReadCurveKeyFile(cluster_.keys_dir() + "/node-local.key", true);
  ASSERT_TRUE(node_key.ok());
  const auto quiet_start = Clock::now();
  ASSERT_TRUE(Serves()) << cluster_.log();
  const double quiet = std::chrono::duration<double>(Clock::now() - quiet_start).count();
  // Raw ZeroMQ so that undecodable frames can be sent; this peer never reads.
  zmq::socket_t flood(ctx_, zmq::socket_type::dealer);
  flood.set(zmq::sockopt::linger, 0);
  flood.set(zmq::sockopt::sndhwm, 0);
  flood.set(zmq::sockopt::rcvhwm, 1);
  flood.set(zmq::sockopt::curve_serverkey, server_public_);
  flood.set(zmq::sockopt::curve_publickey, node_key->public_key);
  flood.set(zmq::sockopt::curve_secretkey, node_key->secret_key);
  flood.connect(WorkerEndpoint());
  for (int i = 0; i < 50000; ++i)
    flood.send(zmq::buffer(std::string_view("\x93\x01")), zmq::send_flags::none);
  const auto start = Clock::now();
  EXPECT_TRUE(Serves()) << cluster_.log();
  const double s = std::chrono::duration<double>(Clock::now() - start).count();
  std::printf("a 4-token completion took %.3f s unloaded, %.3f s during a 50000-frame flood\n",
              quiet, s);
  EXPECT_EQ(HttpRequest(cluster_.http_port(), "GET", "/health", "", milliseconds(5000)).status,
            200);
  flood.close();
  EXPECT_TRUE(Serves()) << cluster_.log();
  // The frames did reach the coordinator, which stopped answering them.
  for (int i = 0; i < 50 && cluster_.log().find("ignoring its errors") == std::string::npos; ++i) {
    std::this_thread::sleep_for(milliseconds(100));
  }
  EXPECT_NE(cluster_.log().find("ignoring its errors"), std::string::npos) << cluster_.log();
}

TEST_F(SecurityTest, ClientsNeedTheClusterKeys) {
  // No keys: a clear error, not a silent timeout.
  auto plain = RunCommand({cluster_.cli(), "status", "--coordinator", cluster_.client_endpoint(),
                           "--timeout-ms", "1500"},
                          seconds(30));
  EXPECT_EQ(plain.exit_code, 1) << plain.out;
  EXPECT_NE(plain.err.find("uses keys"), std::string::npos) << plain.err;
  // A key of the right form that this cluster never listed.
  const std::string stray = cluster_.keys_dir() + "-stray.key";
  auto key = protocol::GenerateCurveKeypair();
  ASSERT_TRUE(key.ok());
  ASSERT_TRUE(protocol::WriteCurveKeyFiles(stray, *key, "stray").ok());
  auto refused =
      RunCommand({cluster_.cli(), "status", "--coordinator", cluster_.client_endpoint(),
                  "--keys-dir", cluster_.keys_dir(), "--key", stray, "--timeout-ms", "1500"},
                 seconds(30));
  EXPECT_EQ(refused.exit_code, 1) << refused.out;
  EXPECT_NE(refused.err.find("refused this client's key"), std::string::npos) << refused.err;
  // The cluster's client key works.
  auto ok = RunCommand({cluster_.cli(), "status", "--config", cluster_.config_path()}, seconds(30));
  EXPECT_EQ(ok.exit_code, 0) << ok.err;
}

}  // namespace
}  // namespace skipjoin::integration
