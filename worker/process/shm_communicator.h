// ShmCommunicator: the collectives of a CPU tensor-parallel group whose ranks
// are processes on one node, through one POSIX shared-memory segment.
//
// Rank 0 creates the segment and passes its name over the HostChannel; once
// every rank has mapped it, rank 0 unlinks the name, so nothing is left in
// /dev/shm when the group ends, however it ends.
//
// One collective is one generation g: each rank copies its input into its own
// slot of buffer g % 2, publishes g in its arrival counter (release), waits
// until every counter reaches g (acquire), then reads all slots. Two buffers
// make one barrier per collective enough: a rank writes buffer g % 2 again at
// g + 2 only after every rank arrived at g + 1, i.e. finished reading g.
// Every rank sums the slots in rank order, element by element, so all ranks
// end with bit-identical values (the Communicator contract). Inputs larger
// than a slot run as several generations.
//
// Waiting spins briefly, then yields; while waiting it checks the HostChannel
// for a rank that exited, and gives up after the I/O timeout.
//
// Threading: like every Communicator, an instance belongs to its rank's
// thread (the Executor).
#pragma once

#include <atomic>
#include <chrono>
#include <cstdint>
#include <memory>
#include <string>

#include "worker/communicator.h"
#include "worker/process/host_channel.h"

namespace skipjoin::worker {

struct ShmCommOptions {
  // Floats per rank slot; a collective over more runs in several rounds.
  int64_t slot_floats = int64_t{1} << 18;  // 1 MiB
  // Pause-spins (a few microseconds) before a waiting rank starts yielding
  // its core between checks: a yield costs little when nothing else wants
  // the core, and hands it over at once when the rank being waited for
  // shares it (more ranks than cores, or a busy machine).
  int spin_pauses = 64;
  // Longest wait for the other ranks in one collective.
  std::chrono::milliseconds io_timeout{300000};
};

class ShmCommunicator : public Communicator {
 public:
  // Collective over the channel: every rank of the group calls it.
  static Result<std::unique_ptr<ShmCommunicator>> Create(std::unique_ptr<HostChannel> channel,
                                                         const ShmCommOptions& options = {});
  ~ShmCommunicator() override;

  int rank() const override { return channel_->rank(); }
  int size() const override { return channel_->size(); }
  Status AllReduceSum(float* data, int64_t n) override;
  Status AllGather(const float* in, int64_t n, float* out) override;

  struct Header;

 private:
  ShmCommunicator(std::unique_ptr<HostChannel> channel, const ShmCommOptions& options, void* base,
                  size_t bytes);
  // Publishes this rank's slot of the next generation and waits for all.
  // Returns the buffer (generation % 2) to read.
  Result<float*> Exchange(const float* in, int64_t n);
  float* Slot(float* buffer, int rank) const {
    return buffer + int64_t{rank} * options_.slot_floats;
  }

  std::unique_ptr<HostChannel> channel_;
  const ShmCommOptions options_;
  void* base_;
  size_t bytes_;
  Header* header_;
  float* buffers_[2];
  uint64_t generation_ = 0;
  const int spin_pauses_;
};

}  // namespace skipjoin::worker
