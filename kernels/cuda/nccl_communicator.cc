#include "kernels/cuda/nccl_communicator.h"

#include <cuda_runtime_api.h>
#include <nccl.h>

#include <cstring>

#include "kernels/cuda/cuda_check.h"

namespace skipjoin::kernels::cuda {
namespace {

Status NcclStatus(ncclResult_t r, const char* expr, const char* file, int line,
                  ncclComm_t comm = nullptr) {
  std::string detail = ncclGetErrorString(r);
  if (comm != nullptr) {
    const char* last = ncclGetLastError(comm);
    if (last != nullptr && *last != '\0') detail += ": " + std::string(last);
  }
  const std::string msg = std::string("NCCL error (") + detail + ") in " + expr + " at " + file +
                          ":" + std::to_string(line);
  // A peer that went away or a network failure is unavailability, not a bug.
  return r == ncclRemoteError || r == ncclSystemError ? Unavailable(msg) : Internal(msg);
}

// NCCL return code -> Status at the call site (the convention: one macro per library).
#define SJ_NCCL_RETURN_IF_ERROR(expr, comm)                            \
  do {                                                                 \
    const ncclResult_t sj_nccl_r = (expr);                             \
    if (sj_nccl_r != ncclSuccess) {                                    \
      return NcclStatus(sj_nccl_r, #expr, __FILE__, __LINE__, (comm)); \
    }                                                                  \
  } while (0)

class NcclCommunicator final : public Communicator {
 public:
  NcclCommunicator(ncclComm_t comm, int rank, int size, int device, cudaStream_t stream)
      : comm_(comm), rank_(rank), size_(size), device_(device), stream_(stream) {}
  ~NcclCommunicator() override { ncclCommDestroy(comm_); }

  int rank() const override { return rank_; }
  int size() const override { return size_; }

  Status AllReduceSum(float* data, int64_t n) override {
    if (n == 0) return Status::Ok();
    SJ_CUDA_RETURN_IF_ERROR(cudaSetDevice(device_));
    SJ_NCCL_RETURN_IF_ERROR(
        ncclAllReduce(data, data, static_cast<size_t>(n), ncclFloat, ncclSum, comm_, stream_),
        comm_);
    return Status::Ok();
  }

  Status AllGather(const float* in, int64_t n, float* out) override {
    if (n == 0) return Status::Ok();
    SJ_CUDA_RETURN_IF_ERROR(cudaSetDevice(device_));
    SJ_NCCL_RETURN_IF_ERROR(
        ncclAllGather(in, out, static_cast<size_t>(n), ncclFloat, comm_, stream_), comm_);
    return Status::Ok();
  }

 private:
  ncclComm_t comm_;
  const int rank_;
  const int size_;
  const int device_;
  cudaStream_t stream_;
};

}  // namespace

Result<std::string> NewNcclUniqueId() {
  static_assert(sizeof(ncclUniqueId) == kNcclUniqueIdBytes);
  ncclUniqueId id;
  SJ_NCCL_RETURN_IF_ERROR(ncclGetUniqueId(&id), nullptr);
  return std::string(id.internal, sizeof(id.internal));
}

Result<std::unique_ptr<Communicator>> CreateNcclCommunicator(const NcclCommOptions& o) {
  if (o.size < 1 || o.rank < 0 || o.rank >= o.size) {
    return InvalidArgument("NCCL rank " + std::to_string(o.rank) + " of size " +
                           std::to_string(o.size));
  }
  if (o.unique_id.size() != kNcclUniqueIdBytes) {
    return InvalidArgument("NCCL unique id has " + std::to_string(o.unique_id.size()) +
                           " bytes, expected " + std::to_string(kNcclUniqueIdBytes));
  }
  int devices = 0;
  if (cudaGetDeviceCount(&devices) != cudaSuccess || devices == 0) {
    cudaGetLastError();  // clear the sticky "no device" error
    return Unavailable("NCCL needs a CUDA device and none is visible");
  }
  if (o.device < 0 || o.device >= devices) {
    return InvalidArgument("CUDA device " + std::to_string(o.device) + " does not exist (" +
                           std::to_string(devices) + " visible)");
  }
  SJ_CUDA_RETURN_IF_ERROR(cudaSetDevice(o.device));
  ncclUniqueId id;
  std::memcpy(id.internal, o.unique_id.data(), kNcclUniqueIdBytes);
  ncclComm_t comm = nullptr;
  SJ_NCCL_RETURN_IF_ERROR(ncclCommInitRank(&comm, o.size, id, o.rank), nullptr);
  return std::unique_ptr<Communicator>(std::make_unique<NcclCommunicator>(
      comm, o.rank, o.size, o.device, static_cast<cudaStream_t>(o.stream)));
}

std::string NcclVersion() {
  int v = 0;
  if (ncclGetVersion(&v) != ncclSuccess) return "unknown";
  // NCCL >= 2.9 encodes major * 10000 + minor * 100 + patch.
  return std::to_string(v / 10000) + "." + std::to_string(v / 100 % 100) + "." +
         std::to_string(v % 100);
}

}  // namespace skipjoin::kernels::cuda
