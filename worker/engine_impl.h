// Internal state of Engine, shared by engine.cc (loading) and forward.cc
// (step execution). Not a public header.
#pragma once

#include <array>
#include <chrono>
#include <string>
#include <memory>
#include <vector>

#include "common/model_file.h"
#include "worker/engine.h"

namespace skipjoin {

// Op categories of the per-op profile (EngineOptions::profile).
enum class OpKind : size_t {
  kEmbed, kNorm, kQkv, kRope, kKvAppend, kAttention, kOutProj, kAllReduce, kGateUp, kSiluMul,
  kDown, kLmHead, kSample, kCount
};
inline const char* OpKindName(OpKind k) {
  switch (k) {
    case OpKind::kEmbed: return "embed";
    case OpKind::kNorm: return "rmsnorm";
    case OpKind::kQkv: return "qkv_gemm";
    case OpKind::kRope: return "rope";
    case OpKind::kKvAppend: return "kv_append";
    case OpKind::kAttention: return "attention";
    case OpKind::kOutProj: return "o_gemm";
    case OpKind::kAllReduce: return "collectives";
    case OpKind::kGateUp: return "gate_up_gemm";
    case OpKind::kSiluMul: return "silu_mul";
    case OpKind::kDown: return "down_gemm";
    case OpKind::kLmHead: return "lm_head_gemm";
    case OpKind::kSample: return "sampling";
    case OpKind::kCount: return "?";
  }
  return "?";
}

struct LayerWeights {
  void* attn_norm = nullptr;  // [H]
  kernels::WeightRef wqkv;    // [(q_local + 2 kv_local) * hd, H]
  void* bqkv = nullptr;       // [(q_local + 2 kv_local) * hd] or null
  kernels::WeightRef wo;      // [H, q_local * hd]
  void* ffn_norm = nullptr;   // [H]
  kernels::WeightRef w_gate_up;  // [2 * ffn_local, H]: gate rows then up rows
  kernels::WeightRef w_down;     // [H, ffn_local]
};

// This rank's slice of the model dimensions.
struct ShardDims {
  int32_t q_heads = 0, q_head_begin = 0;
  int32_t kv_heads = 0, kv_head_begin = 0;
  int64_t ffn = 0, ffn_begin = 0;
  int64_t vocab = 0, vocab_begin = 0;  // vocab slice, padded: vocab * tp >= model vocab
  int64_t qkv_width(int64_t hd) const { return (int64_t{q_heads} + 2 * kv_heads) * hd; }
};

struct Engine::Impl {
  EngineOptions options;
  ModelConfig config;
  std::unique_ptr<kernels::Backend> backend;
  std::unique_ptr<Communicator> own_comm;  // solo communicator when none was given
  Communicator* comm = nullptr;
  ShardDims shard;
  int64_t weight_bytes = 0;
  double load_seconds = 0.0;

  // Weights (backend memory).
  kernels::WeightRef embed;    // [vocab, H], full on every rank
  void* out_norm = nullptr;  // [H]
  kernels::WeightRef lm_head;  // [shard.vocab, H]
  void* inv_freq = nullptr;  // [hd / 2] float32
  std::vector<LayerWeights> layers;
  std::vector<void*> allocations;     // backend buffers to free
  std::vector<void*> host_allocations;

  // KV pools per layer.
  kernels::KvLayout kv;      // device pool layout
  int32_t num_host_blocks = 0;
  std::vector<void*> k_dev, v_dev, k_host, v_host;

  // Step scratch (backend memory), sized for options.max_step_tokens rows.
  void *x = nullptr, *h = nullptr, *qkv = nullptr, *attn = nullptr, *o = nullptr,
       *gate_up = nullptr, *act = nullptr, *rows_h = nullptr, *logits_local = nullptr,
       *logits_all = nullptr;
  int64_t logit_rows_capacity = 0;
  // [rows, vocab] for sampling on the host: backend host memory (pinned on a
  // GPU, so the download runs at full copy bandwidth), grown geometrically.
  float* host_logits = nullptr;
  int64_t host_logits_floats = 0;
  std::vector<float> host_gathered;  // [tp, rows, vocab shard] as gathered
  std::array<double, static_cast<size_t>(OpKind::kCount)> op_seconds{};

  Result<void*> Alloc(size_t bytes);
  // Frees old (an Alloc result or null) and allocates bytes; contents not kept.
  Result<void*> Realloc(void* old, size_t bytes);
  // host_logits with room for at least `floats` values.
  Status ReserveHostLogits(int64_t floats);
  ~Impl();
};

}  // namespace skipjoin
