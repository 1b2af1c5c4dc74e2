// The CPU tensor-parallel communicators (comm_connect.h): shared memory, the
// TCP ring, Gloo and the TCP star, each across ranks on loopback (threads of this process,
// each with its own HostChannel, mapping and sockets, as separate processes
// would have): collectives are correct and bit-identical on every rank, long
// runs of them stay in step, a rank that goes away fails the others quickly,
// mixed backends are refused, and a TP=2 engine gives TP=1's greedy tokens.
#include <gtest/gtest.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

#include <chrono>
#include <cstring>
#include <filesystem>
#include <random>
#include <thread>

#include "tests/testutil/tiny_model.h"
#include "worker/engine.h"
#include "worker/process/comm_connect.h"
#include "worker/process/host_channel.h"

namespace skipjoin::worker {
namespace {

using Clock = std::chrono::steady_clock;

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

HostChannelOptions ChannelOptions(int rank, int size, uint16_t port) {
  HostChannelOptions o;
  o.rank = rank;
  o.size = size;
  o.host = "127.0.0.1";
  o.port = port;
  o.timeout = std::chrono::milliseconds(10000);
  o.io_timeout = std::chrono::milliseconds(20000);
  return o;
}

// Runs fn(rank, comm) on `size` threads connected as one group of `backend`.
template <typename Fn>
void RunGroup(const std::string& backend, int size, Fn fn) {
  const uint16_t port = FreePort();
  std::vector<std::thread> threads;
  for (int r = 0; r < size; ++r) {
    threads.emplace_back([&, r] {
      auto comm = ConnectCommunicator(backend, ChannelOptions(r, size, port));
      ASSERT_TRUE(comm.ok()) << comm.status().ToString();
      fn(r, **comm);
    });
  }
  for (auto& t : threads) t.join();
}

class TpCommunicatorTest : public ::testing::TestWithParam<std::string> {
 protected:
  void SetUp() override {
    if (GetParam() == "gloo" && !HaveGloo()) GTEST_SKIP() << "this build has no Gloo";
  }
};

TEST_P(TpCommunicatorTest, AllReduceSumsAndAllGatherConcatenates) {
  RunGroup(GetParam(), 3, [](int rank, Communicator& comm) {
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

// Random values over more than one shared-memory slot (2^18 floats): every
// rank gets the same bits, and they are the sum within float rounding.
TEST_P(TpCommunicatorTest, LargeReductionIsBitIdenticalOnEveryRank) {
  constexpr int kSize = 3;
  constexpr int64_t kN = (int64_t{1} << 18) + 12345;
  std::vector<std::vector<float>> inputs(kSize), results(kSize);
  for (int r = 0; r < kSize; ++r) {
    std::mt19937 rng(static_cast<uint32_t>(r + 1));
    std::normal_distribution<float> d(0.0f, 3.0f);
    inputs[r].resize(kN);
    for (float& x : inputs[r]) x = d(rng);
  }
  std::vector<std::vector<float>> gathered(kSize);
  RunGroup(GetParam(), kSize, [&](int rank, Communicator& comm) {
    results[rank] = inputs[rank];
    ASSERT_TRUE(comm.AllReduceSum(results[rank].data(), kN).ok());
    gathered[rank].resize(kN * kSize);
    ASSERT_TRUE(comm.AllGather(inputs[rank].data(), kN, gathered[rank].data()).ok());
  });
  for (int r = 1; r < kSize; ++r) {
    ASSERT_EQ(std::memcmp(results[0].data(), results[r].data(), kN * sizeof(float)), 0)
        << "rank " << r << " differs from rank 0";
  }
  for (int64_t i = 0; i < kN; i += 997) {
    const double want = double{inputs[0][i]} + inputs[1][i] + inputs[2][i];
    EXPECT_NEAR(results[0][i], want, 1e-4 * (1 + std::abs(want))) << "element " << i;
  }
  for (int r = 0; r < kSize; ++r) {
    for (int src = 0; src < kSize; ++src) {
      ASSERT_EQ(std::memcmp(gathered[r].data() + src * kN, inputs[src].data(), kN * sizeof(float)),
                0)
          << "rank " << r << "'s copy of rank " << src;
    }
  }
}

// Thousands of back-to-back collectives of changing sizes, as a decode loop
// issues them: no generation is mixed with another.
TEST_P(TpCommunicatorTest, ManyCollectivesInARowStayInStep) {
  constexpr int kSize = 2;
  const int rounds = GetParam() == "shm" ? 5000 : 1000;
  RunGroup(GetParam(), kSize, [&](int rank, Communicator& comm) {
    std::vector<float> v, g;
    for (int i = 0; i < rounds; ++i) {
      const int64_t n = 1 + (i * 37) % 700;
      v.assign(n, static_cast<float>(i + rank));
      ASSERT_TRUE(comm.AllReduceSum(v.data(), n).ok()) << "round " << i;
      ASSERT_EQ(v[0], static_cast<float>(2 * i + 1)) << "round " << i;
      ASSERT_EQ(v[n - 1], static_cast<float>(2 * i + 1)) << "round " << i;
      if (i % 10 == 0) {
        v.assign(n, static_cast<float>(rank * 1000 + i));
        g.resize(n * kSize);
        ASSERT_TRUE(comm.AllGather(v.data(), n, g.data()).ok());
        ASSERT_EQ(g[0], static_cast<float>(i));
        ASSERT_EQ(g[n], static_cast<float>(1000 + i));
      }
    }
  });
}

// Rank 2 of 3 leaves while the others are in a collective: both fail with
// kUnavailable within seconds, not after the I/O timeout (20 s here), though
// rank 1 has no connection of its own to rank 2 in the star-shaped channel.
TEST_P(TpCommunicatorTest, RankThatLeavesFailsTheOthersQuickly) {
  constexpr int kSize = 3;
  const uint16_t port = FreePort();
  Status status[kSize];
  double seconds[kSize] = {};
  std::vector<std::thread> threads;
  for (int r = 0; r < kSize; ++r) {
    threads.emplace_back([&, r] {
      auto comm = ConnectCommunicator(GetParam(), ChannelOptions(r, kSize, port));
      ASSERT_TRUE(comm.ok()) << comm.status().ToString();
      std::vector<float> v(1000, 1.0f);
      ASSERT_TRUE((*comm)->AllReduceSum(v.data(), 1000).ok());
      if (r == kSize - 1) {
        std::this_thread::sleep_for(std::chrono::milliseconds(200));
        comm->reset();  // closes its sockets (and mapping), as an exiting process would
        return;
      }
      const auto start = Clock::now();
      status[r] = (*comm)->AllReduceSum(v.data(), 1000);
      seconds[r] = std::chrono::duration<double>(Clock::now() - start).count();
    });
  }
  for (auto& t : threads) t.join();
  for (int r = 0; r < kSize - 1; ++r) {
    EXPECT_EQ(status[r].code(), StatusCode::kUnavailable)
        << "rank " << r << ": " << status[r].ToString();
    EXPECT_LT(seconds[r], 10.0) << "rank " << r << ": " << status[r].ToString();
  }
}

TEST_P(TpCommunicatorTest, EngineTp2MatchesTp1) {
  const std::string path = (std::filesystem::temp_directory_path() /
                            ("skipjoin_tp_comm_" + std::to_string(getpid()) + ".gguf"))
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
  RunGroup(GetParam(), 2, [&](int rank, Communicator& comm) {
    auto engine = Engine::Create(options(rank, 2), &comm);
    ASSERT_TRUE(engine.ok()) << engine.status().ToString();
    got[rank] = run(**engine);
  });
  EXPECT_EQ(got[0], expected);
  EXPECT_EQ(got[1], expected);
  std::filesystem::remove(path);
}

INSTANTIATE_TEST_SUITE_P(Backends, TpCommunicatorTest,
                         ::testing::Values("shm", "ring", "gloo", "tcp"),
                         [](const auto& info) { return info.param; });

TEST(HostChannelTest, PeerThatNeverComesTimesOut) {
  HostChannelOptions o = ChannelOptions(0, 2, FreePort());
  o.timeout = std::chrono::milliseconds(300);
  auto channel = HostChannel::Connect(o);
  ASSERT_FALSE(channel.ok());
  EXPECT_EQ(channel.status().code(), StatusCode::kDeadlineExceeded);
}

// Rank 0 may listen on every interface (nodes[].bind 0.0.0.0) while its
// peers dial the advertised host; the ring then listens on the address the
// peers actually reached.
TEST(HostChannelTest, RankZeroBindsApartFromTheDialedHost) {
  const uint16_t port = FreePort();
  std::vector<std::thread> threads;
  for (int r = 0; r < 2; ++r) {
    threads.emplace_back([&, r] {
      HostChannelOptions o = ChannelOptions(r, 2, port);
      o.bind_host = "0.0.0.0";
      auto comm = ConnectCommunicator("ring", o);
      ASSERT_TRUE(comm.ok()) << comm.status().ToString();
      std::vector<float> v = {1.0f + r};
      ASSERT_TRUE((*comm)->AllReduceSum(v.data(), 1).ok());
      EXPECT_EQ(v[0], 3.0f);
    });
  }
  for (auto& t : threads) t.join();
  HostChannelOptions bad = ChannelOptions(0, 2, port);
  bad.bind_host = "203.0.113.7";  // not an address of this machine
  auto channel = HostChannel::Connect(bad);
  ASSERT_FALSE(channel.ok());
  EXPECT_NE(channel.status().message().find("cannot listen on 203.0.113.7"), std::string::npos)
      << channel.status().ToString();
}

// Ranks of different builds (one with Gloo, one without, say) would run
// different collectives and hang; they are refused at set-up instead.
TEST(ConnectCommunicatorTest, MixedBackendsAreRefusedByName) {
  const uint16_t port = FreePort();
  Status st[2];
  std::thread a([&] { st[0] = ConnectCommunicator("shm", ChannelOptions(0, 2, port)).status(); });
  std::thread b([&] { st[1] = ConnectCommunicator("tcp", ChannelOptions(1, 2, port)).status(); });
  a.join();
  b.join();
  for (const Status& s : st) {
    EXPECT_EQ(s.code(), StatusCode::kFailedPrecondition) << s.ToString();
    EXPECT_NE(s.message().find("'shm'"), std::string::npos) << s.ToString();
    EXPECT_NE(s.message().find("'tcp'"), std::string::npos) << s.ToString();
  }
}

TEST(ConnectCommunicatorTest, UnknownBackendIsRefused) {
  auto comm = ConnectCommunicator("nccl-over-pigeons", ChannelOptions(0, 2, FreePort()));
  ASSERT_FALSE(comm.ok());
  EXPECT_EQ(comm.status().code(), StatusCode::kInvalidArgument);
  EXPECT_NE(comm.status().message().find("nccl-over-pigeons"), std::string::npos);
}

}  // namespace
}  // namespace skipjoin::worker
