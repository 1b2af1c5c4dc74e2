// TcpStarCommunicator: the collectives of a CPU tensor-parallel group over the
// group's HostChannel itself: every collective goes through rank 0, which
// combines the contributions in rank order and sends the same bytes back to
// everyone, so all ranks end with bit-identical values (the Communicator
// contract). It moves 2 (size-1) x n floats through rank 0 per all-reduce;
// the ring (gloo_communicator.h) and shared memory (shm_communicator.h) are
// what groups use. It stays as the fallback of a build without Gloo and as
// the baseline the communicator benchmark compares against.
//
// Threading: like every Communicator, an instance belongs to its rank's
// thread (the Executor). Errors (a peer that disconnects or times out) are
// returned as kUnavailable / kDeadlineExceeded, never abort.
#pragma once

#include <cstdint>
#include <memory>
#include <vector>

#include "worker/communicator.h"
#include "worker/process/host_channel.h"

namespace skipjoin::worker {

class TcpStarCommunicator : public Communicator {
 public:
  explicit TcpStarCommunicator(std::unique_ptr<HostChannel> channel);

  int rank() const override { return channel_->rank(); }
  int size() const override { return channel_->size(); }
  Status AllReduceSum(float* data, int64_t n) override;
  Status AllGather(const float* in, int64_t n, float* out) override;

 private:
  Status Reduce(float* data, int64_t n);
  Status Gather(const float* in, int64_t n, float* out);

  std::unique_ptr<HostChannel> channel_;
  std::vector<float> scratch_;
};

}  // namespace skipjoin::worker
