// TcpCommunicator: the collectives of a CPU tensor-parallel group whose ranks
// are separate processes (possibly on separate nodes), over plain TCP.
//
// Topology: a star. Rank 0 listens on host:port (from the assignment's
// Rendezvous: store_host / store_port, chosen by the coordinator); ranks
// 1..size-1 connect to it and introduce themselves with their rank. Every
// collective goes through rank 0, which combines the contributions in rank
// order and sends the same bytes back to everyone, so all ranks end with
// bit-identical values (the Communicator contract). Fine for the CPU
// activations of small models; a ring would scale better with many ranks.
//
// Threading: like every Communicator, an instance belongs to its rank's
// thread (the Executor). Errors (a peer that disconnects or times out) are
// returned as kUnavailable / kDeadlineExceeded, never abort.
#pragma once

#include <chrono>
#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include "common/status.h"
#include "worker/communicator.h"

namespace skipjoin::worker {

struct TcpCommOptions {
  int rank = 0;
  int size = 1;
  std::string host;  // rank 0's listening address (IPv4 or a resolvable name)
  uint16_t port = 0;
  // How long rank 0 waits for all peers and a peer retries connecting.
  std::chrono::milliseconds timeout{60000};
  // Longest wait for one collective's data; a stuck peer fails the step.
  std::chrono::milliseconds io_timeout{300000};
};

class TcpCommunicator : public Communicator {
 public:
  // Blocks until the group is connected (or the timeout passes).
  static Result<std::unique_ptr<TcpCommunicator>> Create(const TcpCommOptions& options);
  ~TcpCommunicator() override;

  int rank() const override { return rank_; }
  int size() const override { return size_; }
  Status AllReduceSum(float* data, int64_t n) override;
  Status AllGather(const float* in, int64_t n, float* out) override;

 private:
  TcpCommunicator(int rank, int size, std::vector<int> fds);

  const int rank_;
  const int size_;
  // Rank 0: fds_[r] is the socket to rank r (fds_[0] unused, -1).
  // Other ranks: fds_[0] is the socket to rank 0.
  std::vector<int> fds_;
  std::vector<float> scratch_;
};

}  // namespace skipjoin::worker
