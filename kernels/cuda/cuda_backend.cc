// CudaBackend: the Backend of kernels/backend.h on one CUDA device. bf16
// activations, float32 accumulation; dense Linear through cuBLAS (bf16 in,
// fp32 compute), quantized Linear through the kernels of quant_linear.cu.
// Host index arrays are validated here (the same checks and messages as the
// CPU twins) and staged to the device through pinned buffers.
#include "kernels/cuda/cuda_backend.h"

#include <cublas_v2.h>
#include <cuda_runtime.h>  // the typed cudaMalloc / cudaHostAlloc overloads

#include <algorithm>
#include <array>
#include <cstring>
#include <memory>
#include <string>
#include <thread>
#include <vector>

#include "kernels/cpu/thread_pool.h"
#include "kernels/cuda/cuda_check.h"
#include "kernels/cuda/ops.h"

namespace skipjoin::kernels {
namespace {

using cuda::bf16;

// Round-to-nearest-even float32 -> bfloat16 bits; NaN stays NaN.
uint16_t FloatToBf16Bits(float f) {
  uint32_t u;
  std::memcpy(&u, &f, 4);
  if ((u & 0x7fffffffu) > 0x7f800000u) return static_cast<uint16_t>((u >> 16) | 0x40);
  u += 0x7fffu + ((u >> 16) & 1u);
  return static_cast<uint16_t>(u >> 16);
}

float Bf16BitsToFloat(uint16_t h) {
  const uint32_t u = uint32_t{h} << 16;
  float f;
  std::memcpy(&f, &u, 4);
  return f;
}

// Index tables a step sends; each has its own staging slot so a table that
// does not change between layers (positions, slots, the attention batch) is
// copied once per step.
enum class IndexKind : int { kIds, kPositions, kSlots, kAttention, kRows, kCount };

constexpr int64_t kDequantTileElems = int64_t{16} << 20;  // bf16 tile for quantized GEMMs: 32 MiB

class CudaBackend final : public Backend {
 public:
  explicit CudaBackend(int device) : device_(device) {}

  ~CudaBackend() override {
    cudaSetDevice(device_);
    if (stream_ != nullptr) cudaStreamSynchronize(stream_);
    if (copy_stream_ != nullptr) cudaStreamSynchronize(copy_stream_);
    for (Staging& s : staging_) {
      if (s.event != nullptr) cudaEventDestroy(s.event);
      cudaFreeHost(s.pinned);
      cudaFree(s.device);
    }
    cudaFree(attn_scratch_);
    cudaFree(dequant_tile_);
    cudaFree(greedy_dev_);
    cudaFreeHost(greedy_host_);
    cudaFree(greedy_scratch_);
    if (cublas_ != nullptr) cublasDestroy(cublas_);
    if (compute_done_ != nullptr) cudaEventDestroy(compute_done_);
    if (copies_done_ != nullptr) cudaEventDestroy(copies_done_);
    if (copy_stream_ != nullptr) cudaStreamDestroy(copy_stream_);
    if (stream_ != nullptr) cudaStreamDestroy(stream_);
  }

  Status Init() {
    SJ_CUDA_RETURN_IF_ERROR(cudaSetDevice(device_));
    SJ_CUDA_RETURN_IF_ERROR(
        cudaDeviceGetAttribute(&num_sms_, cudaDevAttrMultiProcessorCount, device_));
    SJ_CUDA_RETURN_IF_ERROR(cudaStreamCreateWithFlags(&stream_, cudaStreamNonBlocking));
    SJ_CUDA_RETURN_IF_ERROR(cudaStreamCreateWithFlags(&copy_stream_, cudaStreamNonBlocking));
    SJ_CUDA_RETURN_IF_ERROR(cudaEventCreateWithFlags(&compute_done_, cudaEventDisableTiming));
    SJ_CUDA_RETURN_IF_ERROR(cudaEventCreateWithFlags(&copies_done_, cudaEventDisableTiming));
    for (Staging& s : staging_)
      SJ_CUDA_RETURN_IF_ERROR(cudaEventCreateWithFlags(&s.event, cudaEventDisableTiming));
    SJ_CUBLAS_RETURN_IF_ERROR(cublasCreate(&cublas_));
    SJ_CUBLAS_RETURN_IF_ERROR(cublasSetStream(cublas_, stream_));
    return Status::Ok();
  }

  std::string name() const override { return "cuda:" + std::to_string(device_); }
  DType act_dtype() const override { return DType::kBF16; }

  Result<DeviceMemory> MemoryInfo() override {
    SJ_CUDA_RETURN_IF_ERROR(cudaSetDevice(device_));
    size_t free_bytes = 0, total_bytes = 0;
    SJ_CUDA_RETURN_IF_ERROR(cudaMemGetInfo(&free_bytes, &total_bytes));
    return DeviceMemory{static_cast<int64_t>(free_bytes), static_cast<int64_t>(total_bytes)};
  }

  Result<void*> Alloc(size_t bytes) override {
    SJ_CUDA_RETURN_IF_ERROR(cudaSetDevice(device_));
    void* p = nullptr;
    const cudaError_t e = cudaMalloc(&p, std::max<size_t>(bytes, 1));
    if (e != cudaSuccess) {
      cudaGetLastError();  // clear the (non-sticky) allocation error
      return ResourceExhausted(name() + ": cannot allocate " + std::to_string(bytes) +
                               " bytes of device memory (" + cudaGetErrorString(e) + ")");
    }
    return p;
  }
  void Free(void* p) override {
    if (p == nullptr) return;
    cudaSetDevice(device_);
    cudaFree(p);  // synchronizes the device: in-flight work on p finishes first
  }
  Result<void*> AllocHost(size_t bytes) override {
    SJ_CUDA_RETURN_IF_ERROR(cudaSetDevice(device_));
    void* p = nullptr;
    const cudaError_t e = cudaHostAlloc(&p, std::max<size_t>(bytes, 1), cudaHostAllocDefault);
    if (e != cudaSuccess) {
      cudaGetLastError();
      return ResourceExhausted(name() + ": cannot allocate " + std::to_string(bytes) +
                               " bytes of pinned host memory (" + cudaGetErrorString(e) + ")");
    }
    return p;
  }
  void FreeHost(void* p) override {
    if (p == nullptr) return;
    cudaSetDevice(device_);
    cudaFreeHost(p);
  }
  Status Upload(void* dst, const void* src, size_t bytes) override {
    SJ_CUDA_RETURN_IF_ERROR(cudaSetDevice(device_));
    SJ_CUDA_RETURN_IF_ERROR(cudaMemcpyAsync(dst, src, bytes, cudaMemcpyHostToDevice, stream_));
    SJ_CUDA_RETURN_IF_ERROR(cudaStreamSynchronize(stream_));
    return Status::Ok();
  }
  Status UploadF32(void* dst, const float* src, int64_t n) override {
    SJ_CUDA_RETURN_IF_ERROR(cudaSetDevice(device_));
    constexpr int64_t kChunk = int64_t{1} << 20;
    std::vector<uint16_t> tmp(static_cast<size_t>(std::min(n, kChunk)));
    for (int64_t i0 = 0; i0 < n; i0 += kChunk) {
      const int64_t c = std::min(kChunk, n - i0);
      for (int64_t i = 0; i < c; ++i) tmp[i] = FloatToBf16Bits(src[i0 + i]);
      SJ_CUDA_RETURN_IF_ERROR(cudaMemcpyAsync(static_cast<uint16_t*>(dst) + i0, tmp.data(), c * 2,
                                              cudaMemcpyHostToDevice, stream_));
      SJ_CUDA_RETURN_IF_ERROR(cudaStreamSynchronize(stream_));  // tmp is reused
    }
    return Status::Ok();
  }
  Status DownloadF32(float* dst, const void* src, int64_t n) override {
    SJ_CUDA_RETURN_IF_ERROR(cudaSetDevice(device_));
    std::vector<uint16_t> tmp(static_cast<size_t>(std::max<int64_t>(n, 0)));
    SJ_CUDA_RETURN_IF_ERROR(
        cudaMemcpyAsync(tmp.data(), src, n * 2, cudaMemcpyDeviceToHost, stream_));
    SJ_CUDA_RETURN_IF_ERROR(cudaStreamSynchronize(stream_));
    for (int64_t i = 0; i < n; ++i) dst[i] = Bf16BitsToFloat(tmp[i]);
    return Status::Ok();
  }
  Status DownloadLogits(float* host, const void* logits, int64_t n) override {
    SJ_CUDA_RETURN_IF_ERROR(cudaSetDevice(device_));
    SJ_CUDA_RETURN_IF_ERROR(
        cudaMemcpyAsync(host, logits, n * sizeof(float), cudaMemcpyDeviceToHost, stream_));
    SJ_CUDA_RETURN_IF_ERROR(cudaStreamSynchronize(stream_));
    return Status::Ok();
  }
  bool SupportsGreedyRows() const override { return true; }
  Status GreedyRows(const float* logits, int64_t rows, int64_t n, int32_t* tokens,
                    float* logprobs) override {
    if (rows <= 0) return Status::Ok();
    SJ_CUDA_RETURN_IF_ERROR(cudaSetDevice(device_));
    if (rows > greedy_rows_) {
      SJ_CUDA_RETURN_IF_ERROR(cudaStreamSynchronize(stream_));
      cudaFree(greedy_dev_);
      cudaFreeHost(greedy_host_);
      greedy_dev_ = nullptr;
      greedy_host_ = nullptr;
      greedy_rows_ = 0;
      const int64_t cap = std::max<int64_t>(rows, 256);
      SJ_CUDA_RETURN_IF_ERROR(cudaMalloc(&greedy_dev_, cap * 8));
      SJ_CUDA_RETURN_IF_ERROR(cudaHostAlloc(&greedy_host_, cap * 8, cudaHostAllocDefault));
      greedy_rows_ = cap;
    }
    // One buffer: tokens [rows] then logprobs [rows], brought back in one copy.
    int32_t* dev_tokens = static_cast<int32_t*>(greedy_dev_);
    float* dev_logprobs = reinterpret_cast<float*>(dev_tokens + rows);
    constexpr int64_t kRowsPerLaunch = 65535;  // the grid's y limit
    const int64_t chunk = std::min(rows, kRowsPerLaunch);
    const int64_t scratch = cuda::GreedyRowsScratchBytes(chunk, n);
    if (scratch > greedy_scratch_bytes_) {
      SJ_CUDA_RETURN_IF_ERROR(cudaStreamSynchronize(stream_));
      cudaFree(greedy_scratch_);
      greedy_scratch_ = nullptr;
      greedy_scratch_bytes_ = 0;
      SJ_CUDA_RETURN_IF_ERROR(cudaMalloc(&greedy_scratch_, scratch));
      greedy_scratch_bytes_ = scratch;
    }
    for (int64_t r0 = 0; r0 < rows; r0 += chunk) {
      const int64_t c = std::min(chunk, rows - r0);
      SJ_RETURN_IF_ERROR(cuda::GreedyRows(stream_, logits + r0 * n, c, n, greedy_scratch_,
                                          dev_tokens + r0, dev_logprobs + r0));
    }
    SJ_CUDA_RETURN_IF_ERROR(
        cudaMemcpyAsync(greedy_host_, greedy_dev_, rows * 8, cudaMemcpyDeviceToHost, stream_));
    SJ_CUDA_RETURN_IF_ERROR(cudaStreamSynchronize(stream_));
    const int32_t* host_tokens = static_cast<const int32_t*>(greedy_host_);
    std::memcpy(tokens, host_tokens, rows * sizeof(int32_t));
    std::memcpy(logprobs, host_tokens + rows, rows * sizeof(float));
    return Status::Ok();
  }
  // Sampling rows that need the host (temperature, processors, logprobs) is
  // spread over a small pool of host threads, made on first use.
  void HostParallelFor(int64_t n, const std::function<void(int64_t, int64_t)>& fn) override {
    if (n <= 1) {
      if (n == 1) fn(0, 1);
      return;
    }
    if (!host_pool_) {
      const int hw = static_cast<int>(std::thread::hardware_concurrency());
      host_pool_ = std::make_unique<ThreadPool>(std::clamp(hw, 1, 8), /*spin_us=*/50);
    }
    host_pool_->ParallelFor(n, 1, fn);
  }

  Status Synchronize() override {
    SJ_CUDA_RETURN_IF_ERROR(cudaStreamSynchronize(copy_stream_));
    SJ_CUDA_RETURN_IF_ERROR(cudaStreamSynchronize(stream_));
    return Status::Ok();
  }

  bool SupportsWeightFormat(WeightFormat f) const override {
    switch (f) {
      case WeightFormat::kDense:
      case WeightFormat::kQ8_0:
      case WeightFormat::kQ4_0:
      case WeightFormat::kQ4_1:
        return true;
    }
    return false;
  }

  Status Embedding(WeightRef table, int64_t vocab, int64_t dim, const int32_t* ids, int64_t n,
                   void* out) override {
    for (int64_t i = 0; i < n; ++i) {
      if (ids[i] < 0 || ids[i] >= vocab) {
        return InvalidArgument("token id " + std::to_string(ids[i]) + " at position " +
                               std::to_string(i) + " is outside the vocabulary [0, " +
                               std::to_string(vocab) + ")");
      }
    }
    SJ_ASSIGN_OR_RETURN(const int32_t* d_ids, Stage(IndexKind::kIds, ids, n));
    return cuda::Embedding(stream_, table, vocab, dim, d_ids, n, B(out));
  }
  Status RmsNorm(const void* x, const void* w, int64_t rows, int64_t dim, float eps,
                 void* out) override {
    return cuda::RmsNorm(stream_, B(x), B(w), rows, dim, eps, B(out));
  }
  Status AddRmsNorm(void* residual, const void* x, const void* w, int64_t rows, int64_t dim,
                    float eps, void* out) override {
    return cuda::AddRmsNorm(stream_, B(residual), B(x), B(w), rows, dim, eps, B(out));
  }
  Status Linear(const void* x, WeightRef w, const void* bias, int64_t m, int64_t n, int64_t k,
                void* out) override {
    return LinearImpl(x, w, bias, m, n, k, out, /*out_f32=*/false);
  }
  Status LinearLogits(const void* x, WeightRef w, int64_t m, int64_t n, int64_t k,
                      float* out) override {
    return LinearImpl(x, w, nullptr, m, n, k, out, /*out_f32=*/true);
  }
  Status Rope(void* q, int64_t q_stride, int32_t nq, void* k, int64_t k_stride, int32_t nkv,
              int32_t head_dim, const int32_t* positions, int64_t tokens, const float* inv_freq,
              bool neox) override {
    SJ_ASSIGN_OR_RETURN(const int32_t* d_pos, Stage(IndexKind::kPositions, positions, tokens));
    return cuda::Rope(stream_, B(q), q_stride, nq, B(k), k_stride, nkv, head_dim, d_pos, tokens,
                      inv_freq, neox);
  }
  Status KvAppend(const void* k, int64_t k_stride, const void* v, int64_t v_stride,
                  const int32_t* slots, int64_t tokens, const KvLayout& layout, void* k_pool,
                  void* v_pool) override {
    const int64_t num_slots = int64_t{layout.num_blocks} * layout.block_size;
    for (int64_t t = 0; t < tokens; ++t) {
      if (slots[t] >= num_slots) {
        return InvalidArgument("KvAppend: slot " + std::to_string(slots[t]) + " of token " +
                               std::to_string(t) + " is outside the pool of " +
                               std::to_string(num_slots) + " slots");
      }
    }
    SJ_ASSIGN_OR_RETURN(const int32_t* d_slots, Stage(IndexKind::kSlots, slots, tokens));
    return cuda::KvAppend(stream_, B(k), k_stride, B(v), v_stride, d_slots, tokens, layout,
                          B(k_pool), B(v_pool));
  }
  Status PagedAttention(const void* q, int64_t q_stride, int32_t nq, const void* k_pool,
                        const void* v_pool, const KvLayout& layout, const AttentionBatch& batch,
                        float scale, void* out) override;
  Status SiluMul(const void* gate_up, int64_t rows, int64_t ffn, void* out) override {
    return cuda::SiluMul(stream_, B(gate_up), rows, ffn, B(out));
  }
  Status GatherRows(const void* x, int64_t x_rows, int64_t dim, const int32_t* rows, int64_t n,
                    void* out) override {
    for (int64_t i = 0; i < n; ++i) {
      if (rows[i] < 0 || rows[i] >= x_rows) {
        return InvalidArgument("GatherRows: row " + std::to_string(rows[i]) + " outside [0, " +
                               std::to_string(x_rows) + ")");
      }
    }
    SJ_ASSIGN_OR_RETURN(const int32_t* d_rows, Stage(IndexKind::kRows, rows, n));
    return cuda::GatherRows(stream_, B(x), dim, d_rows, n, B(out));
  }
  Status CopyBlocksToHost(const void* dev_pool, int32_t dev_blocks, void* host_pool,
                          int32_t host_blocks, const int32_t* dev_ids, const int32_t* host_ids,
                          int64_t n, int64_t block_elems) override {
    return CopyBlocks(dev_pool, dev_blocks, host_pool, host_blocks, dev_ids, host_ids, n,
                      block_elems, cudaMemcpyDeviceToHost);
  }
  Status CopyBlocksToDevice(const void* host_pool, int32_t host_blocks, void* dev_pool,
                            int32_t dev_blocks, const int32_t* host_ids, const int32_t* dev_ids,
                            int64_t n, int64_t block_elems) override {
    return CopyBlocks(host_pool, host_blocks, dev_pool, dev_blocks, host_ids, dev_ids, n,
                      block_elems, cudaMemcpyHostToDevice);
  }

 private:
  struct Staging {
    int32_t* pinned = nullptr;  // last table sent, kept for the change check
    int32_t* device = nullptr;
    int64_t capacity = 0;         // int32 elements of both buffers
    int64_t count = -1;           // elements of the last table sent; -1: none
    cudaEvent_t event = nullptr;  // recorded after the copy out of `pinned`
  };

  static const bf16* B(const void* p) { return static_cast<const bf16*>(p); }
  static bf16* B(void* p) { return static_cast<bf16*>(p); }

  // Returns a device copy of host[0, n). The copy is queued on the compute
  // stream, so every later op sees it and every earlier op saw the old one.
  Result<const int32_t*> Stage(IndexKind kind, const int32_t* host, int64_t n) {
    Staging& s = staging_[static_cast<int>(kind)];
    if (n <= 0) return static_cast<const int32_t*>(s.device);
    if (s.count == n && std::memcmp(s.pinned, host, n * sizeof(int32_t)) == 0)
      return static_cast<const int32_t*>(s.device);
    SJ_CUDA_RETURN_IF_ERROR(cudaSetDevice(device_));
    // The previous copy out of the pinned buffer must finish before we overwrite it.
    SJ_CUDA_RETURN_IF_ERROR(cudaEventSynchronize(s.event));
    if (n > s.capacity) {
      const int64_t cap = std::max<int64_t>(n, 2 * s.capacity);
      SJ_CUDA_RETURN_IF_ERROR(
          cudaStreamSynchronize(stream_));  // kernels may still read the old device copy
      cudaFreeHost(s.pinned);
      cudaFree(s.device);
      s.pinned = nullptr;
      s.device = nullptr;
      s.capacity = 0;
      s.count = -1;
      SJ_CUDA_RETURN_IF_ERROR(
          cudaHostAlloc(&s.pinned, cap * sizeof(int32_t), cudaHostAllocDefault));
      SJ_CUDA_RETURN_IF_ERROR(cudaMalloc(&s.device, cap * sizeof(int32_t)));
      s.capacity = cap;
    }
    std::memcpy(s.pinned, host, n * sizeof(int32_t));
    s.count = -1;  // until the copy is queued
    SJ_CUDA_RETURN_IF_ERROR(
        cudaMemcpyAsync(s.device, s.pinned, n * sizeof(int32_t), cudaMemcpyHostToDevice, stream_));
    SJ_CUDA_RETURN_IF_ERROR(cudaEventRecord(s.event, stream_));
    s.count = n;
    return static_cast<const int32_t*>(s.device);
  }

  Status LinearImpl(const void* x, WeightRef w, const void* bias, int64_t m, int64_t n, int64_t k,
                    void* out, bool out_f32);
  Status Gemm(const bf16* x, const bf16* w, int64_t m, int64_t n, int64_t k, void* out, int64_t ldc,
              bool out_f32);
  Status CopyBlocks(const void* src_pool, int32_t src_blocks, void* dst_pool, int32_t dst_blocks,
                    const int32_t* src, const int32_t* dst, int64_t n, int64_t block_elems,
                    cudaMemcpyKind kind);

  int device_;
  int num_sms_ = 0;
  cudaStream_t stream_ = nullptr;       // all ops
  cudaStream_t copy_stream_ = nullptr;  // KV swap copies
  cudaEvent_t compute_done_ = nullptr, copies_done_ = nullptr;
  cublasHandle_t cublas_ = nullptr;
  std::array<Staging, static_cast<size_t>(IndexKind::kCount)> staging_{};
  float* attn_scratch_ = nullptr;  // split-K partials
  int64_t attn_scratch_floats_ = 0;
  bf16* dequant_tile_ = nullptr;  // decoded weight rows for quantized GEMMs with large m
  int64_t dequant_tile_elems_ = 0;
  void* greedy_dev_ = nullptr;   // GreedyRows results: [rows] int32 then [rows] float
  void* greedy_host_ = nullptr;  // pinned copy of them
  int64_t greedy_rows_ = 0;
  void* greedy_scratch_ = nullptr;  // per-split partial picks
  int64_t greedy_scratch_bytes_ = 0;
  std::unique_ptr<ThreadPool> host_pool_;
};

// out[m, n] = x[m, k] . w[n, k]^T, all row-major. cuBLAS is column-major, so
// this is out^T (n x m, ld ldc) = w (k x n col-major, transposed) * x^T (k x m).
Status CudaBackend::Gemm(const bf16* x, const bf16* w, int64_t m, int64_t n, int64_t k, void* out,
                         int64_t ldc, bool out_f32) {
  const float alpha = 1.f, beta = 0.f;
  SJ_CUBLAS_RETURN_IF_ERROR(
      cublasGemmEx(cublas_, CUBLAS_OP_T, CUBLAS_OP_N, static_cast<int>(n), static_cast<int>(m),
                   static_cast<int>(k), &alpha, w, CUDA_R_16BF, static_cast<int>(k), x, CUDA_R_16BF,
                   static_cast<int>(k), &beta, out, out_f32 ? CUDA_R_32F : CUDA_R_16BF,
                   static_cast<int>(ldc), CUBLAS_COMPUTE_32F, CUBLAS_GEMM_DEFAULT));
  return Status::Ok();
}

Status CudaBackend::LinearImpl(const void* x, WeightRef w, const void* bias, int64_t m, int64_t n,
                               int64_t k, void* out, bool out_f32) {
  if (m <= 0 || n <= 0) return Status::Ok();
  if (k <= 0) return InvalidArgument("Linear: k must be positive");
  constexpr int64_t kIntMax = 2147483647;
  if (m > kIntMax || n > kIntMax || k > kIntMax)
    return InvalidArgument("Linear: dimension above INT_MAX");
  SJ_CUDA_RETURN_IF_ERROR(cudaSetDevice(device_));
  const bool aligned = (reinterpret_cast<uintptr_t>(x) & 15) == 0;
  if (w.format == WeightFormat::kDense) {
    SJ_RETURN_IF_ERROR(Gemm(B(x), B(w.data), m, n, k, out, n, out_f32));
  } else if (m <= cuda::kQuantGemvMaxM && aligned) {
    return cuda::QuantGemv(stream_, B(x), w, B(bias), m, n, k, out, out_f32);
  } else {
    if (k % kQuantBlock != 0)
      return InvalidArgument("Linear: quantized k must be a multiple of 32");
    // Decode row tiles of w to bf16 and multiply each into its column slice of out.
    const int64_t tile_rows = std::min<int64_t>(n, std::max<int64_t>(1, kDequantTileElems / k));
    if (tile_rows * k > dequant_tile_elems_) {
      SJ_CUDA_RETURN_IF_ERROR(cudaStreamSynchronize(stream_));
      cudaFree(dequant_tile_);
      dequant_tile_ = nullptr;
      dequant_tile_elems_ = 0;
      SJ_CUDA_RETURN_IF_ERROR(cudaMalloc(&dequant_tile_, tile_rows * k * sizeof(bf16)));
      dequant_tile_elems_ = tile_rows * k;
    }
    const size_t out_esz = out_f32 ? sizeof(float) : sizeof(bf16);
    for (int64_t r0 = 0; r0 < n; r0 += tile_rows) {
      const int64_t rows = std::min(tile_rows, n - r0);
      SJ_RETURN_IF_ERROR(
          cuda::DequantizeRows(stream_, w.format, w.data, r0, rows, k, dequant_tile_));
      SJ_RETURN_IF_ERROR(Gemm(B(x), dequant_tile_, m, rows, k,
                              static_cast<char*>(out) + r0 * out_esz, n, out_f32));
    }
  }
  if (bias != nullptr) return cuda::AddBias(stream_, out, out_f32, B(bias), m, n);
  return Status::Ok();
}

Status CudaBackend::PagedAttention(const void* q, int64_t q_stride, int32_t nq, const void* k_pool,
                                   const void* v_pool, const KvLayout& layout,
                                   const AttentionBatch& batch, float scale, void* out) {
  const int32_t S = batch.num_seqs;
  if (S <= 0) return Status::Ok();
  const int32_t total = batch.query_start[S];
  // Packed device table: query_start [S+1] | context_lens [S] | token_seq [T] | block_tables [S *
  // max_blocks].
  std::vector<int32_t> packed;
  packed.reserve(size_t(2 * S + 1 + total) + size_t(S) * batch.max_blocks_per_seq);
  packed.insert(packed.end(), batch.query_start, batch.query_start + S + 1);
  packed.insert(packed.end(), batch.context_lens, batch.context_lens + S);
  std::vector<int32_t> row_seq;
  SJ_RETURN_IF_ERROR(ValidateAttentionBatch(layout, batch, &row_seq));
  int32_t max_ctx = 0;
  for (int32_t s = 0; s < S; ++s) max_ctx = std::max(max_ctx, batch.context_lens[s]);
  packed.insert(packed.end(), row_seq.begin(), row_seq.end());
  packed.insert(packed.end(), batch.block_tables,
                batch.block_tables + int64_t{S} * batch.max_blocks_per_seq);
  SJ_ASSIGN_OR_RETURN(const int32_t* d, Stage(IndexKind::kAttention, packed.data(),
                                              static_cast<int64_t>(packed.size())));
  AttentionBatch dev = batch;
  dev.query_start = d;
  dev.context_lens = d + S + 1;
  dev.block_tables = d + 2 * S + 1 + total;
  dev.max_context_len = max_ctx;
  const int32_t* token_seq = d + 2 * S + 1;

  // Split keys (flash-decoding) when the (row, head) blocks alone cannot fill
  // the device and contexts are long: ~2 blocks per SM, >= 256 keys a split.
  constexpr int32_t kMinKeysPerSplit = 256;
  constexpr int32_t kMaxSplits = 64;
  const int64_t base_blocks = int64_t{total} * nq;
  int32_t splits = 1;
  if (base_blocks < 2 * int64_t{num_sms_} && max_ctx > 2 * kMinKeysPerSplit) {
    const int64_t want = (2 * int64_t{num_sms_} + base_blocks - 1) / base_blocks;
    splits =
        static_cast<int32_t>(std::min<int64_t>({want, max_ctx / kMinKeysPerSplit, kMaxSplits}));
    splits = std::max(splits, 1);
  }
  const int64_t need = cuda::PagedAttentionScratchFloats(total, nq, layout.head_dim, splits);
  if (need > attn_scratch_floats_) {
    SJ_CUDA_RETURN_IF_ERROR(cudaStreamSynchronize(stream_));
    cudaFree(attn_scratch_);
    attn_scratch_ = nullptr;
    attn_scratch_floats_ = 0;
    SJ_CUDA_RETURN_IF_ERROR(cudaMalloc(&attn_scratch_, need * sizeof(float)));
    attn_scratch_floats_ = need;
  }
  return cuda::PagedAttention(stream_, B(q), q_stride, nq, B(k_pool), B(v_pool), layout, dev,
                              token_seq, total, scale, splits, attn_scratch_, B(out));
}

Status CudaBackend::CopyBlocks(const void* src_pool, int32_t src_blocks, void* dst_pool,
                               int32_t dst_blocks, const int32_t* src, const int32_t* dst,
                               int64_t n, int64_t block_elems, cudaMemcpyKind kind) {
  for (int64_t i = 0; i < n; ++i) {
    if (src[i] < 0 || src[i] >= src_blocks || dst[i] < 0 || dst[i] >= dst_blocks) {
      return InvalidArgument("CopyBlocks: pair " + std::to_string(i) + " (" +
                             std::to_string(src[i]) + " -> " + std::to_string(dst[i]) +
                             ") is outside the pools (" + std::to_string(src_blocks) + ", " +
                             std::to_string(dst_blocks) + " blocks)");
    }
  }
  if (n <= 0) return Status::Ok();
  SJ_CUDA_RETURN_IF_ERROR(cudaSetDevice(device_));
  // Copies start after the compute queued so far (which may still write or
  // read these blocks) and compute queued later waits for them.
  SJ_CUDA_RETURN_IF_ERROR(cudaEventRecord(compute_done_, stream_));
  SJ_CUDA_RETURN_IF_ERROR(cudaStreamWaitEvent(copy_stream_, compute_done_, 0));
  const size_t block_bytes = static_cast<size_t>(block_elems) * sizeof(bf16);
  for (int64_t i = 0; i < n;) {
    int64_t run = 1;  // coalesce runs of consecutive ids on both sides into one copy
    while (i + run < n && src[i + run] == src[i] + run && dst[i + run] == dst[i] + run) ++run;
    SJ_CUDA_RETURN_IF_ERROR(
        cudaMemcpyAsync(static_cast<char*>(dst_pool) + dst[i] * block_bytes,
                        static_cast<const char*>(src_pool) + src[i] * block_bytes,
                        run * block_bytes, kind, copy_stream_));
    i += run;
  }
  SJ_CUDA_RETURN_IF_ERROR(cudaEventRecord(copies_done_, copy_stream_));
  SJ_CUDA_RETURN_IF_ERROR(cudaStreamWaitEvent(stream_, copies_done_, 0));
  return Status::Ok();
}

}  // namespace

Result<int> CudaDeviceCount() {
  int n = 0;
  const cudaError_t e = cudaGetDeviceCount(&n);
  if (e != cudaSuccess) {
    cudaGetLastError();
    return Unavailable(std::string("no CUDA device: ") + cudaGetErrorName(e) + " (" +
                       cudaGetErrorString(e) + ")");
  }
  return n;
}

Result<std::unique_ptr<Backend>> MakeCudaBackend(int device) {
  SJ_ASSIGN_OR_RETURN(int count, CudaDeviceCount());
  if (device < 0 || device >= count) {
    return InvalidArgument("CUDA device " + std::to_string(device) + " does not exist (" +
                           std::to_string(count) + " visible)");
  }
  auto backend = std::make_unique<CudaBackend>(device);
  SJ_RETURN_IF_ERROR(backend->Init());
  return std::unique_ptr<Backend>(std::move(backend));
}

}  // namespace skipjoin::kernels
