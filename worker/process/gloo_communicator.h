// GlooCommunicator: the collectives of a CPU tensor-parallel group whose ranks
// are on different nodes, through Gloo's TCP transport: a full mesh of pair
// connections and Gloo's ring all-reduce (reduce-scatter then all-gather), so
// each rank sends 2 (size-1)/size x n floats per all-reduce and no rank
// relays for the others. The ring computes every segment's sum once and
// forwards it, so all ranks end with bit-identical values (the Communicator
// contract).
//
// Set-up: Gloo's rendezvous needs a key-value store; it is served by rank 0
// over the group's HostChannel for the few messages the mesh exchanges
// (each rank's pair addresses). Gloo binds to the address this rank reaches
// rank 0 from (HostChannel::local_address).
//
// Only in builds with Gloo (SKIPJOIN_HAVE_GLOO); comm_connect.h picks it.
//
// Threading: like every Communicator, an instance belongs to its rank's
// thread (the Executor). Gloo's failures (a peer that disconnects or times
// out) are returned as kUnavailable, never thrown or aborted.
#pragma once

#include <chrono>
#include <cstdint>
#include <memory>

#include "worker/communicator.h"
#include "worker/process/host_channel.h"

namespace gloo {
class Context;
}

namespace skipjoin::worker {

struct GlooCommOptions {
  // Longest wait for one collective (and for the mesh to connect).
  std::chrono::milliseconds io_timeout{300000};
};

class GlooCommunicator : public Communicator {
 public:
  // Collective over the channel: every rank of the group calls it.
  static Result<std::unique_ptr<GlooCommunicator>> Create(std::unique_ptr<HostChannel> channel,
                                                          const GlooCommOptions& options = {});
  ~GlooCommunicator() override;

  int rank() const override { return rank_; }
  int size() const override { return size_; }
  Status AllReduceSum(float* data, int64_t n) override;
  Status AllGather(const float* in, int64_t n, float* out) override;

 private:
  GlooCommunicator(std::unique_ptr<HostChannel> channel, std::shared_ptr<gloo::Context> context,
                   const GlooCommOptions& options);

  std::unique_ptr<HostChannel> channel_;  // kept open: a dead rank shows there first
  std::shared_ptr<gloo::Context> context_;
  const GlooCommOptions options_;
  const int rank_;
  const int size_;
  uint32_t tag_ = 0;
};

}  // namespace skipjoin::worker
