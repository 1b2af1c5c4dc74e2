// The NCCL communicator on real devices: one rank (any GPU) all-reduces and
// all-gathers in place on its stream; two ranks on two GPUs (threads of this
// process, each with its own device and stream) sum each other's values.
// Bad options are refused before NCCL is touched. Skips without a device.
#include <cuda_runtime_api.h>
#include <gtest/gtest.h>

#include <thread>
#include <vector>

#include "kernels/cuda/nccl_communicator.h"

namespace skipjoin::kernels::cuda {
namespace {

int VisibleDevices() {
  int n = 0;
  if (cudaGetDeviceCount(&n) != cudaSuccess) {
    cudaGetLastError();
    return 0;
  }
  return n;
}

// Runs rank `rank` of `size`: all-reduce of (rank + 1) * i, all-gather of
// 100 * rank + i, on device `rank` and a stream of its own; checks the result.
void RunRank(int rank, int size, const std::string& id, int64_t n) {
  ASSERT_EQ(cudaSetDevice(rank), cudaSuccess);
  cudaStream_t stream = nullptr;
  ASSERT_EQ(cudaStreamCreate(&stream), cudaSuccess);
  NcclCommOptions o;
  o.rank = rank;
  o.size = size;
  o.device = rank;
  o.unique_id = id;
  o.stream = stream;
  auto comm = CreateNcclCommunicator(o);
  ASSERT_TRUE(comm.ok()) << comm.status().ToString();
  EXPECT_EQ((*comm)->rank(), rank);
  EXPECT_EQ((*comm)->size(), size);
  std::vector<float> host(n);
  for (int64_t i = 0; i < n; ++i) host[i] = static_cast<float>((rank + 1) * (i % 1000));
  float* data = nullptr;
  float* gathered = nullptr;
  ASSERT_EQ(cudaMalloc(reinterpret_cast<void**>(&data), n * sizeof(float)), cudaSuccess);
  ASSERT_EQ(cudaMalloc(reinterpret_cast<void**>(&gathered), n * size * sizeof(float)), cudaSuccess);
  ASSERT_EQ(cudaMemcpy(data, host.data(), n * sizeof(float), cudaMemcpyHostToDevice), cudaSuccess);
  ASSERT_TRUE((*comm)->AllReduceSum(data, n).ok());
  ASSERT_TRUE((*comm)->AllGather(data, n, gathered).ok());
  ASSERT_EQ(cudaStreamSynchronize(stream), cudaSuccess);
  std::vector<float> sum(n), all(n * size);
  ASSERT_EQ(cudaMemcpy(sum.data(), data, n * sizeof(float), cudaMemcpyDeviceToHost), cudaSuccess);
  ASSERT_EQ(cudaMemcpy(all.data(), gathered, n * size * sizeof(float), cudaMemcpyDeviceToHost),
            cudaSuccess);
  const float ranks_sum = static_cast<float>(size * (size + 1) / 2);
  for (int64_t i = 0; i < n; i += 97) {
    ASSERT_EQ(sum[i], ranks_sum * static_cast<float>(i % 1000)) << "element " << i;
    for (int r = 0; r < size; ++r) ASSERT_EQ(all[r * n + i], sum[i]) << "rank " << r << " block";
  }
  comm->reset();
  cudaFree(data);
  cudaFree(gathered);
  cudaStreamDestroy(stream);
}

TEST(NcclTest, OneRankSelfCheck) {
  if (VisibleDevices() < 1) GTEST_SKIP() << "no CUDA device";
  std::printf("NCCL %s\n", NcclVersion().c_str());
  auto id = NewNcclUniqueId();
  ASSERT_TRUE(id.ok()) << id.status().ToString();
  RunRank(0, 1, *id, 576 * 8);
}

TEST(NcclTest, TwoRanksOnTwoDevices) {
  if (VisibleDevices() < 2) GTEST_SKIP() << "needs two CUDA devices";
  auto id = NewNcclUniqueId();
  ASSERT_TRUE(id.ok()) << id.status().ToString();
  std::thread a([&] { RunRank(0, 2, *id, 576 * 512); });
  std::thread b([&] { RunRank(1, 2, *id, 576 * 512); });
  a.join();
  b.join();
}

TEST(NcclTest, RejectsBadOptionsBeforeTouchingNccl) {
  NcclCommOptions o;
  o.unique_id = "short";
  auto comm = CreateNcclCommunicator(o);
  ASSERT_FALSE(comm.ok());
  EXPECT_EQ(comm.status().code(), StatusCode::kInvalidArgument);
  EXPECT_NE(comm.status().message().find("unique id has 5 bytes"), std::string::npos);
  o.unique_id = std::string(kNcclUniqueIdBytes, '\0');
  o.rank = 2;
  o.size = 2;
  EXPECT_EQ(CreateNcclCommunicator(o).status().code(), StatusCode::kInvalidArgument);
}

}  // namespace
}  // namespace skipjoin::kernels::cuda
