// RingCommunicator: the collectives of a CPU tensor-parallel group whose ranks
// are on different nodes, as a ring over plain TCP: rank r sends to r+1 and
// receives from r-1 on sockets of their own (set up over the HostChannel).
//
// All-reduce is reduce-scatter then all-gather over size segments, so each
// rank sends and receives 2 (size-1)/size x n floats and no rank relays for
// the others (the star through rank 0 moves 2 (size-1) x n through rank 0).
// Every segment's sum is computed once, by one rank, and forwarded
// unchanged, so all ranks end with bit-identical values (the Communicator
// contract). Each of the 2 (size-1) steps sends one segment to the right and
// receives one from the left at the same time, in the calling thread (poll
// over non-blocking sockets): no helper thread, so a step costs one wake-up
// per hop, not two as with a transport loop thread (Gloo's).
//
// A failed step shuts every socket of this rank down, so its neighbours fail
// their step at once and the failure goes round the ring instead of waiting
// for the I/O timeout.
//
// Threading: like every Communicator, an instance belongs to its rank's
// thread (the Executor).
#pragma once

#include <chrono>
#include <cstdint>
#include <memory>
#include <vector>

#include "worker/communicator.h"
#include "worker/process/host_channel.h"

namespace skipjoin::worker {

struct RingCommOptions {
  // Longest wait for one step of a collective (and for the ring to connect).
  std::chrono::milliseconds io_timeout{300000};
};

class RingCommunicator : public Communicator {
 public:
  // Collective over the channel: every rank of the group calls it.
  static Result<std::unique_ptr<RingCommunicator>> Create(std::unique_ptr<HostChannel> channel,
                                                          const RingCommOptions& options = {});
  ~RingCommunicator() override;

  int rank() const override { return rank_; }
  int size() const override { return size_; }
  Status AllReduceSum(float* data, int64_t n) override;
  Status AllGather(const float* in, int64_t n, float* out) override;

 private:
  RingCommunicator(std::unique_ptr<HostChannel> channel, int right_fd, int left_fd,
                   const RingCommOptions& options);
  // Sends `send_bytes` from `send` to the right while receiving `recv_bytes`
  // into `recv` from the left.
  Status Exchange(const void* send, size_t send_bytes, void* recv, size_t recv_bytes);
  Status Fail(Status st);

  std::unique_ptr<HostChannel> channel_;
  const int right_fd_;
  const int left_fd_;
  const RingCommOptions options_;
  const int rank_;
  const int size_;
  std::vector<float> scratch_;
};

}  // namespace skipjoin::worker
