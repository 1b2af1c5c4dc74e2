// Communicator: the collectives a tensor-parallel group needs. One instance per
// rank; every rank of a group calls the same collectives in the same order.
// Implementations: solo (tp=1), local (ranks are threads of one process, used by
// tests and single-process TP), and later NCCL (GPU) and TCP (CPU, multi-process).
//
// Thread-safety: a Communicator belongs to its rank's thread.
#pragma once

#include <cstdint>
#include <memory>
#include <vector>

#include "common/status.h"

namespace skipjoin {

class Communicator {
 public:
  virtual ~Communicator() = default;
  virtual int rank() const = 0;
  virtual int size() const = 0;
  // data (n float32, in the rank's backend memory) becomes the elementwise sum
  // over ranks. Every rank ends with bit-identical values.
  virtual Status AllReduceSum(float* data, int64_t n) = 0;
  // out (size() * n float32) = every rank's in (n float32), in rank order.
  virtual Status AllGather(const float* in, int64_t n, float* out) = 0;
};

std::unique_ptr<Communicator> MakeSoloCommunicator();

// Ranks of one process exchanging through shared memory; create the group, hand
// Rank(r) to the thread that runs rank r. The group must outlive its ranks.
class LocalCommGroup {
 public:
  explicit LocalCommGroup(int size);
  ~LocalCommGroup();
  std::unique_ptr<Communicator> Rank(int rank);

  struct Shared;

 private:
  std::unique_ptr<Shared> shared_;
};

}  // namespace skipjoin
