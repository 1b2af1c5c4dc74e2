// CURVE keys and the ZAP handler with real ZeroMQ sockets over loopback TCP:
// a listed key gets through and is named by its user id; an unlisted key, a
// key listed for another port, and a plaintext peer get nothing through.
// Key files: round trip, strict parsing, permissions, concurrent first use.
#include "protocol/curve.h"

#include <arpa/inet.h>
#include <gtest/gtest.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <unistd.h>

#include <chrono>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <memory>
#include <optional>
#include <set>
#include <string>
#include <thread>
#include <vector>

#include "protocol/channel.h"
#include "protocol/zap_authenticator.h"

namespace skipjoin::protocol {
namespace {

namespace fs = std::filesystem;
using std::chrono::milliseconds;

std::string TempDir(const std::string& tag) {
  std::string tmpl = (fs::temp_directory_path() / ("sj-curve-" + tag + "-XXXXXX")).string();
  EXPECT_NE(mkdtemp(tmpl.data()), nullptr);
  return tmpl;
}

void WriteFile(const std::string& path, const std::string& text, mode_t mode = 0600) {
  std::ofstream(path) << text;
  chmod(path.c_str(), mode);
}

TEST(CurveKeys, GenerateWriteReadRoundTrip) {
  ASSERT_TRUE(CurveAvailable()) << "libzmq without CURVE: the cluster cannot be secured";
  const std::string dir = TempDir("rt");
  auto pair = GenerateCurveKeypair();
  ASSERT_TRUE(pair.ok()) << pair.status().ToString();
  EXPECT_EQ(pair->public_key.size(), 40u);
  ASSERT_TRUE(WriteCurveKeyFiles(dir + "/a.key", *pair, "test").ok());
  struct stat st {};
  ASSERT_EQ(stat((dir + "/a.key").c_str(), &st), 0);
  EXPECT_EQ(st.st_mode & 0777, 0600u);
  auto back = ReadCurveKeyFile(dir + "/a.key", true);
  ASSERT_TRUE(back.ok()) << back.status().ToString();
  EXPECT_EQ(back->public_key, pair->public_key);
  EXPECT_EQ(back->secret_key, pair->secret_key);
  auto pub = ReadCurveKeyFile(dir + "/a.pub", false);
  ASSERT_TRUE(pub.ok()) << pub.status().ToString();
  EXPECT_EQ(pub->public_key, pair->public_key);
  EXPECT_TRUE(pub->secret_key.empty());
  // A .pub holds no secret, so it cannot stand in for a .key.
  auto no_secret = ReadCurveKeyFile(dir + "/a.pub", true);
  EXPECT_FALSE(no_secret.ok());
  // Never overwritten.
  EXPECT_FALSE(WriteCurveKeyFiles(dir + "/a.key", *pair, "again").ok());
  fs::remove_all(dir);
}

TEST(CurveKeys, BadFilesGetErrorsNamingFileAndLine) {
  const std::string dir = TempDir("bad");
  auto pair = GenerateCurveKeypair();
  ASSERT_TRUE(pair.ok());
  struct Case {
    std::string text;
    std::string expect;
  };
  const std::vector<Case> cases = {
      {"public-key = short\n", ":1: public-key is not a 40-character Z85 CURVE key"},
      {"# c\nnonsense\n", ":2: expected 'public-key = ...'"},
      {"colour = " + pair->public_key + "\n", ":1: unknown entry 'colour'"},
      {"public-key = " + pair->public_key + "\npublic-key = " + pair->public_key + "\n",
       ":2: 'public-key' given twice"},
      {"# only a comment\n", "no public-key entry"},
  };
  for (const Case& c : cases) {
    const std::string path = dir + "/k.pub";
    WriteFile(path, c.text);
    auto r = ReadCurveKeyFile(path, false);
    ASSERT_FALSE(r.ok()) << c.text;
    EXPECT_NE(r.status().message().find(path), std::string::npos) << r.status().message();
    EXPECT_NE(r.status().message().find(c.expect), std::string::npos) << r.status().message();
  }
  // A secret that is not the public key's.
  auto other = GenerateCurveKeypair();
  ASSERT_TRUE(other.ok());
  WriteFile(dir + "/mixed.key",
            "public-key = " + pair->public_key + "\nsecret-key = " + other->secret_key + "\n");
  auto mixed = ReadCurveKeyFile(dir + "/mixed.key", true);
  ASSERT_FALSE(mixed.ok());
  EXPECT_NE(mixed.status().message().find("not the one of its secret key"), std::string::npos);
  // A secret key others can read is refused.
  WriteFile(dir + "/open.key",
            "public-key = " + pair->public_key + "\nsecret-key = " + pair->secret_key + "\n", 0644);
  auto open = ReadCurveKeyFile(dir + "/open.key", true);
  ASSERT_FALSE(open.ok());
  EXPECT_NE(open.status().message().find("chmod 600"), std::string::npos);
  auto missing = ReadCurveKeyFile(dir + "/none.key", true);
  ASSERT_FALSE(missing.ok());
  EXPECT_NE(missing.status().message().find("skipjoin keygen"), std::string::npos);
  fs::remove_all(dir);
}

TEST(CurveKeys, ConcurrentFirstUseAgreesOnOneKeySet) {
  const std::string root = TempDir("race");
  const std::string dir = root + "/keys/c";
  std::vector<std::thread> threads;
  std::vector<Status> results(8);
  for (int i = 0; i < 8; ++i) {
    threads.emplace_back([&, i] { results[i] = EnsureClusterKeys(dir, {"a", "b"}, "c"); });
  }
  for (auto& t : threads) t.join();
  for (const Status& s : results) EXPECT_TRUE(s.ok()) << s.ToString();
  std::set<std::string> names;
  for (const auto& e : fs::directory_iterator(dir)) names.insert(e.path().filename().string());
  EXPECT_EQ(names, (std::set<std::string>{"cluster.key", "cluster.pub", "client.key", "client.pub",
                                          "node-a.key", "node-a.pub", "node-b.key", "node-b.pub"}));
  // Every .pub is the public half of its .key.
  for (const char* stem : {"cluster", "client", "node-a", "node-b"}) {
    auto key = ReadCurveKeyFile(dir + "/" + stem + ".key", true);
    auto pub = ReadCurveKeyFile(dir + "/" + stem + ".pub", false);
    ASSERT_TRUE(key.ok() && pub.ok()) << stem;
    EXPECT_EQ(key->public_key, pub->public_key) << stem;
  }
  // A later call with one more node adds only that node's keys.
  std::vector<std::string> created;
  ASSERT_TRUE(EnsureClusterKeys(dir, {"a", "b", "c2"}, "c", &created).ok());
  EXPECT_EQ(created.size(), 2u);
  EXPECT_FALSE(NodeKeyStem("../x").ok());
  EXPECT_FALSE(NodeKeyStem("").ok());
  fs::remove_all(root);
}

// One CURVE ROUTER ("workers" domain) with a ZAP handler that lists one key.
class CurveChannelTest : public ::testing::Test {
 protected:
  void SetUp() override {
    auto server = GenerateCurveKeypair();
    auto allowed = GenerateCurveKeypair();
    auto other = GenerateCurveKeypair();
    ASSERT_TRUE(server.ok() && allowed.ok() && other.ok());
    server_ = *server;
    allowed_ = *allowed;
    other_ = *other;
    auto zap = ZapAuthenticator::Start(
        ctx_, {{"workers", {{allowed_.public_key, "node-x"}}}, {"clients", {}}});
    ASSERT_TRUE(zap.ok()) << zap.status().ToString();
    zap_ = std::move(*zap);
    ChannelOptions o;
    o.curve.own = server_;
    o.curve.zap_domain = "workers";
    auto router = RouterChannel::Bind(ctx_, "tcp://127.0.0.1:*", o);
    ASSERT_TRUE(router.ok()) << router.status().ToString();
    router_.emplace(std::move(*router));
  }
  void TearDown() override {
    if (router_) router_->Close();
    if (zap_) zap_->Stop();
  }

  DealerChannel Dealer(const CurveKeypair& own, const std::string& server_public) {
    ChannelOptions o;
    o.curve.own = own;
    o.curve.server_public_key = server_public;
    auto d = DealerChannel::Connect(ctx_, router_->endpoint(), o);
    EXPECT_TRUE(d.ok()) << d.status().ToString();
    return std::move(*d);
  }

  // True when a WorkerRegister from `dealer` reaches the router within `wait`.
  bool Reaches(DealerChannel& dealer, milliseconds wait, std::string* user_id = nullptr) {
    WorkerRegister reg;
    reg.node = "x";
    EXPECT_TRUE(dealer.Send(reg, milliseconds(100)).ok());
    auto in = router_->Recv(wait);
    if (!in.ok()) return false;
    if (user_id) *user_id = in->user_id;
    return in->message.ok();
  }

  zmq::context_t ctx_;
  CurveKeypair server_, allowed_, other_;
  std::unique_ptr<ZapAuthenticator> zap_;
  std::optional<RouterChannel> router_;
};

TEST_F(CurveChannelTest, ListedKeyGetsThroughWithItsUserId) {
  DealerChannel d = Dealer(allowed_, server_.public_key);
  std::string user;
  ASSERT_TRUE(Reaches(d, milliseconds(5000), &user));
  EXPECT_EQ(user, "node-x");
  EXPECT_GE(zap_->accepted(), 1u);
  d.Close();
}

TEST_F(CurveChannelTest, UnlistedKeyGetsNothingThrough) {
  DealerChannel d = Dealer(other_, server_.public_key);
  EXPECT_FALSE(Reaches(d, milliseconds(1500)));
  EXPECT_GE(zap_->refused(), 1u);
  EXPECT_EQ(zap_->accepted(), 0u);
  d.Close();
}

TEST_F(CurveChannelTest, WrongServerKeyGetsNothingThrough) {
  // The client believes in another server: the handshake cannot complete.
  DealerChannel d = Dealer(allowed_, other_.public_key);
  EXPECT_FALSE(Reaches(d, milliseconds(1500)));
  d.Close();
}

TEST_F(CurveChannelTest, PlaintextPeerGetsNothingThrough) {
  auto d = DealerChannel::Connect(ctx_, router_->endpoint());
  ASSERT_TRUE(d.ok());
  EXPECT_FALSE(Reaches(*d, milliseconds(1500)));
  d->Close();
}

TEST_F(CurveChannelTest, RawTcpGarbageGetsNothingThroughAndServerKeepsServing) {
  // A peer that speaks no ZMTP at all, then a legitimate one.
  const std::string ep = router_->endpoint();
  const int port = std::stoi(ep.substr(ep.rfind(':') + 1));
  int fd = socket(AF_INET, SOCK_STREAM, 0);
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_port = htons(static_cast<uint16_t>(port));
  addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  ASSERT_EQ(connect(fd, reinterpret_cast<sockaddr*>(&addr), sizeof(addr)), 0);
  const std::string junk(4096, '\x7f');
  EXPECT_GT(write(fd, junk.data(), junk.size()), 0);
  auto none = router_->Recv(milliseconds(300));
  EXPECT_FALSE(none.ok());
  close(fd);
  DealerChannel d = Dealer(allowed_, server_.public_key);
  EXPECT_TRUE(Reaches(d, milliseconds(5000)));
  d.Close();
}

}  // namespace
}  // namespace skipjoin::protocol
