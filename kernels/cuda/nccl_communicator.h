// NCCL for the ranks of a tensor-parallel group on CUDA devices: a
// Communicator (kernels/communicator.h) whose collectives run on device memory
// and are enqueued on the compute stream given at creation, so they order with
// the kernels around them and a CUDA graph can capture them.
//
// Rendezvous: rank 0 makes a unique id (NewNcclUniqueId) and hands the bytes
// to the other ranks over the group's host channel; every rank then calls
// CreateNcclCommunicator with the same id. Creation blocks until all ranks of
// the group have joined.
//
// Built when the CUDA toolkit has NCCL (SKIPJOIN_HAVE_NCCL); tests in
// tests/kernels_cuda/nccl_test.cc (a one-rank self-check on any GPU, two
// ranks where two GPUs exist).
//
// Thread-safety: a communicator belongs to its rank's thread.
#pragma once

#include <cstddef>
#include <memory>
#include <string>

#include "common/status.h"
#include "kernels/communicator.h"

namespace skipjoin::kernels::cuda {

// The size of NCCL's unique id (ncclUniqueId), in bytes.
inline constexpr size_t kNcclUniqueIdBytes = 128;

// A fresh unique id for a group (rank 0 calls it).
Result<std::string> NewNcclUniqueId();

struct NcclCommOptions {
  int rank = 0;
  int size = 1;
  int device = 0;          // CUDA device ordinal of this rank
  std::string unique_id;   // kNcclUniqueIdBytes bytes from NewNcclUniqueId
  void* stream = nullptr;  // cudaStream_t the collectives are enqueued on; null: the default stream
};

Result<std::unique_ptr<Communicator>> CreateNcclCommunicator(const NcclCommOptions& options);

// The NCCL library this process runs, e.g. "2.27.7".
std::string NcclVersion();

}  // namespace skipjoin::kernels::cuda
