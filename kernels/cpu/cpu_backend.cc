// The CPU Backend: float32 activations in ordinary host memory, ops from
// kernels/cpu/ops.h over one ThreadPool.
#include <algorithm>
#include <cstdlib>
#include <cstring>
#include <string>

#include "kernels/backend.h"
#include "kernels/cpu/ops.h"

#ifdef SKIPJOIN_HAVE_CBLAS
extern "C" void openblas_set_num_threads(int num_threads);
#endif

namespace skipjoin::kernels {

const char* DTypeName(DType t) {
  switch (t) {
    case DType::kF32: return "f32";
    case DType::kF16: return "f16";
    case DType::kBF16: return "bf16";
  }
  return "?";
}

const char* WeightFormatName(WeightFormat f) {
  switch (f) {
    case WeightFormat::kDense: return "dense";
    case WeightFormat::kQ8_0: return "q8_0";
    case WeightFormat::kQ4_0: return "q4_0";
    case WeightFormat::kQ4_1: return "q4_1";
  }
  return "?";
}

size_t DTypeSize(DType t) {
  switch (t) {
    case DType::kF32: return 4;
    case DType::kF16: return 2;
    case DType::kBF16: return 2;
  }
  return 0;
}

namespace {

const float* F(const void* p) { return static_cast<const float*>(p); }
float* F(void* p) { return static_cast<float*>(p); }

class CpuBackend final : public Backend {
 public:
  explicit CpuBackend(int num_threads) : pool_(num_threads) {
#ifdef SKIPJOIN_HAVE_CBLAS
    openblas_set_num_threads(pool_.num_threads());
#endif
  }

  std::string name() const override { return "cpu"; }
  void HostParallelFor(int64_t n, const std::function<void(int64_t, int64_t)>& fn) override {
    pool_.ParallelFor(n, 1, fn);
  }
  DType act_dtype() const override { return DType::kF32; }

  Result<void*> Alloc(size_t bytes) override {
    // 64-byte alignment for vector loads; at least one byte so Free is uniform.
    void* p = std::aligned_alloc(64, (std::max<size_t>(bytes, 1) + 63) / 64 * 64);
    if (p == nullptr) return ResourceExhausted("cpu: cannot allocate " + std::to_string(bytes) + " bytes");
    return p;
  }
  void Free(void* p) override { std::free(p); }
  Result<void*> AllocHost(size_t bytes) override { return Alloc(bytes); }
  void FreeHost(void* p) override { Free(p); }
  Status Upload(void* dst, const void* src, size_t bytes) override {
    std::memcpy(dst, src, bytes);
    return Status::Ok();
  }
  Status UploadF32(void* dst, const float* src, int64_t n) override {
    std::memcpy(dst, src, sizeof(float) * n);
    return Status::Ok();
  }
  Status DownloadF32(float* dst, const void* src, int64_t n) override {
    std::memcpy(dst, src, sizeof(float) * n);
    return Status::Ok();
  }
  Status Synchronize() override { return Status::Ok(); }

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
    return cpu::EmbeddingQuantized(&pool_, table, vocab, dim, ids, n, F(out));
  }
  Status RmsNorm(const void* x, const void* w, int64_t rows, int64_t dim, float eps, void* out) override {
    return cpu::RmsNorm(&pool_, F(x), F(w), rows, dim, eps, F(out));
  }
  Status AddRmsNorm(void* residual, const void* x, const void* w, int64_t rows, int64_t dim, float eps,
                    void* out) override {
    return cpu::AddRmsNorm(&pool_, F(residual), F(x), F(w), rows, dim, eps, F(out));
  }
  Status Linear(const void* x, WeightRef w, const void* bias, int64_t m, int64_t n, int64_t k,
                void* out) override {
    return cpu::LinearQuantized(&pool_, F(x), w, F(bias), m, n, k, F(out));
  }
  Status Rope(void* q, int64_t q_stride, int32_t nq, void* k, int64_t k_stride, int32_t nkv,
              int32_t head_dim, const int32_t* positions, int64_t tokens, const float* inv_freq,
              bool neox) override {
    return cpu::Rope(&pool_, F(q), q_stride, nq, F(k), k_stride, nkv, head_dim, positions, tokens,
                     inv_freq, neox);
  }
  Status KvAppend(const void* k, int64_t k_stride, const void* v, int64_t v_stride,
                  const int32_t* slots, int64_t tokens, const KvLayout& layout, void* k_pool,
                  void* v_pool) override {
    return cpu::KvAppend(&pool_, F(k), k_stride, F(v), v_stride, slots, tokens, layout, F(k_pool),
                         F(v_pool));
  }
  Status PagedAttention(const void* q, int64_t q_stride, int32_t nq, const void* k_pool,
                        const void* v_pool, const KvLayout& layout, const AttentionBatch& batch,
                        float scale, void* out) override {
    return cpu::PagedAttention(&pool_, F(q), q_stride, nq, F(k_pool), F(v_pool), layout, batch,
                               scale, F(out));
  }
  Status SiluMul(const void* gate_up, int64_t rows, int64_t ffn, void* out) override {
    return cpu::SiluMul(&pool_, F(gate_up), rows, ffn, F(out));
  }
  Status GatherRows(const void* x, int64_t x_rows, int64_t dim, const int32_t* rows, int64_t n,
                    void* out) override {
    return cpu::GatherRows(&pool_, F(x), x_rows, dim, rows, n, F(out));
  }
  Status CopyBlocksToHost(const void* dev_pool, int32_t dev_blocks, void* host_pool,
                          int32_t host_blocks, const int32_t* dev_ids, const int32_t* host_ids,
                          int64_t n, int64_t block_elems) override {
    return cpu::CopyBlocks(&pool_, F(dev_pool), dev_blocks, F(host_pool), host_blocks, dev_ids,
                           host_ids, n, block_elems);
  }
  Status CopyBlocksToDevice(const void* host_pool, int32_t host_blocks, void* dev_pool,
                            int32_t dev_blocks, const int32_t* host_ids, const int32_t* dev_ids,
                            int64_t n, int64_t block_elems) override {
    return cpu::CopyBlocks(&pool_, F(host_pool), host_blocks, F(dev_pool), dev_blocks, host_ids,
                           dev_ids, n, block_elems);
  }

 private:
  ThreadPool pool_;
};

}  // namespace

std::unique_ptr<Backend> MakeCpuBackend(int num_threads) {
  return std::make_unique<CpuBackend>(num_threads);
}

}  // namespace skipjoin::kernels
