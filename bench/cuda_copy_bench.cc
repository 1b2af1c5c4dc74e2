// cuda_copy_bench: the copy bandwidths the GPU numbers are judged against.
// Prints one JSON object per line:
//   {"copy":"d2d", ...}       cudaMemcpyAsync device -> device of --mib MiB;
//                             gb_s counts bytes copied, rw_gb_s bytes read +
//                             written (the HBM traffic, the roofline's peak)
//   {"copy":"h2d_pinned"|"d2h_pinned"|"h2d_pageable"|"d2h_pageable", ...}
//   {"copy":"swap_out"|"swap_in", "pattern":"contiguous"|"scattered", ...}
//                             Backend::CopyBlocksToHost / ToDevice between a
//                             device pool and a pinned host pool (AllocHost) of
//                             --block-kib blocks, as the engine swaps one layer's
//                             K or V pool; scattered ids defeat run merging, so
//                             every block is its own copy
// Each figure is the best of --repeat timed runs after one warm-up.
// Exit status 1 with the CUDA error when there is no device.
#include <cuda_runtime_api.h>

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <cstring>
#include <numeric>
#include <random>
#include <string>
#include <vector>

#include "common/flags.h"
#include "kernels/cuda/cuda_backend.h"

using namespace skipjoin;

namespace {

#define BENCH_CUDA(expr)                                                                       \
  do {                                                                                         \
    const cudaError_t e_ = (expr);                                                             \
    if (e_ != cudaSuccess) {                                                                   \
      std::fprintf(stderr, "cuda_copy_bench: %s: %s (%s)\n", #expr, cudaGetErrorName(e_),     \
                   cudaGetErrorString(e_));                                                    \
      return 1;                                                                                \
    }                                                                                          \
  } while (0)

void Print(const char* copy, const char* extra, double bytes, double seconds, bool rw = false) {
  std::printf("{\"copy\":\"%s\"%s,\"bytes\":%.0f,\"seconds\":%.6f,\"gb_s\":%.2f", copy, extra, bytes, seconds,
              bytes / seconds / 1e9);
  if (rw) std::printf(",\"rw_gb_s\":%.2f", 2 * bytes / seconds / 1e9);
  std::printf("}\n");
  std::fflush(stdout);
}

}  // namespace

int main(int argc, char** argv) {
  int64_t device = 0, mib = 1024, repeat = 5, block_kib = 16, swap_mib = 512;
  FlagSet flags("usage: cuda_copy_bench [--device N] [--mib 1024] [--block-kib 16] [--swap-mib 512]");
  flags.Int("device", &device, "CUDA device ordinal");
  flags.Int("mib", &mib, "bytes per plain copy, MiB");
  flags.Int("repeat", &repeat, "timed runs; the best is reported");
  flags.Int("block-kib", &block_kib, "KV block size of the swap test, KiB (16: a 1B-shaped layer pool block)");
  flags.Int("swap-mib", &swap_mib, "bytes moved per swap test, MiB");
  std::vector<std::string> args(argv + 1, argv + argc);
  if (Status st = flags.Parse(args); !st.ok() || flags.help_requested()) {
    std::fprintf(stderr, "%s%s\n", st.ok() ? "" : (st.message() + "\n").c_str(), flags.Help().c_str());
    return st.ok() ? 0 : 2;
  }
  auto count = kernels::CudaDeviceCount();
  if (!count.ok()) {
    std::fprintf(stderr, "cuda_copy_bench: %s\n", count.status().ToString().c_str());
    return 1;
  }
  if (device < 0 || device >= *count) {
    std::fprintf(stderr, "cuda_copy_bench: device %lld does not exist (%d visible)\n",
                 static_cast<long long>(device), *count);
    return 1;
  }
  BENCH_CUDA(cudaSetDevice(static_cast<int>(device)));
  cudaDeviceProp prop{};
  BENCH_CUDA(cudaGetDeviceProperties(&prop, static_cast<int>(device)));
  std::printf("{\"device\":\"%s\",\"total_mib\":%zu}\n", prop.name, prop.totalGlobalMem >> 20);

  const size_t bytes = static_cast<size_t>(mib) << 20;
  void *a = nullptr, *b = nullptr, *pinned = nullptr;
  BENCH_CUDA(cudaMalloc(&a, bytes));
  BENCH_CUDA(cudaMalloc(&b, bytes));
  BENCH_CUDA(cudaHostAlloc(&pinned, bytes, cudaHostAllocDefault));
  std::vector<char> pageable(bytes, 1);
  std::memset(pinned, 1, bytes);
  BENCH_CUDA(cudaMemset(a, 1, bytes));
  cudaStream_t stream;
  cudaEvent_t start, stop;
  BENCH_CUDA(cudaStreamCreateWithFlags(&stream, cudaStreamNonBlocking));
  BENCH_CUDA(cudaEventCreate(&start));
  BENCH_CUDA(cudaEventCreate(&stop));

  struct Case {
    const char* name;
    void* dst;
    const void* src;
    cudaMemcpyKind kind;
  };
  const Case cases[] = {
      {"d2d", b, a, cudaMemcpyDeviceToDevice},
      {"h2d_pinned", a, pinned, cudaMemcpyHostToDevice},
      {"d2h_pinned", pinned, a, cudaMemcpyDeviceToHost},
      {"h2d_pageable", a, pageable.data(), cudaMemcpyHostToDevice},
      {"d2h_pageable", pageable.data(), a, cudaMemcpyDeviceToHost},
  };
  for (const Case& c : cases) {
    float best_ms = 1e30f;
    for (int64_t r = 0; r <= repeat; ++r) {
      BENCH_CUDA(cudaEventRecord(start, stream));
      BENCH_CUDA(cudaMemcpyAsync(c.dst, c.src, bytes, c.kind, stream));
      BENCH_CUDA(cudaEventRecord(stop, stream));
      BENCH_CUDA(cudaEventSynchronize(stop));
      float ms = 0;
      BENCH_CUDA(cudaEventElapsedTime(&ms, start, stop));
      if (r > 0) best_ms = std::min(best_ms, ms);  // run 0 warms up
    }
    Print(c.name, "", static_cast<double>(bytes), best_ms / 1e3, c.kind == cudaMemcpyDeviceToDevice);
  }
  BENCH_CUDA(cudaFree(a));
  BENCH_CUDA(cudaFree(b));
  BENCH_CUDA(cudaFreeHost(pinned));
  pageable.clear();
  pageable.shrink_to_fit();

  // Swaps through the backend, as the engine issues them for one pool.
  auto backend = kernels::MakeCudaBackend(static_cast<int>(device));
  if (!backend.ok()) {
    std::fprintf(stderr, "cuda_copy_bench: %s\n", backend.status().ToString().c_str());
    return 1;
  }
  kernels::Backend& be = **backend;
  const int64_t block_bytes = block_kib << 10;
  const int64_t block_elems = block_bytes / 2;  // bf16 elements
  const int32_t n = static_cast<int32_t>(std::max<int64_t>(1, (swap_mib << 20) / block_bytes));
  auto dev_pool = be.Alloc(static_cast<size_t>(n) * block_bytes);
  auto host_pool = be.AllocHost(static_cast<size_t>(n) * block_bytes);
  if (!dev_pool.ok() || !host_pool.ok()) {
    std::fprintf(stderr, "cuda_copy_bench: %s\n",
                 (!dev_pool.ok() ? dev_pool.status() : host_pool.status()).ToString().c_str());
    return 1;
  }
  std::vector<int32_t> ids(n), shuffled(n);
  std::iota(ids.begin(), ids.end(), 0);
  shuffled = ids;
  std::shuffle(shuffled.begin(), shuffled.end(), std::mt19937(7));
  char extra[128];
  for (const bool scattered : {false, true}) {
    const std::vector<int32_t>& dev_ids = scattered ? shuffled : ids;
    for (const bool out : {true, false}) {
      double best = 1e30;
      for (int64_t r = 0; r <= repeat; ++r) {
        if (!be.Synchronize().ok()) return 1;
        const auto t0 = std::chrono::steady_clock::now();
        Status st = out ? be.CopyBlocksToHost(*dev_pool, n, *host_pool, n, dev_ids.data(), ids.data(), n, block_elems)
                        : be.CopyBlocksToDevice(*host_pool, n, *dev_pool, n, ids.data(), dev_ids.data(), n, block_elems);
        if (st.ok()) st = be.Synchronize();
        if (!st.ok()) {
          std::fprintf(stderr, "cuda_copy_bench: swap: %s\n", st.ToString().c_str());
          return 1;
        }
        const double s = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
        if (r > 0) best = std::min(best, s);
      }
      std::snprintf(extra, sizeof(extra), ",\"pattern\":\"%s\",\"blocks\":%d,\"block_bytes\":%lld",
                    scattered ? "scattered" : "contiguous", n, static_cast<long long>(block_bytes));
      Print(out ? "swap_out" : "swap_in", extra, static_cast<double>(n) * block_bytes, best);
    }
  }
  be.Free(*dev_pool);
  be.FreeHost(*host_pool);
  return 0;
}
