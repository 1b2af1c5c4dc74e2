// Greedy picks on the device: per logits row, the first index of its maximum
// and that token's log-softmax value, so a greedy decode step brings back
// 8 bytes a row instead of the whole vocabulary.
#include <cuda_runtime.h>

#include <cmath>
#include <string>

#include "kernels/cuda/cuda_check.h"
#include "kernels/cuda/ops.h"

namespace skipjoin::kernels::cuda {
namespace {

// A row is cut into up to kMaxSplits slices of >= 8 values a thread, so one
// row alone (a batch-1 decode) still spreads over many multiprocessors.
constexpr int kPartialThreads = 256;
constexpr int32_t kMaxSplits = 64;
constexpr int32_t kNoIndex = 0x7fffffff;

// Running (max, first index of max, sum of exp(x - max)) over a set of logits.
struct Pick {
  float max;
  int32_t index;
  float sum;
};

__device__ __forceinline__ Pick Merge(Pick a, Pick b) {
  if (b.max > a.max || (b.max == a.max && b.index < a.index)) {
    const Pick t = a;
    a = b;
    b = t;
  }
  // a now holds the larger maximum (or the earlier index of an equal one).
  if (b.sum > 0.f) a.sum += b.sum * expf(b.max - a.max);
  return a;
}

__device__ __forceinline__ Pick WarpMerge(Pick p) {
#pragma unroll
  for (int o = 16; o > 0; o >>= 1) {
    Pick q;
    q.max = __shfl_xor_sync(0xffffffffu, p.max, o);
    q.index = __shfl_xor_sync(0xffffffffu, p.index, o);
    q.sum = __shfl_xor_sync(0xffffffffu, p.sum, o);
    p = Merge(p, q);
  }
  return p;
}

// Pass 1: block (split, row) reduces its slice of the row to one Pick.
__global__ void GreedyPartialKernel(const float* __restrict__ logits, int64_t n, int64_t per_split,
                                    Pick* __restrict__ partial) {
  const int64_t row = blockIdx.y;
  const int64_t begin = static_cast<int64_t>(blockIdx.x) * per_split;
  const int64_t end = begin + per_split < n ? begin + per_split : n;
  const float* x = logits + row * n;
  Pick p{-INFINITY, kNoIndex, 0.f};
#pragma unroll 4
  for (int64_t i = begin + threadIdx.x; i < end; i += blockDim.x) {
    const float v = x[i];
    if (v > p.max) {  // NaN never wins, as on the host
      p.sum = p.sum * expf(p.max - v) + 1.f;
      p.max = v;
      p.index = static_cast<int32_t>(i);
    } else if (v > -INFINITY) {
      p.sum += expf(v - p.max);
    }
  }
  p = WarpMerge(p);
  __shared__ Pick warp_pick[kPartialThreads / 32];
  const int lane = threadIdx.x & 31, warp = threadIdx.x >> 5;
  if (lane == 0) warp_pick[warp] = p;
  __syncthreads();
  if (warp == 0) {
    p = lane < static_cast<int>(blockDim.x >> 5) ? warp_pick[lane] : Pick{-INFINITY, kNoIndex, 0.f};
    p = WarpMerge(p);
    if (lane == 0) partial[row * gridDim.x + blockIdx.x] = p;
  }
}

// Pass 2: one warp per row merges the row's splits.
__global__ void GreedyMergeKernel(const Pick* __restrict__ partial, int32_t splits,
                                  int32_t* __restrict__ tokens, float* __restrict__ logprobs) {
  const int64_t row = blockIdx.x;
  Pick p{-INFINITY, kNoIndex, 0.f};
  for (int32_t j = threadIdx.x; j < splits; j += 32) p = Merge(p, partial[row * splits + j]);
  p = WarpMerge(p);
  if (threadIdx.x == 0) {
    // Every logit -inf (or NaN): token 0, as the host's argmax.
    const bool none = p.index == kNoIndex;
    tokens[row] = none ? 0 : p.index;
    logprobs[row] = none ? NAN : -logf(p.sum);
  }
}

int32_t GreedySplits(int64_t n) {
  const int64_t want = (n + kPartialThreads * 8 - 1) / (kPartialThreads * 8);
  return static_cast<int32_t>(want < 1 ? 1 : (want > kMaxSplits ? kMaxSplits : want));
}

}  // namespace

int64_t GreedyRowsScratchBytes(int64_t rows, int64_t n) {
  return rows * GreedySplits(n) * static_cast<int64_t>(sizeof(Pick));
}

Status GreedyRows(cudaStream_t stream, const float* logits, int64_t rows, int64_t n, void* scratch,
                  int32_t* tokens, float* logprobs) {
  if (rows <= 0) return Status::Ok();
  if (n <= 0 || n > 2147483647 || rows > 65535)
    return InvalidArgument("GreedyRows: bad shape " + std::to_string(rows) + " x " +
                           std::to_string(n) + " (at most 65535 rows)");
  const int32_t splits = GreedySplits(n);
  const int64_t per_split = (n + splits - 1) / splits;
  Pick* partial = static_cast<Pick*>(scratch);
  GreedyPartialKernel<<<dim3(static_cast<unsigned>(splits), static_cast<unsigned>(rows)),
                        kPartialThreads, 0, stream>>>(logits, n, per_split, partial);
  SJ_CUDA_RETURN_IF_LAUNCH_FAILED();
  GreedyMergeKernel<<<static_cast<unsigned>(rows), 32, 0, stream>>>(partial, splits, tokens,
                                                                    logprobs);
  SJ_CUDA_RETURN_IF_LAUNCH_FAILED();
  return Status::Ok();
}

}  // namespace skipjoin::kernels::cuda
