#include "worker/process/tcp_communicator.h"

#include <cstring>

namespace skipjoin::worker {

TcpStarCommunicator::TcpStarCommunicator(std::unique_ptr<HostChannel> channel)
    : channel_(std::move(channel)) {}

Status TcpStarCommunicator::AllReduceSum(float* data, int64_t n) {
  Status st = Reduce(data, n);
  // A failed collective leaves the group out of step: close the channel so
  // that every other rank fails now instead of at its I/O timeout.
  if (!st.ok()) channel_->Shutdown();
  return st;
}

Status TcpStarCommunicator::AllGather(const float* in, int64_t n, float* out) {
  Status st = Gather(in, n, out);
  if (!st.ok()) channel_->Shutdown();
  return st;
}

Status TcpStarCommunicator::Reduce(float* data, int64_t n) {
  const int size = channel_->size();
  if (size == 1 || n == 0) return Status::Ok();
  const size_t bytes = static_cast<size_t>(n) * sizeof(float);
  if (channel_->rank() != 0) {
    SJ_RETURN_IF_ERROR(channel_->SendTo(0, data, bytes));
    return channel_->RecvFrom(0, data, bytes);
  }
  // Sum in rank order: rank 0's values, then rank 1's, ... (fixed order, so the
  // result does not depend on arrival order).
  scratch_.resize(static_cast<size_t>(n));
  for (int r = 1; r < size; ++r) {
    SJ_RETURN_IF_ERROR(channel_->RecvFrom(r, scratch_.data(), bytes));
    for (int64_t i = 0; i < n; ++i) data[i] += scratch_[static_cast<size_t>(i)];
  }
  for (int r = 1; r < size; ++r) SJ_RETURN_IF_ERROR(channel_->SendTo(r, data, bytes));
  return Status::Ok();
}

Status TcpStarCommunicator::Gather(const float* in, int64_t n, float* out) {
  const int size = channel_->size();
  const size_t bytes = static_cast<size_t>(n) * sizeof(float);
  if (size == 1 || n == 0) {
    if (n > 0 && out != in) std::memmove(out, in, bytes);
    return Status::Ok();
  }
  const size_t total = bytes * static_cast<size_t>(size);
  if (channel_->rank() != 0) {
    SJ_RETURN_IF_ERROR(channel_->SendTo(0, in, bytes));
    return channel_->RecvFrom(0, out, total);
  }
  std::memmove(out, in, bytes);
  for (int r = 1; r < size; ++r) {
    SJ_RETURN_IF_ERROR(channel_->RecvFrom(r, out + static_cast<int64_t>(r) * n, bytes));
  }
  for (int r = 1; r < size; ++r) SJ_RETURN_IF_ERROR(channel_->SendTo(r, out, total));
  return Status::Ok();
}

}  // namespace skipjoin::worker
