// A sequence's logits and greedy tokens must not depend on how it is run:
// alone or batched with 7 others, any prefill chunk size, block size 8 or 16,
// any placement of its blocks, a swap to the host pool and back, GGUF or HF
// safetensors, TP=1 or TP=2.
#include <thread>

#include "gtest/gtest.h"
#include "tests/engine/engine_harness.h"
#include "tests/testutil/tiny_model.h"
#include "common/gguf.h"

namespace skipjoin {
namespace {

using testing::MaxAbsDiff;
using testing::RunOptions;
using testing::RunSequences;
using testing::SeqRecord;

// float32 reductions reordered by a different batch shape or split stay well
// inside this; a real bug (wrong position, wrong block) moves logits by ~0.1+.
constexpr float kTol = 2e-4f;

std::vector<int32_t> Prompt(int len, int seed, int64_t vocab) {
  std::vector<int32_t> p(len);
  uint32_t x = 2654435761u * (seed + 1);
  for (int i = 0; i < len; ++i) {
    x = x * 1664525u + 1013904223u;
    p[i] = static_cast<int32_t>((x >> 8) % (vocab - 3));  // avoid the special tokens at the end
  }
  return p;
}

class EngineInvarianceTest : public ::testing::Test {
 protected:
  static void SetUpTestSuite() {
    dir_ = new std::string(testing::TestTempDir("engine_invariance"));
    testutil::TinyModelSpec spec;
    spec.layers = 2;
    spec.max_context = 512;
    ASSERT_TRUE(testutil::WriteTinyGguf(spec, *dir_ + "/tiny.gguf").ok());
  }
  static void TearDownTestSuite() { delete dir_; }

  std::unique_ptr<Engine> MakeEngine(int32_t block_size = 16, int32_t host_blocks = 0,
                                     const std::string& file = "tiny.gguf") {
    EngineOptions o;
    o.model_path = *dir_ + "/" + file;
    o.block_size = block_size;
    o.num_device_blocks = 512;
    o.num_host_blocks = host_blocks;
    o.num_threads = 2;
    auto e = Engine::Create(o, nullptr);
    EXPECT_TRUE(e.ok()) << e.status().ToString();
    return e.ok() ? std::move(e).value() : nullptr;
  }

  static std::string* dir_;
};
std::string* EngineInvarianceTest::dir_ = nullptr;

TEST_F(EngineInvarianceTest, BatchingWithSevenOthersDoesNotChangeOutput) {
  auto engine = MakeEngine();
  const int64_t V = engine->config().vocab_size;
  std::vector<int32_t> prompt = Prompt(37, 0, V);
  SeqRecord alone = RunSequences(*engine, {prompt}, {})[0];
  std::vector<std::vector<int32_t>> batch = {prompt};
  for (int i = 1; i < 8; ++i) batch.push_back(Prompt(5 + 9 * i, i, V));
  RunOptions opt;
  opt.chunk = 16;  // mixed steps: chunks of several prompts together, then decodes
  SeqRecord batched = RunSequences(*engine, batch, opt)[0];
  EXPECT_EQ(alone.tokens, batched.tokens);
  EXPECT_LT(MaxAbsDiff(alone, batched), kTol);
}

TEST_F(EngineInvarianceTest, PrefillChunkSizeDoesNotChangeOutput) {
  auto engine = MakeEngine();
  std::vector<int32_t> prompt = Prompt(150, 3, engine->config().vocab_size);
  SeqRecord whole = RunSequences(*engine, {prompt}, {})[0];
  for (int32_t chunk : {1, 7, 64}) {
    RunOptions opt;
    opt.chunk = chunk;
    SeqRecord chunked = RunSequences(*engine, {prompt}, opt)[0];
    EXPECT_EQ(whole.tokens, chunked.tokens) << "chunk " << chunk;
    EXPECT_LT(MaxAbsDiff(whole, chunked), kTol) << "chunk " << chunk;
  }
}

TEST_F(EngineInvarianceTest, BlockSizeAndPlacementDoNotChangeOutput) {
  auto e16 = MakeEngine(16);
  auto e8 = MakeEngine(8);
  std::vector<int32_t> prompt = Prompt(70, 5, e16->config().vocab_size);
  SeqRecord a = RunSequences(*e16, {prompt}, {})[0];
  RunOptions shuffled;
  shuffled.block_shuffle_seed = 77;
  shuffled.chunk = 13;
  SeqRecord b = RunSequences(*e8, {prompt}, shuffled)[0];
  SeqRecord c = RunSequences(*e16, {prompt}, shuffled)[0];
  EXPECT_EQ(a.tokens, b.tokens);
  EXPECT_EQ(a.tokens, c.tokens);
  EXPECT_LT(MaxAbsDiff(a, b), kTol);
  EXPECT_LT(MaxAbsDiff(a, c), kTol);
}

TEST_F(EngineInvarianceTest, SwapToHostAndBackDoesNotChangeOutput) {
  auto engine = MakeEngine(16, /*host_blocks=*/64);
  std::vector<int32_t> prompt = Prompt(45, 9, engine->config().vocab_size);
  SeqRecord plain = RunSequences(*engine, {prompt}, {})[0];
  RunOptions opt;
  opt.swap_round_trip = true;
  SeqRecord swapped = RunSequences(*engine, {prompt}, opt)[0];
  EXPECT_EQ(plain.tokens, swapped.tokens);
  EXPECT_LT(MaxAbsDiff(plain, swapped), kTol);
}

TEST_F(EngineInvarianceTest, SwapWithoutHostPoolIsAnError) {
  auto engine = MakeEngine(16, 0);
  StepInput in;
  in.swap_out.push_back({0, 0});
  auto r = engine->Step(in);
  EXPECT_FALSE(r.ok());
}

TEST_F(EngineInvarianceTest, GgufAndSafetensorsGiveTheSameModel) {
  // Each family's conventions must agree across formats: GGUF llama permutes
  // Q/K rows for adjacent-pair rotary, HF uses half-split rotary; Qwen2 has QKV
  // biases and half-split rotary in both; llama3 rope scaling is a config block
  // in HF and a rope_freqs tensor in GGUF; tied embeddings have no output.weight.
  struct Case {
    const char* name;
    testutil::TinyModelSpec spec;
  };
  std::vector<Case> cases(5);
  cases[0].name = "llama";
  cases[1].name = "qwen2";
  cases[1].spec.arch = "qwen2";
  cases[1].spec.qkv_bias = true;
  cases[2].name = "llama3_rope_scaling";
  cases[2].spec.max_context = 512;
  cases[2].spec.rope_scaling.type = RopeScaling::Type::kLlama3;
  cases[2].spec.rope_scaling.factor = 8.0;
  cases[2].spec.rope_scaling.low_freq_factor = 1.0;
  cases[2].spec.rope_scaling.high_freq_factor = 4.0;
  cases[2].spec.rope_scaling.original_max_position = 64;  // small, so scaling bites at these lengths
  cases[3].name = "mistral_tied";
  cases[3].spec.arch = "mistral";
  cases[3].spec.tied = true;
  cases[4].name = "gqa_4_to_1";
  cases[4].spec.kv_heads = 1;
  for (const Case& c : cases) {
    const std::string base = *dir_ + "/formats_" + c.name;
    ASSERT_TRUE(testutil::WriteTinyGguf(c.spec, base + ".gguf").ok()) << c.name;
    ASSERT_TRUE(testutil::WriteTinyHfDir(c.spec, base + "_hf", 2).ok()) << c.name;
    EngineOptions o;
    o.num_device_blocks = 64;
    o.model_path = base + ".gguf";
    auto gguf = Engine::Create(o, nullptr);
    o.model_path = base + "_hf";
    auto hf = Engine::Create(o, nullptr);
    ASSERT_TRUE(gguf.ok()) << c.name << ": " << gguf.status().ToString();
    ASSERT_TRUE(hf.ok()) << c.name << ": " << hf.status().ToString();
    EXPECT_TRUE((*hf)->config().rope_neox) << c.name;
    EXPECT_EQ((*gguf)->config().rope_neox, c.spec.arch == "qwen2") << c.name;
    std::vector<int32_t> prompt = Prompt(120, 11, c.spec.vocab_size);
    SeqRecord a = RunSequences(**gguf, {prompt}, {})[0];
    SeqRecord b = RunSequences(**hf, {prompt}, {})[0];
    EXPECT_EQ(a.tokens, b.tokens) << c.name;
    EXPECT_LT(MaxAbsDiff(a, b), kTol) << c.name;
  }
}

TEST_F(EngineInvarianceTest, QuantizedWeightsComputeTheDequantizedModel) {
  // Kept quantized ("auto"), the Q4_1 / Q8_0 weights are decoded inside the
  // kernels; "dense" decodes them at load. Same model, same outputs, also when
  // batching switches between the small-m fused path and the tiled GEMM path.
  for (GgmlType type : {GgmlType::kQ4_1, GgmlType::kQ8_0, GgmlType::kQ4_0}) {
    testutil::TinyModelSpec spec;
    spec.gguf_weight_type = type;
    const std::string path = *dir_ + "/quant_" + GgmlTypeName(type) + ".gguf";
    ASSERT_TRUE(testutil::WriteTinyGguf(spec, path).ok());
    EngineOptions o;
    o.model_path = path;
    o.num_device_blocks = 512;
    auto quant = Engine::Create(o, nullptr);
    o.weight_format = "dense";
    auto dense = Engine::Create(o, nullptr);
    ASSERT_TRUE(quant.ok() && dense.ok());
    EXPECT_LT((*quant)->weight_bytes(), (*dense)->weight_bytes() / 2) << GgmlTypeName(type);
    const int64_t V = spec.vocab_size;
    std::vector<std::vector<int32_t>> batch;
    for (int i = 0; i < 10; ++i) batch.push_back(Prompt(6 + 5 * i, 40 + i, V));
    SeqRecord alone = RunSequences(**quant, {batch[0]}, {})[0];
    SeqRecord batched = RunSequences(**quant, batch, {})[0];
    SeqRecord reference = RunSequences(**dense, {batch[0]}, {})[0];
    EXPECT_EQ(alone.tokens, reference.tokens) << GgmlTypeName(type);
    EXPECT_EQ(batched.tokens, reference.tokens) << GgmlTypeName(type);
    EXPECT_LT(MaxAbsDiff(alone, reference), kTol) << GgmlTypeName(type);
    EXPECT_LT(MaxAbsDiff(batched, reference), kTol) << GgmlTypeName(type);
  }
}

TEST_F(EngineInvarianceTest, BadStepInputsAreErrorsAndTheEngineStaysUsable) {
  auto engine = MakeEngine();
  const int64_t V = engine->config().vocab_size;
  auto step_with = [&](auto mutate) {
    StepInput in;
    SeqInput s;
    s.tokens = {1, 2, 3};
    s.block_table = {0};
    s.sample = true;
    mutate(s);
    in.seqs.push_back(s);
    return engine->Step(in);
  };
  EXPECT_FALSE(step_with([&](SeqInput& s) { s.tokens[1] = static_cast<int32_t>(V); }).ok());
  EXPECT_FALSE(step_with([](SeqInput& s) { s.block_table = {100000}; }).ok());
  EXPECT_FALSE(step_with([](SeqInput& s) { s.block_table.clear(); }).ok());
  EXPECT_FALSE(step_with([](SeqInput& s) { s.tokens.clear(); }).ok());
  EXPECT_FALSE(step_with([](SeqInput& s) { s.start_pos = 510; }).ok());  // past the context window
  EXPECT_TRUE(step_with([](SeqInput&) {}).ok());
}

// Runs the same prompt on tp ranks in threads of this process.
SeqRecord RunTensorParallel(const std::string& path, int tp, const std::vector<int32_t>& prompt) {
  LocalCommGroup group(tp);
  std::vector<SeqRecord> out(tp);
  std::vector<std::thread> threads;
  for (int r = 0; r < tp; ++r) {
    threads.emplace_back([&, r] {
      auto comm = group.Rank(r);
      EngineOptions o;
      o.model_path = path;
      o.tp_rank = r;
      o.tp_size = tp;
      o.num_device_blocks = 64;
      o.num_threads = 1;
      auto e = Engine::Create(o, comm.get());
      if (!e.ok()) {
        ADD_FAILURE() << e.status().ToString();
        return;
      }
      // Every rank gets the same plans and returns the same outputs.
      out[r] = RunSequences(**e, {prompt}, {})[0];
    });
  }
  for (auto& t : threads) t.join();
  return out[0];
}

TEST_F(EngineInvarianceTest, TensorParallelTwoRanksMatchesOneRank) {
  for (bool tied : {false, true}) {
    testutil::TinyModelSpec spec;
    spec.tied = tied;
    spec.vocab_size = testutil::TinyTokenizerVocabSize() + 1;  // odd: last vocab shard is padded
    const std::string path = *dir_ + (tied ? "/tp_tied.gguf" : "/tp.gguf");
    ASSERT_TRUE(testutil::WriteTinyGguf(spec, path).ok());
    std::vector<int32_t> prompt = Prompt(29, 13, spec.vocab_size);
    SeqRecord one = RunTensorParallel(path, 1, prompt);
    SeqRecord two = RunTensorParallel(path, 2, prompt);
    EXPECT_EQ(one.tokens, two.tokens) << "tied=" << tied;
    EXPECT_LT(MaxAbsDiff(one, two), kTol) << "tied=" << tied;
  }
}

}  // namespace
}  // namespace skipjoin
