// Every op of the CUDA backend against its CPU twin (the CPU Backend) on fresh
// random inputs. Inputs are rounded to bf16 first so both sides start from the
// same values; device outputs are poisoned with NaN before each run, so an
// element a kernel forgets to write fails the comparison. Tolerances, per op:
//   - pure copies (embedding of a dense table, gather, KV append, swaps): exact;
//   - one bf16 rounding of the output (rope, silu*mul, quantized embedding):
//     rtol 1e-2 (bf16 has 8 significant bits: 2^-8 = 3.9e-3 relative);
//   - reductions into bf16 (norms, Linear, attention): rtol 1e-2 plus an
//     absolute floor of 1e-2 of the output's largest magnitude, for outputs
//     near zero that are sums of larger terms;
//   - float32 logits (LinearLogits): rtol 1e-3 with a 1e-3 * max floor (fp32
//     accumulation in a different order; inputs identical).
// Every test skips with "no CUDA device" where none exists.
#include <algorithm>
#include <cmath>
#include <numeric>
#include <random>
#include <vector>

#include "gtest/gtest.h"
#include "kernels/backend.h"
#include "kernels/cpu/ops.h"
#include "kernels/cuda/cuda_backend.h"
#include "tests/kernels_cuda/cuda_test_util.h"

namespace skipjoin::kernels {
namespace {

using testing::AllClose;
using testing::MaxAbs;
using testing::RandomBf16;
using testing::RandomQuantRows;

constexpr float kRtol = 1e-2f;

class CudaOpsTest : public ::testing::Test {
 protected:
  void SetUp() override {
    SJ_SKIP_WITHOUT_CUDA_DEVICE();
    auto b = MakeCudaBackend(0);
    ASSERT_TRUE(b.ok()) << b.status().ToString();
    gpu_ = std::move(b).value();
    ASSERT_EQ(gpu_->act_dtype(), DType::kBF16);
    cpu_ = MakeCpuBackend(2);
  }
  void TearDown() override {
    if (!gpu_) return;
    EXPECT_TRUE(gpu_->Synchronize().ok());
    for (void* p : bufs_) gpu_->Free(p);
    for (void* p : host_bufs_) gpu_->FreeHost(p);
  }

  void* Alloc(size_t bytes) {
    auto p = gpu_->Alloc(bytes);
    EXPECT_TRUE(p.ok()) << p.status().ToString();
    bufs_.push_back(*p);
    return *p;
  }
  // A bf16 device buffer holding v.
  void* Dev(const std::vector<float>& v) {
    void* d = Alloc(std::max<size_t>(v.size(), 1) * 2);
    EXPECT_TRUE(gpu_->UploadF32(d, v.data(), static_cast<int64_t>(v.size())).ok());
    return d;
  }
  // A bf16 device buffer of n NaNs.
  void* Poisoned(int64_t n) {
    return Dev(std::vector<float>(static_cast<size_t>(n), std::nanf("")));
  }
  // A float32 device buffer of n NaNs.
  float* PoisonedF32(int64_t n) {
    std::vector<float> nan(static_cast<size_t>(n), std::nanf(""));
    void* d = Alloc(nan.size() * 4);
    EXPECT_TRUE(gpu_->Upload(d, nan.data(), nan.size() * 4).ok());
    return static_cast<float*>(d);
  }
  void* Raw(const void* data, size_t bytes) {
    void* d = Alloc(bytes);
    EXPECT_TRUE(gpu_->Upload(d, data, bytes).ok());
    return d;
  }
  std::vector<float> Get(const void* d, int64_t n) {
    std::vector<float> out(static_cast<size_t>(n));
    Status st = gpu_->DownloadF32(out.data(), d, n);
    EXPECT_TRUE(st.ok()) << st.ToString();
    return out;
  }
  std::vector<float> GetF32(const float* d, int64_t n) {
    std::vector<float> out(static_cast<size_t>(n));
    Status st = gpu_->DownloadLogits(out.data(), d, n);
    EXPECT_TRUE(st.ok()) << st.ToString();
    return out;
  }

  std::unique_ptr<Backend> cpu_, gpu_;
  std::vector<void*> bufs_, host_bufs_;
  std::mt19937 rng_{1234};
};

TEST_F(CudaOpsTest, EmbeddingDenseIsExactAndQuantizedWithinBf16) {
  const int64_t vocab = 300, dim = 96;
  std::vector<int32_t> ids = {0, 299, 17, 17, 150, 3, 298};
  const int64_t n = static_cast<int64_t>(ids.size());
  std::vector<float> table = RandomBf16(vocab * dim, rng_);
  std::vector<float> want(n * dim);
  ASSERT_TRUE(
      cpu_->Embedding({table.data(), WeightFormat::kDense}, vocab, dim, ids.data(), n, want.data())
          .ok());
  void* out = Poisoned(n * dim);
  ASSERT_TRUE(
      gpu_->Embedding({Dev(table), WeightFormat::kDense}, vocab, dim, ids.data(), n, out).ok());
  EXPECT_TRUE(AllClose(Get(out, n * dim), want, 0.f, 0.f));

  for (WeightFormat f : {WeightFormat::kQ8_0, WeightFormat::kQ4_0, WeightFormat::kQ4_1}) {
    SCOPED_TRACE(WeightFormatName(f));
    std::vector<uint8_t> q = RandomQuantRows(f, vocab, dim, rng_);
    ASSERT_TRUE(cpu_->Embedding({q.data(), f}, vocab, dim, ids.data(), n, want.data()).ok());
    void* qout = Poisoned(n * dim);
    ASSERT_TRUE(
        gpu_->Embedding({Raw(q.data(), q.size()), f}, vocab, dim, ids.data(), n, qout).ok());
    EXPECT_TRUE(AllClose(Get(qout, n * dim), want, kRtol, 1e-6f));
  }
  std::vector<int32_t> bad = {1, 300};
  Status st = gpu_->Embedding({Dev(table), WeightFormat::kDense}, vocab, dim, bad.data(), 2, out);
  EXPECT_EQ(st.code(), StatusCode::kInvalidArgument);
  EXPECT_NE(st.message().find("position 1"), std::string::npos) << st.message();
}

TEST_F(CudaOpsTest, RmsNormAndAddRmsNormMatchCpu) {
  // 16-byte chunk kernel: 64, 576, 2048, 4128; strided kernel: 100 (not a
  // multiple of 8) and 12288 (more chunks than a thread holds).
  for (auto [rows, dim] : {std::pair<int64_t, int64_t>{1, 64},
                           {5, 576},
                           {1, 2048},
                           {33, 4128},
                           {3, 100},
                           {2, 12288}}) {
    SCOPED_TRACE("rows " + std::to_string(rows) + " dim " + std::to_string(dim));
    std::vector<float> x = RandomBf16(rows * dim, rng_), res = RandomBf16(rows * dim, rng_);
    std::vector<float> w = RandomBf16(dim, rng_, 0.3f);
    for (float& v : w) v = testing::RoundBf16(v + 1.f);
    std::vector<float> want(rows * dim);
    ASSERT_TRUE(cpu_->RmsNorm(x.data(), w.data(), rows, dim, 1e-5f, want.data()).ok());
    void* out = Poisoned(rows * dim);
    void* dw = Dev(w);
    ASSERT_TRUE(gpu_->RmsNorm(Dev(x), dw, rows, dim, 1e-5f, out).ok());
    EXPECT_TRUE(AllClose(Get(out, rows * dim), want, kRtol, 1e-2f * MaxAbs(want)));

    std::vector<float> res_cpu = res;
    ASSERT_TRUE(
        cpu_->AddRmsNorm(res_cpu.data(), x.data(), w.data(), rows, dim, 1e-5f, want.data()).ok());
    void* dres = Dev(res);
    void* out2 = Poisoned(rows * dim);
    ASSERT_TRUE(gpu_->AddRmsNorm(dres, Dev(x), dw, rows, dim, 1e-5f, out2).ok());
    EXPECT_TRUE(AllClose(Get(dres, rows * dim), res_cpu, kRtol, 1e-2f * MaxAbs(res_cpu)));
    EXPECT_TRUE(AllClose(Get(out2, rows * dim), want, kRtol, 1e-2f * MaxAbs(want)));
  }
}

TEST_F(CudaOpsTest, DenseLinearAndLogitsMatchCpu) {
  struct Shape {
    int64_t m, n, k;
  };
  for (Shape s : {Shape{1, 64, 64}, Shape{7, 200, 96}, Shape{33, 512, 576}, Shape{130, 96, 1024}}) {
    SCOPED_TRACE("m " + std::to_string(s.m) + " n " + std::to_string(s.n) + " k " +
                 std::to_string(s.k));
    std::vector<float> x = RandomBf16(s.m * s.k, rng_), w = RandomBf16(s.n * s.k, rng_, 0.05f);
    std::vector<float> bias = RandomBf16(s.n, rng_);
    void *dx = Dev(x), *dw = Dev(w);
    for (bool with_bias : {false, true}) {
      std::vector<float> want(s.m * s.n);
      ASSERT_TRUE(cpu_->Linear(x.data(), {w.data(), WeightFormat::kDense},
                               with_bias ? bias.data() : nullptr, s.m, s.n, s.k, want.data())
                      .ok());
      void* out = Poisoned(s.m * s.n);
      ASSERT_TRUE(gpu_->Linear(dx, {dw, WeightFormat::kDense}, with_bias ? Dev(bias) : nullptr, s.m,
                               s.n, s.k, out)
                      .ok());
      EXPECT_TRUE(AllClose(Get(out, s.m * s.n), want, kRtol, 1e-2f * MaxAbs(want)))
          << "bias " << with_bias;
    }
    std::vector<float> want(s.m * s.n);
    ASSERT_TRUE(
        cpu_->LinearLogits(x.data(), {w.data(), WeightFormat::kDense}, s.m, s.n, s.k, want.data())
            .ok());
    float* logits = PoisonedF32(s.m * s.n);
    ASSERT_TRUE(gpu_->LinearLogits(dx, {dw, WeightFormat::kDense}, s.m, s.n, s.k, logits).ok());
    EXPECT_TRUE(AllClose(GetF32(logits, s.m * s.n), want, 1e-3f, 1e-3f * MaxAbs(want)));
  }
}

// m <= 8 runs the in-register GEMV; larger m decodes tiles and runs cuBLAS.
class CudaQuantLinearTest
    : public CudaOpsTest,
      public ::testing::WithParamInterface<std::tuple<WeightFormat, int64_t>> {};

TEST_P(CudaQuantLinearTest, MatchesCpuQuantizedLinear) {
  const auto [f, m] = GetParam();
  for (auto [n, k] : {std::pair<int64_t, int64_t>{96, 64}, {301, 256}}) {
    SCOPED_TRACE("n " + std::to_string(n) + " k " + std::to_string(k));
    std::vector<uint8_t> wq = RandomQuantRows(f, n, k, rng_);
    std::vector<float> x = RandomBf16(m * k, rng_), bias = RandomBf16(n, rng_);
    void *dx = Dev(x), *dw = Raw(wq.data(), wq.size()), *db = Dev(bias);
    std::vector<float> want(m * n);
    ASSERT_TRUE(cpu_->Linear(x.data(), {wq.data(), f}, bias.data(), m, n, k, want.data()).ok());
    void* out = Poisoned(m * n);
    ASSERT_TRUE(gpu_->Linear(dx, {dw, f}, db, m, n, k, out).ok());
    EXPECT_TRUE(AllClose(Get(out, m * n), want, kRtol, 1e-2f * MaxAbs(want)));
    ASSERT_TRUE(cpu_->LinearLogits(x.data(), {wq.data(), f}, m, n, k, want.data()).ok());
    float* logits = PoisonedF32(m * n);
    ASSERT_TRUE(gpu_->LinearLogits(dx, {dw, f}, m, n, k, logits).ok());
    // The tile path rounds decoded weights to bf16 before cuBLAS; the GEMV does not.
    EXPECT_TRUE(AllClose(GetF32(logits, m * n), want, kRtol, 1e-2f * MaxAbs(want)));
  }
}

INSTANTIATE_TEST_SUITE_P(Formats, CudaQuantLinearTest,
                         ::testing::Combine(::testing::Values(WeightFormat::kQ8_0,
                                                              WeightFormat::kQ4_0,
                                                              WeightFormat::kQ4_1),
                                            ::testing::Values(1, 3, 8, 9, 40)));

TEST_F(CudaOpsTest, RopeNeoxAndInterleavedMatchCpu) {
  const int32_t nq = 4, nkv = 2, hd = 64;
  const int64_t tokens = 9, stride = (nq + 2 * nkv) * hd;  // a fused qkv row
  std::vector<float> inv(hd / 2);
  for (int32_t i = 0; i < hd / 2; ++i)
    inv[i] = static_cast<float>(std::pow(10000.0, -2.0 * i / hd));
  std::vector<int32_t> pos = {0, 1, 2, 17, 100, 511, 1024, 3999, 5};
  void* dinv = Raw(inv.data(), inv.size() * 4);
  for (bool neox : {false, true}) {
    SCOPED_TRACE(neox ? "neox" : "interleaved");
    std::vector<float> qkv = RandomBf16(tokens * stride, rng_);
    std::vector<float> want = qkv;
    ASSERT_TRUE(cpu_->Rope(want.data(), stride, nq, want.data() + nq * hd, stride, nkv, hd,
                           pos.data(), tokens, inv.data(), neox)
                    .ok());
    void* d = Dev(qkv);
    char* k = static_cast<char*>(d) + nq * hd * 2;
    ASSERT_TRUE(gpu_->Rope(d, stride, nq, k, stride, nkv, hd, pos.data(), tokens,
                           static_cast<const float*>(dinv), neox)
                    .ok());
    // V columns are untouched (exactly), rotated ones within bf16 rounding.
    EXPECT_TRUE(AllClose(Get(d, tokens * stride), want, kRtol, 1e-2f));
  }
}

TEST_F(CudaOpsTest, KvAppendWritesSlotsAndSkipsPadding) {
  KvLayout layout;
  layout.num_blocks = 10;
  layout.block_size = 8;
  layout.num_kv_heads = 2;
  layout.head_dim = 32;
  const int64_t tokens = 6, stride = 3 * layout.token_elems();
  std::vector<int32_t> slots = {5, 79, -1, 8, 40, 0};
  std::vector<float> kv = RandomBf16(tokens * stride, rng_);
  const int64_t pool_elems = layout.num_blocks * layout.block_elems();
  std::vector<float> kp = RandomBf16(pool_elems, rng_), vp = RandomBf16(pool_elems, rng_);
  void *dkv = Dev(kv), *dk = Dev(kp), *dv = Dev(vp);
  const int64_t v_off = layout.token_elems();
  ASSERT_TRUE(cpu_->KvAppend(kv.data(), stride, kv.data() + v_off, stride, slots.data(), tokens,
                             layout, kp.data(), vp.data())
                  .ok());
  ASSERT_TRUE(gpu_->KvAppend(dkv, stride, static_cast<char*>(dkv) + v_off * 2, stride, slots.data(),
                             tokens, layout, dk, dv)
                  .ok());
  EXPECT_TRUE(AllClose(Get(dk, pool_elems), kp, 0.f, 0.f));
  EXPECT_TRUE(AllClose(Get(dv, pool_elems), vp, 0.f, 0.f));
  std::vector<int32_t> bad = {80};
  EXPECT_EQ(gpu_->KvAppend(dkv, stride, dkv, stride, bad.data(), 1, layout, dk, dv).code(),
            StatusCode::kInvalidArgument);
}

struct AttnCase {
  const char* name;
  int32_t nq, nkv, hd, bs;
  std::vector<std::pair<int32_t, int32_t>> seqs;  // (context length, queries)
};

class CudaAttentionTest : public CudaOpsTest, public ::testing::WithParamInterface<AttnCase> {};

TEST_P(CudaAttentionTest, MixedBatchMatchesCpu) {
  const AttnCase& c = GetParam();
  KvLayout layout;
  layout.block_size = c.bs;
  layout.num_kv_heads = c.nkv;
  layout.head_dim = c.hd;
  std::vector<int32_t> query_start = {0}, context_lens;
  int32_t max_blocks = 0, max_q = 0, max_ctx = 0, total_blocks = 0;
  for (auto [ctx, nqry] : c.seqs) {
    query_start.push_back(query_start.back() + nqry);
    context_lens.push_back(ctx);
    const int32_t blocks = (ctx + c.bs - 1) / c.bs;
    max_blocks = std::max(max_blocks, blocks + 1);  // one spare entry: tables wider than needed
    total_blocks += blocks;
    max_q = std::max(max_q, nqry);
    max_ctx = std::max(max_ctx, ctx);
  }
  layout.num_blocks = total_blocks + 7;
  // Scattered blocks: a shuffled pool, handed out in order.
  std::vector<int32_t> ids(layout.num_blocks);
  std::iota(ids.begin(), ids.end(), 0);
  std::shuffle(ids.begin(), ids.end(), rng_);
  const int32_t S = static_cast<int32_t>(c.seqs.size());
  std::vector<int32_t> tables(size_t(S) * max_blocks, -1);
  size_t next = 0;
  for (int32_t s = 0; s < S; ++s) {
    for (int32_t b = 0; b < (context_lens[s] + c.bs - 1) / c.bs; ++b)
      tables[size_t(s) * max_blocks + b] = ids[next++];
  }
  AttentionBatch batch;
  batch.num_seqs = S;
  batch.query_start = query_start.data();
  batch.context_lens = context_lens.data();
  batch.block_tables = tables.data();
  batch.max_blocks_per_seq = max_blocks;
  batch.max_query_len = max_q;
  batch.max_context_len = max_ctx;
  const int64_t T = query_start.back();
  const int64_t q_stride =
      int64_t{c.nq} * c.hd + 2 * c.hd;  // a row wider than q, as in the fused qkv buffer
  const int64_t pool_elems = layout.num_blocks * layout.block_elems();
  std::vector<float> q = RandomBf16(T * q_stride, rng_), kp = RandomBf16(pool_elems, rng_),
                     vp = RandomBf16(pool_elems, rng_);
  const float scale = 1.f / std::sqrt(static_cast<float>(c.hd));
  const int64_t out_elems = T * c.nq * c.hd;
  std::vector<float> want(out_elems);
  ASSERT_TRUE(cpu_->PagedAttention(q.data(), q_stride, c.nq, kp.data(), vp.data(), layout, batch,
                                   scale, want.data())
                  .ok());
  void* out = Poisoned(out_elems);
  Status st =
      gpu_->PagedAttention(Dev(q), q_stride, c.nq, Dev(kp), Dev(vp), layout, batch, scale, out);
  ASSERT_TRUE(st.ok()) << st.ToString();
  EXPECT_TRUE(AllClose(Get(out, out_elems), want, kRtol, 1e-2f));
}

INSTANTIATE_TEST_SUITE_P(
    Batches, CudaAttentionTest,
    ::testing::Values(
        // Prefill from scratch, a chunk over a cached prefix, a 1-token prompt, a long decode.
        AttnCase{"Gqa4MixedPrefillDecode", 8, 2, 64, 16, {{37, 37}, {100, 20}, {1, 1}, {513, 1}}},
        // Decodes only over long contexts: few (row, head) blocks, so the key splits kick in.
        AttnCase{"DecodeOnlyLongContextsSplitK", 4, 4, 128, 8, {{2000, 1}, {3001, 1}, {1500, 1}}},
        // head_dim not a multiple of 64 (lanes partly idle), GQA 3.
        AttnCase{"HeadDim80Gqa3", 6, 2, 80, 16, {{45, 13}, {7, 1}, {300, 2}}},
        // head_dim 256 (4 pairs a lane), a long single prefill.
        AttnCase{"HeadDim256Prefill", 2, 1, 256, 16, {{70, 70}}},
        // Tiny heads as in the test models, block size 1.
        AttnCase{"HeadDim16BlockSize1", 4, 2, 16, 1, {{9, 3}, {4, 4}, {30, 1}}}),
    [](const ::testing::TestParamInfo<AttnCase>& i) { return std::string(i.param.name); });

TEST_F(CudaOpsTest, SiluMulAndGatherRowsMatchCpu) {
  const int64_t rows = 5, ffn = 300;
  std::vector<float> gu = RandomBf16(rows * 2 * ffn, rng_, 2.f);
  std::vector<float> want(rows * ffn);
  ASSERT_TRUE(cpu_->SiluMul(gu.data(), rows, ffn, want.data()).ok());
  void* out = Poisoned(rows * ffn);
  ASSERT_TRUE(gpu_->SiluMul(Dev(gu), rows, ffn, out).ok());
  EXPECT_TRUE(AllClose(Get(out, rows * ffn), want, kRtol, 1e-3f));

  const int64_t x_rows = 20, dim = 72;
  std::vector<float> x = RandomBf16(x_rows * dim, rng_);
  std::vector<int32_t> pick = {3, 0, 19, 3};
  std::vector<float> gwant(pick.size() * dim);
  ASSERT_TRUE(cpu_->GatherRows(x.data(), x_rows, dim, pick.data(), 4, gwant.data()).ok());
  void* g = Poisoned(4 * dim);
  void* dx = Dev(x);
  ASSERT_TRUE(gpu_->GatherRows(dx, x_rows, dim, pick.data(), 4, g).ok());
  EXPECT_TRUE(AllClose(Get(g, 4 * dim), gwant, 0.f, 0.f));
  std::vector<int32_t> bad = {20};
  EXPECT_EQ(gpu_->GatherRows(dx, x_rows, dim, bad.data(), 1, g).code(),
            StatusCode::kInvalidArgument);
}

// GreedyRows against a host argmax (first maximum) and a double log-sum-exp:
// vocabularies of the shipped models and odd sizes, planted ties (the first
// wins), -inf entries (banned tokens) and an all -inf row.
TEST_F(CudaOpsTest, GreedyRowsMatchHostArgmaxAndLogSoftmax) {
  for (int64_t n : {int64_t{1}, int64_t{7}, int64_t{1000}, int64_t{49152}, int64_t{128256}}) {
    SCOPED_TRACE("n " + std::to_string(n));
    const int64_t rows = 5;
    std::normal_distribution<float> nd(0.f, 3.f);
    std::vector<float> logits(rows * n);
    for (float& v : logits) v = nd(rng_);
    if (n >= 1000) {
      float* r1 = logits.data() + n;  // row 1: a tie between two late indices
      const float top = *std::max_element(r1, r1 + n) + 1.f;
      r1[n - 3] = top;
      r1[n / 2] = top;
      float* r2 = logits.data() + 2 * n;  // row 2: most of it banned
      for (int64_t i = 0; i < n; i += 2) r2[i] = -INFINITY;
    }
    for (int64_t i = 0; i < n; ++i) logits[4 * n + i] = -INFINITY;  // row 4: all banned
    float* dev = PoisonedF32(rows * n);
    ASSERT_TRUE(gpu_->Upload(dev, logits.data(), logits.size() * 4).ok());
    std::vector<int32_t> tokens(rows, -7);
    std::vector<float> logprobs(rows, 7.f);
    Status st = gpu_->GreedyRows(dev, rows, n, tokens.data(), logprobs.data());
    ASSERT_TRUE(st.ok()) << st.ToString();
    for (int64_t r = 0; r < rows; ++r) {
      SCOPED_TRACE("row " + std::to_string(r));
      const float* x = logits.data() + r * n;
      int64_t best = 0;
      for (int64_t i = 1; i < n; ++i)
        if (x[i] > x[best]) best = i;
      EXPECT_EQ(tokens[r], best);
      if (r == 4) {
        EXPECT_TRUE(std::isnan(logprobs[r]));
        continue;
      }
      double sum = 0.0;
      for (int64_t i = 0; i < n; ++i) sum += std::exp(static_cast<double>(x[i]) - x[best]);
      EXPECT_NEAR(logprobs[r], -std::log(sum), 1e-4 * std::max(1.0, std::log(sum)));
    }
  }
  // Rows past the first call's capacity reallocate the result buffers.
  const int64_t rows = 300, n = 64;
  std::vector<float> logits(rows * n);
  for (int64_t r = 0; r < rows; ++r)
    for (int64_t i = 0; i < n; ++i) logits[r * n + i] = static_cast<float>((i * 7 + r) % n);
  float* dev = PoisonedF32(rows * n);
  ASSERT_TRUE(gpu_->Upload(dev, logits.data(), logits.size() * 4).ok());
  std::vector<int32_t> tokens(rows);
  std::vector<float> logprobs(rows);
  ASSERT_TRUE(gpu_->GreedyRows(dev, rows, n, tokens.data(), logprobs.data()).ok());
  for (int64_t r = 0; r < rows; ++r) {
    const float* x = logits.data() + r * n;
    EXPECT_EQ(tokens[r], std::max_element(x, x + n) - x) << "row " << r;
  }
  // The CPU backend leaves greedy picks to the host sampler.
  EXPECT_TRUE(gpu_->SupportsGreedyRows());
  EXPECT_FALSE(cpu_->SupportsGreedyRows());
  EXPECT_EQ(cpu_->GreedyRows(logits.data(), 1, n, tokens.data(), logprobs.data()).code(),
            StatusCode::kFailedPrecondition);
}

TEST_F(CudaOpsTest, SwapCopiesRoundTripThroughPinnedHostPool) {
  const int64_t block_elems = 2 * 8 * 16;
  const int32_t dev_blocks = 12, host_blocks = 6;
  std::vector<float> pool = RandomBf16(dev_blocks * block_elems, rng_);
  void* dpool = Dev(pool);
  auto hp = gpu_->AllocHost(host_blocks * block_elems * 2);
  ASSERT_TRUE(hp.ok()) << hp.status().ToString();
  host_bufs_.push_back(*hp);
  // A consecutive run (coalesced into one copy) and scattered pairs.
  std::vector<int32_t> dev_ids = {4, 5, 6, 0, 11}, host_ids = {1, 2, 3, 5, 0};
  ASSERT_TRUE(gpu_->CopyBlocksToHost(dpool, dev_blocks, *hp, host_blocks, dev_ids.data(),
                                     host_ids.data(), 5, block_elems)
                  .ok());
  ASSERT_TRUE(gpu_->Synchronize().ok());
  const uint16_t* host = static_cast<const uint16_t*>(*hp);
  for (size_t i = 0; i < dev_ids.size(); ++i) {
    for (int64_t e = 0; e < block_elems; ++e) {
      const uint32_t bits = uint32_t{host[host_ids[i] * block_elems + e]} << 16;
      float f;
      std::memcpy(&f, &bits, 4);
      ASSERT_EQ(f, pool[dev_ids[i] * block_elems + e]) << "pair " << i << " element " << e;
    }
  }
  // Back into other device blocks of a poisoned pool.
  void* dpool2 = Poisoned(dev_blocks * block_elems);
  std::vector<int32_t> back_dev = {7, 8, 9, 1, 2};
  ASSERT_TRUE(gpu_->CopyBlocksToDevice(*hp, host_blocks, dpool2, dev_blocks, host_ids.data(),
                                       back_dev.data(), 5, block_elems)
                  .ok());
  std::vector<float> got = Get(dpool2, dev_blocks * block_elems);
  for (size_t i = 0; i < dev_ids.size(); ++i) {
    for (int64_t e = 0; e < block_elems; ++e) {
      ASSERT_EQ(got[back_dev[i] * block_elems + e], pool[dev_ids[i] * block_elems + e])
          << "pair " << i;
    }
  }
  std::vector<int32_t> bad = {12};
  EXPECT_EQ(gpu_->CopyBlocksToHost(dpool, dev_blocks, *hp, host_blocks, bad.data(), host_ids.data(),
                                   1, block_elems)
                .code(),
            StatusCode::kInvalidArgument);
}

}  // namespace
}  // namespace skipjoin::kernels
