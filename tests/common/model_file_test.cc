// ModelFile over GGUF and HF safetensors directories: the same tiny spec reads
// back the same tensors in every format, partial reads equal slices of full
// reads, and broken models fail with errors naming the file and tensor.
#include "common/model_file.h"

#include <gtest/gtest.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cmath>
#include <cstdlib>
#include <cstring>
#include <fstream>
#include <sstream>

#include "common/gguf.h"
#include "tests/testutil/gguf_writer.h"
#include "tests/testutil/model_path.h"
#include "tests/testutil/tiny_model.h"

namespace skipjoin {
namespace {

using testutil::TinyModelSpec;

std::string TempPath(const std::string& name) {
  return ::testing::TempDir() + "/model_file_test_" + std::to_string(::getpid()) + "_" + name;
}

std::unique_ptr<ModelFile> MustOpen(const std::string& path) {
  auto m = ModelFile::Open(path);
  EXPECT_TRUE(m.ok()) << m.status().ToString();
  return m.ok() ? std::move(m).value() : nullptr;
}

std::vector<float> ReadAll(const ModelFile& m, const std::string& name) {
  auto shape = m.TensorShape(name);
  EXPECT_TRUE(shape.ok()) << shape.status().ToString();
  if (!shape.ok()) return {};
  const int64_t rows = shape->size() == 2 ? (*shape)[0] : 1, cols = shape->back();
  std::vector<float> out(rows * cols);
  Status s = m.ReadF32(name, {0, rows}, {0, cols}, out.data());
  EXPECT_TRUE(s.ok()) << s.ToString();
  return out;
}

bool IsQ(const std::string& n) { return n.find("attn_q.") != std::string::npos; }
bool IsK(const std::string& n) { return n.find("attn_k.") != std::string::npos; }

// GGUF llama Q/K rows are permuted; undo it to compare with HF layout.
std::vector<float> Canonical(const ModelFile& m, const TinyModelSpec& spec,
                             const std::string& name) {
  std::vector<float> v = ReadAll(m, name);
  if (std::string(m.format()) == "gguf" && m.config().architecture == "llama" &&
      (IsQ(name) || IsK(name))) {
    auto shape = *m.TensorShape(name);
    const int64_t cols = shape.size() == 2 ? shape[1] : 1;
    v = testutil::UnpermuteQkFromGguf(v, shape[0], cols, IsQ(name) ? spec.heads : spec.kv_heads);
  }
  return v;
}

void ExpectSameModel(const TinyModelSpec& spec, const ModelFile& a, const ModelFile& b) {
  const ModelConfig &ca = a.config(), &cb = b.config();
  EXPECT_EQ(ca.vocab_size, cb.vocab_size);
  EXPECT_EQ(ca.hidden_size, cb.hidden_size);
  EXPECT_EQ(ca.intermediate_size, cb.intermediate_size);
  EXPECT_EQ(ca.num_layers, cb.num_layers);
  EXPECT_EQ(ca.num_heads, cb.num_heads);
  EXPECT_EQ(ca.num_kv_heads, cb.num_kv_heads);
  EXPECT_EQ(ca.head_dim, cb.head_dim);
  EXPECT_EQ(ca.max_context, cb.max_context);
  EXPECT_EQ(ca.tied_embeddings, cb.tied_embeddings);
  EXPECT_EQ(ca.qkv_bias, cb.qkv_bias);
  EXPECT_EQ(ca.bos_token_id, cb.bos_token_id);
  EXPECT_EQ(ca.eos_token_id, cb.eos_token_id);
  EXPECT_FLOAT_EQ(ca.rms_norm_eps, cb.rms_norm_eps);
  EXPECT_EQ(ca.rope_theta, cb.rope_theta);
  int compared = 0;
  for (const auto& [name, t] : testutil::TinyModelWeights(spec)) {
    SCOPED_TRACE(name);
    ASSERT_TRUE(a.HasTensor(name));
    ASSERT_TRUE(b.HasTensor(name));
    EXPECT_EQ(*a.TensorShape(name), t.shape);
    EXPECT_EQ(*b.TensorShape(name), t.shape);
    EXPECT_EQ(Canonical(a, spec, name), Canonical(b, spec, name));
    ++compared;
  }
  EXPECT_GT(compared, 10);
}

TEST(ModelFileTest, GgufAndSafetensorsAgreeForLlama) {
  TinyModelSpec spec;
  const std::string gguf = TempPath("llama.gguf"), hf1 = TempPath("llama_hf1"),
                    hf3 = TempPath("llama_hf3");
  ASSERT_TRUE(testutil::WriteTinyGguf(spec, gguf).ok());
  ASSERT_TRUE(testutil::WriteTinyHfDir(spec, hf1).ok());
  ASSERT_TRUE(testutil::WriteTinyHfDir(spec, hf3, 3).ok());
  auto g = MustOpen(gguf), h1 = MustOpen(hf1), h3 = MustOpen(hf3);
  ASSERT_TRUE(g && h1 && h3);
  EXPECT_STREQ(g->format(), "gguf");
  EXPECT_STREQ(h1->format(), "safetensors");
  EXPECT_NE(g->gguf(), nullptr);
  EXPECT_EQ(h1->gguf(), nullptr);
  EXPECT_FALSE(g->config().rope_neox);
  EXPECT_TRUE(h1->config().rope_neox);
  ExpectSameModel(spec, *g, *h1);
  ExpectSameModel(spec, *h1, *h3);
  // The values are the spec's, and the GGUF Q rows really are permuted.
  auto w = testutil::TinyModelWeights(spec);
  EXPECT_EQ(ReadAll(*h1, "blk.1.attn_q.weight"), w["blk.1.attn_q.weight"].values);
  EXPECT_NE(ReadAll(*g, "blk.1.attn_q.weight"), w["blk.1.attn_q.weight"].values);
  EXPECT_EQ(ReadAll(*g, "blk.1.attn_v.weight"), w["blk.1.attn_v.weight"].values);
}

TEST(ModelFileTest, GgufAndSafetensorsAgreeForQwen2WithBias) {
  TinyModelSpec spec;
  spec.arch = "qwen2";
  spec.qkv_bias = true;
  spec.tied = true;
  spec.seed = 7;
  const std::string gguf = TempPath("qwen.gguf"), hf = TempPath("qwen_hf");
  ASSERT_TRUE(testutil::WriteTinyGguf(spec, gguf).ok());
  ASSERT_TRUE(testutil::WriteTinyHfDir(spec, hf, 2).ok());
  auto g = MustOpen(gguf), h = MustOpen(hf);
  ASSERT_TRUE(g && h);
  EXPECT_TRUE(g->config().rope_neox);
  EXPECT_TRUE(g->config().qkv_bias);
  EXPECT_TRUE(h->config().tied_embeddings);
  EXPECT_FALSE(g->HasTensor("output.weight"));
  ExpectSameModel(spec, *g, *h);
  // qwen2 GGUF keeps the HF row order.
  auto w = testutil::TinyModelWeights(spec);
  EXPECT_EQ(ReadAll(*g, "blk.0.attn_k.bias"), w["blk.0.attn_k.bias"].values);
}

TEST(ModelFileTest, HalfPrecisionFormatsRoundTheSameWay) {
  TinyModelSpec spec;
  spec.layers = 1;
  for (auto [dtype, type] :
       {std::pair{"F16", GgmlType::kF16}, std::pair{"BF16", GgmlType::kBF16}}) {
    SCOPED_TRACE(dtype);
    spec.gguf_weight_type = type;
    const std::string gguf = TempPath(std::string("half_") + dtype + ".gguf");
    const std::string hf = TempPath(std::string("half_") + dtype + "_hf");
    ASSERT_TRUE(testutil::WriteTinyGguf(spec, gguf).ok());
    ASSERT_TRUE(testutil::WriteTinyHfDir(spec, hf, 1, dtype).ok());
    auto g = MustOpen(gguf), h = MustOpen(hf);
    ASSERT_TRUE(g && h);
    for (const char* name : {"blk.0.ffn_up.weight", "blk.0.attn_q.weight", "token_embd.weight"}) {
      EXPECT_EQ(Canonical(*g, spec, name), Canonical(*h, spec, name)) << name;
    }
    auto exact = testutil::TinyModelWeights(spec)["blk.0.ffn_up.weight"].values;
    auto got = ReadAll(*h, "blk.0.ffn_up.weight");
    EXPECT_NE(got, exact);  // rounded
    for (size_t i = 0; i < got.size(); ++i) ASSERT_NEAR(got[i], exact[i], 2e-3f);
  }
}

TEST(ModelFileTest, RangeReadsEqualSlicesOfFullReads) {
  TinyModelSpec spec;
  spec.layers = 1;
  for (GgmlType type :
       {GgmlType::kF32, GgmlType::kF16, GgmlType::kQ8_0, GgmlType::kQ4_0, GgmlType::kQ4_1}) {
    SCOPED_TRACE(GgmlTypeName(type));
    spec.gguf_weight_type = type;
    const std::string path = TempPath(std::string("range_") + GgmlTypeName(type) + ".gguf");
    const std::string hf = TempPath("range_hf");
    ASSERT_TRUE(testutil::WriteTinyGguf(spec, path).ok());
    ASSERT_TRUE(testutil::WriteTinyHfDir(spec, hf).ok());
    auto g = MustOpen(path), h = MustOpen(hf);
    ASSERT_TRUE(g && h);
    for (const ModelFile* m : {g.get(), h.get()}) {
      const std::string name = "blk.0.ffn_down.weight";  // {64, 128}
      const std::vector<float> full = ReadAll(*m, name);
      for (IndexRange rows : {IndexRange{0, 64}, IndexRange{5, 9}, IndexRange{63, 64}}) {
        for (IndexRange cols : {IndexRange{0, 128}, IndexRange{32, 96}, IndexRange{3, 70},
                                IndexRange{127, 128}, IndexRange{10, 10}}) {
          std::vector<float> part(rows.size() * cols.size());
          ASSERT_TRUE(m->ReadF32(name, rows, cols, part.data()).ok());
          for (int64_t r = 0; r < rows.size(); ++r) {
            for (int64_t c = 0; c < cols.size(); ++c) {
              ASSERT_EQ(part[r * cols.size() + c], full[(rows.begin + r) * 128 + cols.begin + c])
                  << m->format() << " r=" << r << " c=" << c;
            }
          }
        }
      }
      // Quantized values stay close to the exact ones.
      auto exact = testutil::TinyModelWeights(spec)[name].values;
      for (size_t i = 0; i < full.size(); ++i) ASSERT_NEAR(full[i], exact[i], 0.05f) << i;
      // 1-D tensors are one row.
      std::vector<float> norm(10);
      EXPECT_TRUE(m->ReadF32("blk.0.attn_norm.weight", {0, 1}, {4, 14}, norm.data()).ok());
      EXPECT_EQ(norm[0], ReadAll(*m, "blk.0.attn_norm.weight")[4]);
      // Errors.
      float x;
      EXPECT_EQ(m->ReadF32(name, {0, 65}, {0, 1}, &x).code(), StatusCode::kOutOfRange);
      EXPECT_EQ(m->ReadF32(name, {0, 1}, {120, 129}, &x).code(), StatusCode::kOutOfRange);
      EXPECT_EQ(m->ReadF32(name, {-1, 1}, {0, 1}, &x).code(), StatusCode::kOutOfRange);
      EXPECT_EQ(m->ReadF32("blk.0.attn_norm.weight", {0, 2}, {0, 1}, &x).code(),
                StatusCode::kOutOfRange);
      auto missing = m->ReadF32("blk.9.ffn_up.weight", {0, 1}, {0, 1}, &x);
      EXPECT_EQ(missing.code(), StatusCode::kNotFound);
      EXPECT_NE(missing.message().find("blk.9.ffn_up.weight"), std::string::npos);
      EXPECT_EQ(m->TensorShape("nope").status().code(), StatusCode::kNotFound);
    }
  }
}

// Replaces the first occurrence of `from` in the file with `to` (same length).
void PatchFile(const std::string& path, const std::string& from, const std::string& to) {
  ASSERT_EQ(from.size(), to.size());
  std::ifstream in(path, std::ios::binary);
  std::string s((std::istreambuf_iterator<char>(in)), {});
  in.close();
  size_t pos = s.find(from);
  ASSERT_NE(pos, std::string::npos) << from;
  s.replace(pos, from.size(), to);
  std::ofstream(path, std::ios::binary | std::ios::trunc) << s;
}

std::string LeBytes(uint64_t v, int n) { return std::string(reinterpret_cast<char*>(&v), n); }

TEST(ModelFileTest, BrokenGgufModelsNameTheProblem) {
  TinyModelSpec spec;
  spec.layers = 2;
  auto open_patched = [&](const std::string& name, const std::string& from, const std::string& to) {
    const std::string path = TempPath(name);
    EXPECT_TRUE(testutil::WriteTinyGguf(spec, path).ok());
    PatchFile(path, from, to);
    return ModelFile::Open(path);
  };
  const std::string up = "blk.1.ffn_up.weight";
  auto r = open_patched("missing.gguf", up, "blk.1.ffn_uX.weight");
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.status().code(), StatusCode::kNotFound);
  EXPECT_NE(r.status().message().find(up), std::string::npos) << r.status().ToString();
  EXPECT_NE(r.status().message().find("missing.gguf"), std::string::npos);

  // attn_norm declared with 32 elements instead of 64.
  const std::string norm = "blk.0.attn_norm.weight";
  r = open_patched("shape.gguf", LeBytes(norm.size(), 8) + norm + LeBytes(1, 4) + LeBytes(64, 8),
                   LeBytes(norm.size(), 8) + norm + LeBytes(1, 4) + LeBytes(32, 8));
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.status().code(), StatusCode::kInvalidArgument);
  EXPECT_NE(r.status().message().find(norm), std::string::npos) << r.status().ToString();

  r = open_patched("arch.gguf", LeBytes(5, 8) + "llama", LeBytes(5, 8) + "gpt-j");
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.status().code(), StatusCode::kUnimplemented);
  EXPECT_NE(r.status().message().find("unsupported architecture 'gpt-j' in "), std::string::npos);

  EXPECT_EQ(ModelFile::Open(TempPath("no_such_model")).status().code(), StatusCode::kNotFound);
}

void WriteText(const std::string& path, const std::string& text) {
  std::ofstream(path, std::ios::binary | std::ios::trunc) << text;
}

TEST(ModelFileTest, BrokenSafetensorsModelsNameTheProblem) {
  TinyModelSpec spec;
  spec.layers = 1;
  const std::string dir = TempPath("broken_hf");
  const std::string st = dir + "/model.safetensors";
  auto fresh = [&] { ASSERT_TRUE(testutil::WriteTinyHfDir(spec, dir).ok()); };
  auto expect_error = [&](const std::string& needle) {
    auto r = ModelFile::Open(dir);
    ASSERT_FALSE(r.ok()) << needle;
    EXPECT_NE(r.status().message().find(needle), std::string::npos) << r.status().ToString();
  };

  fresh();
  ASSERT_TRUE(ModelFile::Open(dir).ok());
  // Missing tensor: rewrite the file without ffn_up.
  {
    std::vector<testutil::SafetensorsTensor> ts;
    for (auto& [name, t] : testutil::TinyModelWeights(spec)) {
      if (name == "blk.0.ffn_up.weight") continue;
      // Reuse the HF names the writer uses by mapping through the reader.
      ts.push_back({name, t.shape, t.values});
    }
    ASSERT_TRUE(testutil::WriteSafetensors(st, ts, "F32").ok());
    expect_error("blk.0.ffn_up.weight");
  }
  fresh();
  PatchFile(dir + "/config.json", "\"intermediate_size\": 128", "\"intermediate_size\": 96 ");
  expect_error("blk.0.ffn_gate.weight");
  fresh();
  PatchFile(dir + "/config.json", "\"model_type\": \"llama\"", "\"model_type\": \"gpt_2\"");
  expect_error("unsupported architecture 'gpt_2'");
  fresh();
  PatchFile(st, "\"dtype\":\"F32\"", "\"dtype\":\"F64\"");
  expect_error("data bytes do not match");
  fresh();
  PatchFile(st, "\"dtype\":\"F32\"", "\"dtype\":\"Q32\"");
  expect_error("unknown dtype");
  fresh();
  PatchFile(st, "\"data_offsets\":[0,", "\"data_offsets\":[9,");
  expect_error("model.safetensors");
  fresh();
  PatchFile(st, "{", "[");
  expect_error("not a JSON object");
  fresh();
  {
    std::fstream f(st, std::ios::binary | std::ios::in | std::ios::out);
    const uint64_t huge = uint64_t{1} << 62;
    f.write(reinterpret_cast<const char*>(&huge), 8);
  }
  expect_error("header length");
  // Truncated data section.
  fresh();
  {
    std::ifstream in(st, std::ios::binary);
    std::string s((std::istreambuf_iterator<char>(in)), {});
    in.close();
    WriteText(st, s.substr(0, s.size() - 100));
    expect_error("outside");
  }
  ::unlink(st.c_str());
  expect_error("model.safetensors");
}

TEST(ModelFileTest, BrokenShardIndexIsAnError) {
  TinyModelSpec spec;
  spec.layers = 1;
  const std::string dir = TempPath("broken_shards");
  ASSERT_TRUE(testutil::WriteTinyHfDir(spec, dir, 2).ok());
  ASSERT_TRUE(ModelFile::Open(dir).ok());
  const std::string index = dir + "/model.safetensors.index.json";
  PatchFile(index, "model-00002-of-00002", "../00002-of-00002.st");
  auto r = ModelFile::Open(dir);
  ASSERT_FALSE(r.ok());
  EXPECT_NE(r.status().message().find("bad shard file name"), std::string::npos);
  ASSERT_TRUE(testutil::WriteTinyHfDir(spec, dir, 2).ok());
  PatchFile(index, "model-00002-of-00002", "model-00001-of-00002");
  r = ModelFile::Open(dir);
  ASSERT_FALSE(r.ok());
  EXPECT_NE(r.status().message().find("is not in its shard"), std::string::npos)
      << r.status().ToString();
}

TEST(ModelFileTest, MapsHfNamesToCanonicalNames) {
  EXPECT_EQ(CanonicalTensorName("model.embed_tokens.weight"), "token_embd.weight");
  EXPECT_EQ(CanonicalTensorName("model.norm.weight"), "output_norm.weight");
  EXPECT_EQ(CanonicalTensorName("lm_head.weight"), "output.weight");
  EXPECT_EQ(CanonicalTensorName("model.layers.12.input_layernorm.weight"),
            "blk.12.attn_norm.weight");
  EXPECT_EQ(CanonicalTensorName("model.layers.0.self_attn.o_proj.weight"),
            "blk.0.attn_output.weight");
  EXPECT_EQ(CanonicalTensorName("model.layers.3.self_attn.v_proj.bias"), "blk.3.attn_v.bias");
  EXPECT_EQ(CanonicalTensorName("model.layers.3.post_attention_layernorm.weight"),
            "blk.3.ffn_norm.weight");
  EXPECT_EQ(CanonicalTensorName("model.layers.3.mlp.down_proj.weight"), "blk.3.ffn_down.weight");
  EXPECT_EQ(CanonicalTensorName("model.rotary_emb.inv_freq"), "model.rotary_emb.inv_freq");
}

// The real SmolLM2 GGUF, when present (SKIPJOIN_MODEL_PATH or the cache).
TEST(ModelFileTest, OpensRealSmolLm2WhenPresent) {
  const std::string path = testutil::SmolLm2ModelPath();
  if (path.empty()) GTEST_SKIP() << "SmolLM2-135M-Instruct.Q4_1.gguf not found";
  auto m = MustOpen(path);
  ASSERT_TRUE(m);
  const ModelConfig& c = m->config();
  if (path.find("SmolLM2-135M") != std::string::npos) {
    EXPECT_EQ(c.architecture, "llama");
    EXPECT_EQ(c.num_layers, 30);
    EXPECT_EQ(c.hidden_size, 576);
    EXPECT_EQ(c.intermediate_size, 1536);
    EXPECT_EQ(c.num_heads, 9);
    EXPECT_EQ(c.num_kv_heads, 3);
    EXPECT_EQ(c.head_dim, 64);
    EXPECT_EQ(c.vocab_size, 49152);
    EXPECT_TRUE(c.tied_embeddings);
    EXPECT_FALSE(c.rope_neox);
  }
  // Partial reads of quantized tensors equal slices of full reads.
  for (const char* name : {"token_embd.weight", "blk.0.attn_q.weight", "blk.0.ffn_down.weight"}) {
    auto shape = *m->TensorShape(name);
    IndexRange rows{1, 4}, cols{5, shape[1] - 3};
    std::vector<float> part(rows.size() * cols.size()), row(shape[1]);
    ASSERT_TRUE(m->ReadF32(name, rows, cols, part.data()).ok());
    for (int64_t r = rows.begin; r < rows.end; ++r) {
      ASSERT_TRUE(m->ReadF32(name, {r, r + 1}, {0, shape[1]}, row.data()).ok());
      for (int64_t j = cols.begin; j < cols.end; ++j) {
        ASSERT_EQ(part[(r - rows.begin) * cols.size() + j - cols.begin], row[j]);
        ASSERT_TRUE(std::isfinite(row[j]));
      }
    }
  }
}

}  // namespace
}  // namespace skipjoin
