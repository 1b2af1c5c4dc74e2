// Communicator: the collectives a tensor-parallel group needs. One instance per
// rank; every rank of a group calls the same collectives in the same order.
// Buffers are in the rank's backend memory (host memory for the CPU backend,
// device memory for CUDA). A device communicator (NCCL) enqueues its work on
// the stream it was created with, so results are there in stream order; host
// communicators return when the result is in place.
//
// Implementations: solo and local (worker/communicator.h: tp=1, and ranks as
// threads of one process for tests), the CPU process groups of
// worker/process/comm_connect.h (shared memory, TCP ring, Gloo, TCP star),
// and NCCL for CUDA devices (kernels/cuda/nccl_communicator.h).
//
// Thread-safety: a Communicator belongs to its rank's thread.
#pragma once

#include <cstdint>

#include "common/status.h"

namespace skipjoin {

class Communicator {
 public:
  virtual ~Communicator() = default;
  virtual int rank() const = 0;
  virtual int size() const = 0;
  // data (n float32) becomes the elementwise sum over ranks. Every rank ends
  // with bit-identical values.
  virtual Status AllReduceSum(float* data, int64_t n) = 0;
  // out (size() * n float32) = every rank's in (n float32), in rank order.
  virtual Status AllGather(const float* in, int64_t n, float* out) = 0;
};

}  // namespace skipjoin
