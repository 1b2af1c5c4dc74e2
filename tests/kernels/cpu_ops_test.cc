// CPU kernels against straightforward references: quantized Linear and
// Embedding against dense float32 on the decoded weights, the decoder against
// the model-file dequantizer, and paged attention against a dense causal
// attention over gathered K/V.
#include <cmath>
#include <cstring>
#include <random>
#include <vector>

#include "common/gguf.h"
#include "gtest/gtest.h"
#include "kernels/cpu/ops.h"

namespace skipjoin::kernels::cpu {
namespace {

uint16_t FloatToHalf(float f) {
  // Round-to-nearest conversion good enough for test scales (normal range).
  uint32_t x;
  std::memcpy(&x, &f, 4);
  const uint32_t sign = (x >> 16) & 0x8000;
  int32_t exp = int32_t((x >> 23) & 0xff) - 127 + 15;
  uint32_t man = x & 0x7fffff;
  if (exp <= 0) return static_cast<uint16_t>(sign);
  uint32_t h = sign | (uint32_t(exp) << 10) | (man >> 13);
  if (man & 0x1000) ++h;
  return static_cast<uint16_t>(h);
}

// Random quantized rows: plausible scales, random payload bytes.
std::vector<uint8_t> RandomQuantRows(WeightFormat f, int64_t rows, int64_t k, std::mt19937& rng) {
  std::vector<uint8_t> out(rows * WeightRowBytes(f, k, 4));
  std::uniform_int_distribution<int> byte(0, 255);
  std::uniform_real_distribution<float> scale(0.001f, 0.05f), offset(-0.2f, 0.2f);
  const int64_t bb = WeightRowBytes(f, kQuantBlock, 4);
  for (size_t b = 0; b < out.size() / bb; ++b) {
    uint8_t* p = out.data() + b * bb;
    uint16_t d = FloatToHalf(scale(rng)), m = FloatToHalf(offset(rng));
    std::memcpy(p, &d, 2);
    int head = 2;
    if (f == WeightFormat::kQ4_1) {
      std::memcpy(p + 2, &m, 2);
      head = 4;
    }
    for (int64_t i = head; i < bb; ++i) p[i] = static_cast<uint8_t>(byte(rng));
  }
  return out;
}

GgmlType ToGgml(WeightFormat f) {
  switch (f) {
    case WeightFormat::kQ8_0: return GgmlType::kQ8_0;
    case WeightFormat::kQ4_0: return GgmlType::kQ4_0;
    case WeightFormat::kQ4_1: return GgmlType::kQ4_1;
    case WeightFormat::kDense: return GgmlType::kF32;
  }
  return GgmlType::kF32;
}

class QuantLinearTest : public ::testing::TestWithParam<std::tuple<WeightFormat, int64_t>> {};

TEST_P(QuantLinearTest, MatchesDenseLinearOnDecodedWeights) {
  const auto [fmt, m] = GetParam();
  const int64_t n = 70, k = 96;
  std::mt19937 rng(42 + static_cast<int>(m));
  std::vector<uint8_t> wq = RandomQuantRows(fmt, n, k, rng);
  std::vector<float> wd(n * k);
  DequantizeWeightRows(fmt, wq.data(), n, k, wd.data());
  // The decoder agrees bit for bit with the model-file dequantizer.
  std::vector<float> ref_row(k);
  const int64_t row_bytes = WeightRowBytes(fmt, k, 4);
  for (int64_t r = 0; r < n; ++r) {
    ASSERT_TRUE(DequantizeRow(ToGgml(fmt), wq.data() + r * row_bytes, row_bytes, k, ref_row.data()).ok());
    for (int64_t j = 0; j < k; ++j) ASSERT_EQ(ref_row[j], wd[r * k + j]) << "row " << r << " col " << j;
  }
  std::normal_distribution<float> nd(0.f, 1.f);
  std::vector<float> x(m * k), bias(n);
  for (float& v : x) v = nd(rng);
  for (float& v : bias) v = nd(rng);
  ThreadPool pool(2);
  std::vector<float> want(m * n), got(m * n, std::nanf(""));
  ASSERT_TRUE(Linear(&pool, x.data(), wd.data(), bias.data(), m, n, k, want.data()).ok());
  ASSERT_TRUE(LinearQuantized(&pool, x.data(), {wq.data(), fmt}, bias.data(), m, n, k, got.data()).ok());
  for (int64_t i = 0; i < m * n; ++i) {
    ASSERT_NEAR(got[i], want[i], 1e-4f * (1.f + std::abs(want[i]))) << "element " << i;
  }
}

INSTANTIATE_TEST_SUITE_P(Formats, QuantLinearTest,
                         ::testing::Combine(::testing::Values(WeightFormat::kQ8_0, WeightFormat::kQ4_0,
                                                              WeightFormat::kQ4_1),
                                            ::testing::Values(1, 3, 8, 9, 33, 65, 80)));

TEST(QuantLinearTest, RejectsUnalignedK) {
  ThreadPool pool(1);
  std::vector<uint8_t> w(64);
  std::vector<float> x(40), out(1);
  EXPECT_FALSE(LinearQuantized(&pool, x.data(), {w.data(), WeightFormat::kQ8_0}, nullptr, 1, 1, 40, out.data()).ok());
}

TEST(QuantEmbeddingTest, RowsMatchDecodedTableAndBadIdsAreErrors) {
  std::mt19937 rng(7);
  const int64_t vocab = 50, dim = 64;
  std::vector<uint8_t> table = RandomQuantRows(WeightFormat::kQ8_0, vocab, dim, rng);
  std::vector<float> dense(vocab * dim);
  DequantizeWeightRows(WeightFormat::kQ8_0, table.data(), vocab, dim, dense.data());
  ThreadPool pool(2);
  std::vector<int32_t> ids = {3, 49, 0, 3};
  std::vector<float> out(ids.size() * dim);
  ASSERT_TRUE(EmbeddingQuantized(&pool, {table.data(), WeightFormat::kQ8_0}, vocab, dim, ids.data(), ids.size(),
                                 out.data()).ok());
  for (size_t i = 0; i < ids.size(); ++i)
    for (int64_t j = 0; j < dim; ++j) EXPECT_EQ(out[i * dim + j], dense[ids[i] * dim + j]);
  std::vector<int32_t> bad = {1, 50};
  Status st = EmbeddingQuantized(&pool, {table.data(), WeightFormat::kQ8_0}, vocab, dim, bad.data(), 2, out.data());
  EXPECT_FALSE(st.ok());
  EXPECT_NE(st.message().find("position 1"), std::string::npos) << st.message();
}

// Dense causal attention of one sequence whose K/V rows are given in order.
std::vector<float> DenseAttention(const std::vector<float>& q, const std::vector<float>& k,
                                  const std::vector<float>& v, int32_t nq, int32_t nkv, int32_t hd,
                                  int32_t ctx, int32_t nquery) {
  std::vector<float> out(nquery * nq * hd, 0.f);
  const int32_t group = nq / nkv;
  for (int32_t t = 0; t < nquery; ++t) {
    const int32_t len = ctx - nquery + t + 1;
    for (int32_t h = 0; h < nq; ++h) {
      const int32_t g = h / group;
      std::vector<double> s(len);
      double mx = -1e30;
      for (int32_t p = 0; p < len; ++p) {
        double dot = 0;
        for (int32_t d = 0; d < hd; ++d) dot += q[(t * nq + h) * hd + d] * k[(p * nkv + g) * hd + d];
        s[p] = dot / std::sqrt(double(hd));
        mx = std::max(mx, s[p]);
      }
      double sum = 0;
      for (double& x : s) sum += (x = std::exp(x - mx));
      for (int32_t p = 0; p < len; ++p)
        for (int32_t d = 0; d < hd; ++d) out[(t * nq + h) * hd + d] += s[p] / sum * v[(p * nkv + g) * hd + d];
    }
  }
  return out;
}

TEST(PagedAttentionTest, MatchesDenseAttentionForMixedBatchOnScatteredBlocks) {
  const int32_t nq = 4, nkv = 2, hd = 16, bs = 4, num_blocks = 32;
  KvLayout layout{num_blocks, bs, nkv, hd};
  std::mt19937 rng(3);
  std::normal_distribution<float> nd(0.f, 1.f);
  std::vector<float> k_pool(num_blocks * layout.block_elems()), v_pool(k_pool.size());
  // Sequence 0: a prefill chunk of 5 queries after 6 cached tokens (ctx 11).
  // Sequence 1: a decode at ctx 9. Blocks deliberately out of order.
  struct Seq {
    int32_t ctx, nquery;
    std::vector<int32_t> blocks;
  };
  std::vector<Seq> seqs = {{11, 5, {7, 2, 30}}, {9, 1, {5, 0, 12}}};
  std::vector<int32_t> query_start = {0}, ctx_lens, tables;
  std::vector<float> q_all;
  std::vector<std::vector<float>> want;
  for (const Seq& s : seqs) {
    std::vector<float> k(s.ctx * nkv * hd), v(k.size()), q(s.nquery * nq * hd);
    for (float& x : k) x = nd(rng);
    for (float& x : v) x = nd(rng);
    for (float& x : q) x = nd(rng);
    for (int32_t p = 0; p < s.ctx; ++p) {
      const int64_t slot = int64_t{s.blocks[p / bs]} * bs + p % bs;
      std::copy_n(k.data() + p * nkv * hd, nkv * hd, k_pool.data() + slot * nkv * hd);
      std::copy_n(v.data() + p * nkv * hd, nkv * hd, v_pool.data() + slot * nkv * hd);
    }
    want.push_back(DenseAttention(q, k, v, nq, nkv, hd, s.ctx, s.nquery));
    q_all.insert(q_all.end(), q.begin(), q.end());
    query_start.push_back(query_start.back() + s.nquery);
    ctx_lens.push_back(s.ctx);
    tables.insert(tables.end(), s.blocks.begin(), s.blocks.end());
  }
  AttentionBatch batch;
  batch.num_seqs = 2;
  batch.query_start = query_start.data();
  batch.context_lens = ctx_lens.data();
  batch.block_tables = tables.data();
  batch.max_blocks_per_seq = 3;
  ThreadPool pool(2);
  std::vector<float> out(q_all.size(), std::nanf(""));
  ASSERT_TRUE(PagedAttention(&pool, q_all.data(), nq * hd, nq, k_pool.data(), v_pool.data(), layout, batch,
                             1.f / std::sqrt(float(hd)), out.data()).ok());
  size_t off = 0;
  for (const auto& w : want) {
    for (size_t i = 0; i < w.size(); ++i) ASSERT_NEAR(out[off + i], w[i], 1e-5) << "element " << off + i;
    off += w.size();
  }
  // A block id outside the pool is an error, not a read out of bounds.
  tables[1] = num_blocks;
  EXPECT_FALSE(PagedAttention(&pool, q_all.data(), nq * hd, nq, k_pool.data(), v_pool.data(), layout, batch,
                              1.f, out.data()).ok());
}

}  // namespace
}  // namespace skipjoin::kernels::cpu
