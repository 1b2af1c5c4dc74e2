// RingCommunicator: the collectives of a CPU tensor-parallel group whose ranks
// are on different nodes, as a ring over plain TCP: rank r sends to r+1 and
// receives from r-1 on sockets of their own (set up over the HostChannel).
//
// All-reduce is reduce-scatter then all-gather over size segments, so each
// rank sends and receives 2 (size-1)/size x n floats and no rank relays for
// the others (the star through rank 0 moves 2 (size-1) x n through rank 0).
// Small vectors in groups of 2 or 3 take one direct exchange instead
// (RingCommOptions::direct_max_bytes).
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
  // In groups of 2 or 3, an all-reduce of at most this many bytes is one
  // direct exchange between all ranks instead of the ring's 2 (size-1)
  // steps: latency-bound vectors (a decode step's) save hops, at the price
  // of (size-1) x n bytes sent per rank instead of 2 (size-1)/size x n (the
  // same at size 2, 1.5x at 3).
  size_t direct_max_bytes = 64 * 1024;
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
  // One transfer of a step: `bytes` sent from `send` or received into `recv`
  // on socket `fd` (either neighbour's; TCP carries both directions).
  struct Move {
    int fd = -1;
    const void* send = nullptr;
    void* recv = nullptr;
    size_t bytes = 0;
  };
  // Runs up to four moves at once until all are done.
  Status Transfer(std::initializer_list<Move> moves);
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
