// TcpCommunicator: collectives across ranks on loopback, and a TP=2 engine over
// TCP producing the same greedy tokens as TP=1.
#include "worker/process/tcp_communicator.h"

#include <gtest/gtest.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

#include <filesystem>
#include <thread>

#include "tests/testutil/tiny_model.h"
#include "worker/engine.h"

namespace skipjoin::worker {
namespace {

uint16_t FreePort() {
  int fd = socket(AF_INET, SOCK_STREAM, 0);
  sockaddr_in a{};
  a.sin_family = AF_INET;
  a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  bind(fd, reinterpret_cast<sockaddr*>(&a), sizeof(a));
  socklen_t len = sizeof(a);
  getsockname(fd, reinterpret_cast<sockaddr*>(&a), &len);
  close(fd);
  return ntohs(a.sin_port);
}

// Runs fn(rank, comm) on `size` threads connected through one TCP group.
template <typename Fn>
void RunGroup(int size, Fn fn) {
  const uint16_t port = FreePort();
  std::vector<std::thread> threads;
  for (int r = 0; r < size; ++r) {
    threads.emplace_back([&, r] {
      TcpCommOptions o;
      o.rank = r;
      o.size = size;
      o.host = "127.0.0.1";
      o.port = port;
      o.timeout = std::chrono::milliseconds(10000);
      auto comm = TcpCommunicator::Create(o);
      ASSERT_TRUE(comm.ok()) << comm.status().ToString();
      fn(r, **comm);
    });
  }
  for (auto& t : threads) t.join();
}

TEST(TcpCommunicatorTest, AllReduceSumsAndAllGatherConcatenates) {
  RunGroup(3, [](int rank, Communicator& comm) {
    EXPECT_EQ(comm.rank(), rank);
    EXPECT_EQ(comm.size(), 3);
    std::vector<float> v = {1.0f * rank, 2.0f, -1.0f * rank};
    ASSERT_TRUE(comm.AllReduceSum(v.data(), 3).ok());
    EXPECT_EQ(v, (std::vector<float>{3.0f, 6.0f, -3.0f}));
    std::vector<float> in = {10.0f * rank, 10.0f * rank + 1}, out(6);
    ASSERT_TRUE(comm.AllGather(in.data(), 2, out.data()).ok());
    EXPECT_EQ(out, (std::vector<float>{0, 1, 10, 11, 20, 21}));
  });
}

TEST(TcpCommunicatorTest, PeerThatNeverComesTimesOut) {
  TcpCommOptions o;
  o.rank = 0;
  o.size = 2;
  o.host = "127.0.0.1";
  o.port = FreePort();
  o.timeout = std::chrono::milliseconds(300);
  auto comm = TcpCommunicator::Create(o);
  ASSERT_FALSE(comm.ok());
  EXPECT_EQ(comm.status().code(), StatusCode::kDeadlineExceeded);
}

TEST(TcpCommunicatorTest, EngineTp2OverTcpMatchesTp1) {
  const std::string path = (std::filesystem::temp_directory_path() /
                            ("skipjoin_tcp_comm_" + std::to_string(getpid()) + ".gguf"))
                               .string();
  ASSERT_TRUE(testutil::WriteTinyGguf({}, path).ok());
  auto options = [&](int rank, int size) {
    EngineOptions o;
    o.model_path = path;
    o.tp_rank = rank;
    o.tp_size = size;
    o.num_threads = 1;
    o.num_device_blocks = 16;
    return o;
  };
  // Greedy decode of 6 tokens after a short prompt, one sequence.
  auto run = [](Engine& engine) {
    std::vector<int32_t> out;
    StepInput in;
    SeqInput s;
    s.seq_id = 1;
    s.tokens = {3, 1, 4, 1, 5, 9, 2, 6};
    s.block_table = {0, 1};
    s.sample = true;
    in.seqs.push_back(s);
    for (int i = 0; i < 6; ++i) {
      auto r = engine.Step(in);
      EXPECT_TRUE(r.ok()) << r.status().ToString();
      if (!r.ok()) return out;
      out.push_back(r->seqs[0].token);
      in.seqs[0].start_pos += static_cast<int32_t>(in.seqs[0].tokens.size());
      in.seqs[0].tokens = {r->seqs[0].token};
    }
    return out;
  };
  auto solo = Engine::Create(options(0, 1), nullptr);
  ASSERT_TRUE(solo.ok()) << solo.status().ToString();
  const std::vector<int32_t> expected = run(**solo);
  std::vector<std::vector<int32_t>> got(2);
  RunGroup(2, [&](int rank, Communicator& comm) {
    auto engine = Engine::Create(options(rank, 2), &comm);
    ASSERT_TRUE(engine.ok()) << engine.status().ToString();
    got[rank] = run(**engine);
  });
  EXPECT_EQ(got[0], expected);
  EXPECT_EQ(got[1], expected);
  std::filesystem::remove(path);
}

}  // namespace
}  // namespace skipjoin::worker
