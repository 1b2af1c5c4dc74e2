// Backend: the backend-neutral op API the model is written against. The CPU
// backend (kernels/cpu) runs every op on host threads in float32; the CUDA
// backend (kernels/cuda) runs the same ops on a device stream. Activation and
// weight buffers are opaque `void*` in the backend's memory, holding act_dtype()
// elements; index arrays (token ids, positions, slots, AttentionBatch) are always
// host pointers that the backend copies where it needs them.
//
// Thread-safety: a Backend belongs to the one thread that drives its device
// (the worker's Executor); ops run in call order.
#pragma once

#include <cstddef>
#include <cstdint>
#include <functional>
#include <memory>
#include <string>

#include "common/status.h"
#include "kernels/paged_kv.h"
#include "kernels/weight.h"

namespace skipjoin::kernels {

enum class DType { kF32, kF16, kBF16 };

// Memory of the device a backend runs on, bytes.
struct DeviceMemory {
  int64_t free_bytes = 0;
  int64_t total_bytes = 0;
};
const char* DTypeName(DType t);
size_t DTypeSize(DType t);

class Backend {
 public:
  virtual ~Backend() = default;

  virtual std::string name() const = 0;  // "cpu", "cuda:0"
  virtual DType act_dtype() const = 0;

  // Buffers in the backend's memory; contents undefined after Alloc.
  virtual Result<void*> Alloc(size_t bytes) = 0;
  virtual void Free(void* p) = 0;
  // Host memory for the KV swap pool (pinned where that speeds copies).
  virtual Result<void*> AllocHost(size_t bytes) = 0;
  virtual void FreeHost(void* p) = 0;
  // Raw bytes host -> backend memory (index tables, float32 rotary tables).
  virtual Status Upload(void* dst, const void* src, size_t bytes) = 0;
  // n float32 values from host into act_dtype elements, and back.
  virtual Status UploadF32(void* dst, const float* src, int64_t n) = 0;
  virtual Status DownloadF32(float* dst, const void* src, int64_t n) = 0;
  // Waits for all queued work.
  virtual Status Synchronize() = 0;
  // Free and total memory of the device now (what KV pools are sized from).
  // Unimplemented for backends without a memory of their own (the CPU).
  virtual Result<DeviceMemory> MemoryInfo() {
    return Unimplemented(name() + ": the backend does not report device memory");
  }

  // The ops; parameters as documented in kernels/cpu/ops.h.
  // Whether Linear and Embedding accept weights stored in this format.
  virtual bool SupportsWeightFormat(WeightFormat f) const = 0;

  virtual Status Embedding(WeightRef table, int64_t vocab, int64_t dim, const int32_t* ids,
                           int64_t n, void* out) = 0;
  virtual Status RmsNorm(const void* x, const void* weight, int64_t rows, int64_t dim, float eps,
                         void* out) = 0;
  virtual Status AddRmsNorm(void* residual, const void* x, const void* weight, int64_t rows,
                            int64_t dim, float eps, void* out) = 0;
  virtual Status Linear(const void* x, WeightRef w, const void* bias, int64_t m, int64_t n,
                        int64_t k, void* out) = 0;
  // Linear without bias whose output is float32 whatever act_dtype() is: the
  // LM head, whose logits the host samples from. out [m, n] float32 in backend
  // memory. The default serves backends whose activations are float32.
  virtual Status LinearLogits(const void* x, WeightRef w, int64_t m, int64_t n, int64_t k, float* out) {
    return Linear(x, w, nullptr, m, n, k, out);
  }
  // inv_freq: a backend buffer of head_dim/2 float32 values (always float32).
  virtual Status Rope(void* q, int64_t q_stride, int32_t num_q_heads, void* k, int64_t k_stride,
                      int32_t num_kv_heads, int32_t head_dim, const int32_t* positions,
                      int64_t tokens, const float* inv_freq, bool neox) = 0;
  virtual Status KvAppend(const void* k, int64_t k_stride, const void* v, int64_t v_stride,
                          const int32_t* slots, int64_t tokens, const KvLayout& layout,
                          void* k_pool, void* v_pool) = 0;
  virtual Status PagedAttention(const void* q, int64_t q_stride, int32_t num_q_heads,
                                const void* k_pool, const void* v_pool, const KvLayout& layout,
                                const AttentionBatch& batch, float scale, void* out) = 0;
  virtual Status SiluMul(const void* gate_up, int64_t rows, int64_t ffn, void* out) = 0;
  virtual Status GatherRows(const void* x, int64_t x_rows, int64_t dim, const int32_t* rows,
                            int64_t n, void* out) = 0;
  // Swap copies between a backend pool and a host pool of the same layout.
  virtual Status CopyBlocksToHost(const void* dev_pool, int32_t dev_blocks, void* host_pool,
                                  int32_t host_blocks, const int32_t* dev_ids,
                                  const int32_t* host_ids, int64_t n, int64_t block_elems) = 0;
  virtual Status CopyBlocksToDevice(const void* host_pool, int32_t host_blocks, void* dev_pool,
                                    int32_t dev_blocks, const int32_t* host_ids,
                                    const int32_t* dev_ids, int64_t n, int64_t block_elems) = 0;
  // float32 logits [rows, n] in backend memory -> host.
  virtual Status DownloadLogits(float* host, const void* logits, int64_t n) { return DownloadF32(host, logits, n); }
  // Whether GreedyRows picks greedy tokens where the logits are. False where
  // the caller samples on the host anyway (the CPU backend, whose logits
  // already are host memory).
  virtual bool SupportsGreedyRows() const { return false; }
  // Greedy picks from float32 logits [rows, n] in backend memory, for rows
  // that need nothing else: tokens[r] = the first index of row r's maximum,
  // logprobs[r] = that token's log-softmax value (host arrays). Only where
  // SupportsGreedyRows().
  virtual Status GreedyRows(const float* logits, int64_t rows, int64_t n, int32_t* tokens,
                            float* logprobs) {
    return FailedPrecondition(name() + ": GreedyRows without SupportsGreedyRows");
  }
  // Host work between kernels (sampling every row of a step): fn(begin, end)
  // over disjoint chunks covering [0, n), on the threads this backend computes
  // with when they are host threads (the CPU pool), else inline on the caller.
  virtual void HostParallelFor(int64_t n, const std::function<void(int64_t, int64_t)>& fn) {
    if (n > 0) fn(0, n);
  }
};

// num_threads <= 0: all hardware threads.
std::unique_ptr<Backend> MakeCpuBackend(int num_threads);

}  // namespace skipjoin::kernels
