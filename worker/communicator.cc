#include "worker/communicator.h"

#include <barrier>
#include <cstring>

namespace skipjoin {
namespace {

class SoloCommunicator final : public Communicator {
 public:
  int rank() const override { return 0; }
  int size() const override { return 1; }
  Status AllReduceSum(float*, int64_t) override { return Status::Ok(); }
  Status AllGather(const float* in, int64_t n, float* out) override {
    if (in != out) std::memmove(out, in, sizeof(float) * n);
    return Status::Ok();
  }
};

}  // namespace

struct LocalCommGroup::Shared {
  explicit Shared(int n) : size(n), barrier(n), posted(n, nullptr) {}
  int size;
  std::barrier<> barrier;
  // Rank r's buffer for the collective in progress; written by rank r before
  // the first barrier, read by all between the first and second.
  std::vector<const float*> posted;
};

namespace {

class LocalCommunicator final : public Communicator {
 public:
  LocalCommunicator(LocalCommGroup::Shared* shared, int rank) : shared_(shared), rank_(rank) {}
  int rank() const override { return rank_; }
  int size() const override { return shared_->size; }

  Status AllReduceSum(float* data, int64_t n) override {
    shared_->posted[rank_] = data;
    shared_->barrier.arrive_and_wait();
    tmp_.assign(n, 0.f);
    // Same summation order on every rank, so results are bit-identical.
    for (int r = 0; r < shared_->size; ++r) {
      const float* src = shared_->posted[r];
      for (int64_t i = 0; i < n; ++i) tmp_[i] += src[i];
    }
    shared_->barrier.arrive_and_wait();  // all reads done before anyone writes
    std::memcpy(data, tmp_.data(), sizeof(float) * n);
    return Status::Ok();
  }

  Status AllGather(const float* in, int64_t n, float* out) override {
    shared_->posted[rank_] = in;
    shared_->barrier.arrive_and_wait();
    for (int r = 0; r < shared_->size; ++r) {
      std::memcpy(out + int64_t{r} * n, shared_->posted[r], sizeof(float) * n);
    }
    shared_->barrier.arrive_and_wait();
    return Status::Ok();
  }

 private:
  LocalCommGroup::Shared* shared_;
  int rank_;
  std::vector<float> tmp_;
};

}  // namespace

std::unique_ptr<Communicator> MakeSoloCommunicator() { return std::make_unique<SoloCommunicator>(); }

LocalCommGroup::LocalCommGroup(int size) : shared_(std::make_unique<Shared>(size)) {}
LocalCommGroup::~LocalCommGroup() = default;
std::unique_ptr<Communicator> LocalCommGroup::Rank(int rank) {
  return std::make_unique<LocalCommunicator>(shared_.get(), rank);
}

}  // namespace skipjoin
