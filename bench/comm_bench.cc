// Latency of the CPU tensor-parallel collectives (docs/DISTRIBUTED.md):
// each rank is a separate process (fork), as workers are; the backends run in
// interleaved rounds so that machine noise falls on all of them alike.
//
//   comm_bench [--ranks 2] [--backends shm,gloo,tcp] [--rounds 3] [--iters 2000]
//              [--floats 576,4608,18432,294912] [--gather-floats 24576,196608]
//
// For every backend and size: p50 / p99 microseconds of one all-reduce (and
// all-gather) on rank 0, and the bytes the loopback interface carried per call
// and rank, TCP/IP headers included (/proc/net/dev, so run it in a network
// namespace of its own for clean counts: `unshare -n sh -c 'ip link set lo up;
// build/bench/comm_bench'`). The sizes are SmolLM2's: 576 floats is one token's hidden state (a
// decode step of 1, 8, 32 sequences, a 512-token prefill), 24576 its vocabulary shard at tp=2.
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <fstream>
#include <sstream>
#include <string>
#include <vector>

#include "worker/process/comm_connect.h"

namespace {

using skipjoin::Communicator;
using skipjoin::worker::ConnectCommunicator;
using skipjoin::worker::HostChannelOptions;
using Clock = std::chrono::steady_clock;

std::vector<std::string> Split(const std::string& s) {
  std::vector<std::string> out;
  std::stringstream in(s);
  for (std::string item; std::getline(in, item, ',');) out.push_back(item);
  return out;
}

int64_t LoopbackTxBytes() {
  std::ifstream f("/proc/net/dev");
  std::string line;
  while (std::getline(f, line)) {
    const size_t colon = line.find(':');
    if (colon == std::string::npos) continue;
    std::string name = line.substr(0, colon);
    name.erase(0, name.find_first_not_of(' '));
    if (name != "lo") continue;
    std::istringstream fields(line.substr(colon + 1));
    int64_t v[9] = {};
    for (int64_t& x : v) fields >> x;
    return v[8];  // transmit bytes
  }
  return -1;
}

struct Timing {
  double p50_us = 0, p99_us = 0;
};

Timing Summarize(std::vector<double> us) {
  std::sort(us.begin(), us.end());
  Timing t;
  t.p50_us = us[us.size() / 2];
  t.p99_us = us[std::min(us.size() - 1, us.size() * 99 / 100)];
  return t;
}

// One rank: connects, runs `iters` collectives of each size, and (rank 0) writes
// "kind floats p50 p99" lines to `report`.
int RunRank(const std::string& backend, int rank, int ranks, uint16_t port, int iters,
            const std::vector<int64_t>& reduce_sizes, const std::vector<int64_t>& gather_sizes,
            int report) {
  HostChannelOptions o;
  o.rank = rank;
  o.size = ranks;
  o.host = "127.0.0.1";
  o.port = port;
  o.timeout = std::chrono::milliseconds(20000);
  o.io_timeout = std::chrono::milliseconds(60000);
  auto comm = ConnectCommunicator(backend, o);
  if (!comm.ok()) {
    std::fprintf(stderr, "rank %d: %s\n", rank, comm.status().ToString().c_str());
    return 1;
  }
  std::string lines;
  auto run = [&](const char* kind, int64_t n, auto op) {
    std::vector<double> us;
    const int warmup = std::max(10, iters / 20);
    int64_t tx_start = 0;
    for (int i = 0; i < warmup + iters; ++i) {
      if (i == warmup) tx_start = LoopbackTxBytes();
      const auto start = Clock::now();
      if (!op().ok()) return false;
      const double t = std::chrono::duration<double, std::micro>(Clock::now() - start).count();
      if (i >= warmup) us.push_back(t);
    }
    // All ranks' bytes on loopback while rank 0 ran the timed calls (the
    // ranks move in lock step, so this is those calls to within one).
    const double bytes = static_cast<double>(LoopbackTxBytes() - tx_start) / iters / ranks;
    const Timing t = Summarize(us);
    char line[160];
    std::snprintf(line, sizeof line, "%s %lld %.2f %.2f %.0f\n", kind, static_cast<long long>(n),
                  t.p50_us, t.p99_us, bytes);
    lines += line;
    return true;
  };
  for (int64_t n : reduce_sizes) {
    std::vector<float> v(static_cast<size_t>(n), 1.0f);
    if (!run("allreduce", n, [&] { return (*comm)->AllReduceSum(v.data(), n); })) return 1;
  }
  for (int64_t n : gather_sizes) {
    std::vector<float> in(static_cast<size_t>(n), 1.0f), out(static_cast<size_t>(n * ranks));
    if (!run("allgather", n, [&] { return (*comm)->AllGather(in.data(), n, out.data()); }))
      return 1;
  }
  if (rank == 0 && write(report, lines.data(), lines.size()) < 0) return 1;
  return 0;
}

}  // namespace

int main(int argc, char** argv) {
  int ranks = 2, rounds = 3, iters = 2000;
  std::vector<std::string> backends = {"shm", "gloo", "tcp"};
  std::vector<int64_t> reduce_sizes = {576, 4608, 18432, 294912};
  std::vector<int64_t> gather_sizes = {24576, 196608};
  for (int i = 1; i < argc; ++i) {
    const std::string a = argv[i];
    auto value = [&]() -> std::string {
      if (i + 1 >= argc) {
        std::fprintf(stderr, "comm_bench: %s needs a value\n", a.c_str());
        std::exit(2);
      }
      return argv[++i];
    };
    auto sizes = [&](const std::string& s) {
      std::vector<int64_t> out;
      for (const std::string& x : Split(s)) out.push_back(std::stoll(x));
      return out;
    };
    if (a == "--ranks") {
      ranks = std::stoi(value());
    } else if (a == "--rounds") {
      rounds = std::stoi(value());
    } else if (a == "--iters") {
      iters = std::stoi(value());
    } else if (a == "--backends") {
      backends = Split(value());
    } else if (a == "--floats") {
      reduce_sizes = sizes(value());
    } else if (a == "--gather-floats") {
      gather_sizes = sizes(value());
    } else {
      std::fprintf(stderr,
                   "usage: comm_bench [--ranks N] [--backends shm,gloo,tcp] [--rounds N] "
                   "[--iters N] [--floats a,b,..] [--gather-floats a,b,..]\n");
      return a == "--help" || a == "-h" ? 0 : 2;
    }
  }
  if (ranks < 2) {
    std::fprintf(stderr, "comm_bench: --ranks must be >= 2\n");
    return 2;
  }
  std::printf("# %d ranks (processes), %d iterations per size, %d interleaved rounds\n", ranks,
              iters, rounds);
  std::printf("%-6s %-5s %-9s %9s %9s %9s %14s\n", "round", "comm", "op", "floats", "p50_us",
              "p99_us", "lo_B/call/rank");
  uint16_t port = static_cast<uint16_t>(20000 + getpid() % 20000);
  for (int round = 0; round < rounds; ++round) {
    for (const std::string& backend : backends) {
      int fds[2];
      if (pipe(fds) != 0) return 1;
      std::vector<pid_t> pids;
      ++port;
      for (int r = 0; r < ranks; ++r) {
        pid_t pid = fork();
        if (pid == 0) {
          close(fds[0]);
          _exit(RunRank(backend, r, ranks, port, iters, reduce_sizes, gather_sizes, fds[1]));
        }
        pids.push_back(pid);
      }
      close(fds[1]);
      std::string report;
      char buf[4096];
      for (ssize_t n; (n = read(fds[0], buf, sizeof buf)) > 0;) report.append(buf, n);
      close(fds[0]);
      bool ok = true;
      for (pid_t pid : pids) {
        int status = 0;
        waitpid(pid, &status, 0);
        ok = ok && WIFEXITED(status) && WEXITSTATUS(status) == 0;
      }
      if (!ok) {
        std::printf("%-6d %-5s failed\n", round, backend.c_str());
        continue;
      }
      std::istringstream in(report);
      for (std::string line; std::getline(in, line);) {
        std::istringstream f(line);
        std::string kind;
        long long n = 0;
        double p50 = 0, p99 = 0, bytes = 0;
        f >> kind >> n >> p50 >> p99 >> bytes;
        std::printf("%-6d %-5s %-9s %9lld %9.1f %9.1f %14.0f\n", round, backend.c_str(),
                    kind.c_str(), n, p50, p99, bytes);
      }
      std::fflush(stdout);
    }
  }
  return 0;
}
