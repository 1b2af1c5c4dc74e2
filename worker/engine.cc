// Engine creation: shard arithmetic, weight loading (dequantized to float32 on
// the host, uploaded in the backend's dtype), rotary tables, KV pools.
#include <algorithm>
#include <cmath>
#include <optional>
#include <tuple>

#include "common/gguf.h"
#include "common/logging.h"
#include "worker/engine_impl.h"

#include "kernels/backend_loader.h"

namespace skipjoin {
namespace {

Result<ShardDims> ComputeShard(const ModelConfig& c, int rank, int tp) {
  ShardDims s;
  if (tp < 1 || rank < 0 || rank >= tp) {
    return InvalidArgument("tp_rank " + std::to_string(rank) + " outside tp_size " + std::to_string(tp));
  }
  if (c.num_heads % tp != 0) {
    return InvalidArgument("tp_size " + std::to_string(tp) + " does not divide the " +
                           std::to_string(c.num_heads) + " attention heads");
  }
  if (c.intermediate_size % tp != 0) {
    return InvalidArgument("tp_size " + std::to_string(tp) + " does not divide intermediate_size " +
                           std::to_string(c.intermediate_size));
  }
  s.q_heads = static_cast<int32_t>(c.num_heads / tp);
  s.q_head_begin = rank * s.q_heads;
  if (tp <= c.num_kv_heads) {
    if (c.num_kv_heads % tp != 0) {
      return InvalidArgument("tp_size " + std::to_string(tp) + " does not divide the " +
                             std::to_string(c.num_kv_heads) + " KV heads");
    }
    s.kv_heads = static_cast<int32_t>(c.num_kv_heads / tp);
    s.kv_head_begin = rank * s.kv_heads;
  } else {
    // More ranks than KV heads: each rank keeps a replica of the one KV head its
    // query heads read.
    if (tp % c.num_kv_heads != 0) {
      return InvalidArgument("tp_size " + std::to_string(tp) + " is not a multiple of the " +
                             std::to_string(c.num_kv_heads) + " KV heads");
    }
    s.kv_heads = 1;
    s.kv_head_begin = static_cast<int32_t>(rank / (tp / c.num_kv_heads));
  }
  s.ffn = c.intermediate_size / tp;
  s.ffn_begin = rank * s.ffn;
  s.vocab = (c.vocab_size + tp - 1) / tp;
  s.vocab_begin = rank * s.vocab;
  return s;
}

// Inverse frequencies of the rotary pairs, with llama3 or linear scaling.
std::vector<float> RopeInvFreq(const ModelConfig& c, const std::vector<float>& freq_factors) {
  const int64_t half = c.head_dim / 2;
  std::vector<float> inv(half);
  for (int64_t i = 0; i < half; ++i) {
    double f = std::pow(c.rope_theta, -2.0 * static_cast<double>(i) / static_cast<double>(c.head_dim));
    const RopeScaling& rs = c.rope_scaling;
    switch (rs.type) {
      case RopeScaling::Type::kNone:
        break;
      case RopeScaling::Type::kLinear:
        f /= rs.factor;
        break;
      case RopeScaling::Type::kLlama3: {
        const double low_wavelen = rs.original_max_position / rs.low_freq_factor;
        const double high_wavelen = rs.original_max_position / rs.high_freq_factor;
        const double wavelen = 2.0 * M_PI / f;
        if (wavelen > low_wavelen) {
          f /= rs.factor;
        } else if (wavelen >= high_wavelen) {
          const double smooth = (rs.original_max_position / wavelen - rs.low_freq_factor) /
                                (rs.high_freq_factor - rs.low_freq_factor);
          f = (1.0 - smooth) * f / rs.factor + smooth * f;
        }
        break;
      }
    }
    if (!freq_factors.empty()) f /= freq_factors[i];
    inv[i] = static_cast<float>(f);
  }
  return inv;
}

// "cpu", or "cuda" / "cuda:N" in a build with the CUDA backend.
Result<std::unique_ptr<kernels::Backend>> MakeBackend(const EngineOptions& options) {
  const std::string& dev = options.device;
  if (dev == "cpu") return kernels::MakeCpuBackend(options.num_threads);
  if (dev == "cuda" || dev.rfind("cuda:", 0) == 0) {
    int ordinal = 0;
    if (dev != "cuda") {
      const std::string digits = dev.substr(5);
      if (digits.empty() || digits.size() > 4 || digits.find_first_not_of("0123456789") != std::string::npos) {
        return InvalidArgument("device '" + dev + "': expected cuda:N with N a device ordinal");
      }
      ordinal = std::stoi(digits);
    }
    // The NCCL communicator exists (kernels/cuda/nccl_communicator.h), but the
    // CUDA forward pass keeps bf16 activations that it does not reduce yet,
    // and the worker does not pass the NCCL id around yet.
    if (options.tp_size != 1) {
      return Unimplemented("device '" + dev + "': tensor parallelism on CUDA: the NCCL communicator "
                           "is not wired into the CUDA forward pass yet (use tp_size 1)");
    }
    auto backend = kernels::LoadCudaBackend(ordinal);
    if (!backend.ok()) return backend.status().WithContext("device '" + dev + "'");
    return std::move(backend).value();
  }
  return InvalidArgument("device '" + dev + "' is not cpu or cuda:N");
}

}  // namespace

Result<kernels::DeviceMemory> ProbeDevice(const std::string& device) {
  EngineOptions o;
  o.device = device;
  o.num_threads = 1;
  SJ_ASSIGN_OR_RETURN(std::unique_ptr<kernels::Backend> backend, MakeBackend(o));
  auto mem = backend->MemoryInfo();
  if (!mem.ok()) return mem.status().WithContext("device '" + device + "'");
  return *mem;
}

Result<void*> Engine::Impl::Alloc(size_t bytes) {
  SJ_ASSIGN_OR_RETURN(void* p, backend->Alloc(bytes));
  allocations.push_back(p);
  return p;
}

Result<void*> Engine::Impl::Realloc(void* old, size_t bytes) {
  if (old != nullptr) {
    auto it = std::find(allocations.begin(), allocations.end(), old);
    if (it != allocations.end()) {
      allocations.erase(it);
      backend->Free(old);
    }
  }
  return Alloc(bytes);
}

Status Engine::Impl::ReserveHostLogits(int64_t floats) {
  if (floats <= host_logits_floats) return Status::Ok();
  const int64_t cap = std::max(floats, 2 * host_logits_floats);
  if (host_logits != nullptr) {
    host_allocations.erase(std::find(host_allocations.begin(), host_allocations.end(),
                                     static_cast<void*>(host_logits)));
    backend->FreeHost(host_logits);
    host_logits = nullptr;
    host_logits_floats = 0;
  }
  SJ_ASSIGN_OR_RETURN(void* p, backend->AllocHost(static_cast<size_t>(cap) * sizeof(float)));
  host_allocations.push_back(p);
  host_logits = static_cast<float*>(p);
  host_logits_floats = cap;
  return Status::Ok();
}

Engine::Impl::~Impl() {
  if (!backend) return;
  for (void* p : allocations) backend->Free(p);
  for (void* p : host_allocations) backend->FreeHost(p);
}

Engine::Engine(std::unique_ptr<Impl> impl) : impl_(std::move(impl)) {}
Engine::~Engine() = default;

const ModelConfig& Engine::config() const { return impl_->config; }
const EngineOptions& Engine::options() const { return impl_->options; }
const kernels::KvLayout& Engine::kv_layout() const { return impl_->kv; }
int32_t Engine::num_device_blocks() const { return impl_->kv.num_blocks; }
int32_t Engine::num_host_blocks() const { return impl_->num_host_blocks; }
int64_t Engine::weight_bytes() const { return impl_->weight_bytes; }
int64_t Engine::kv_bytes_per_token() const {
  return int64_t{2} * impl_->kv.num_kv_heads * impl_->kv.head_dim * impl_->config.num_layers *
         static_cast<int64_t>(kernels::DTypeSize(impl_->backend->act_dtype()));
}
double Engine::load_seconds() const { return impl_->load_seconds; }

Result<std::unique_ptr<Engine>> Engine::Create(const EngineOptions& options, Communicator* comm,
                                               const LoadProgressFn& progress) {
  const auto t0 = std::chrono::steady_clock::now();
  auto impl = std::make_unique<Impl>();
  impl->options = options;
  if (options.weight_format != "auto" && options.weight_format != "dense") {
    return InvalidArgument("weight_format must be 'auto' or 'dense', got '" + options.weight_format + "'");
  }
  SJ_ASSIGN_OR_RETURN(impl->backend, MakeBackend(options));
  if (options.dtype != "auto" && options.dtype != kernels::DTypeName(impl->backend->act_dtype())) {
    return InvalidArgument("model.dtype '" + options.dtype + "': the " + options.device + " backend computes in " +
                           kernels::DTypeName(impl->backend->act_dtype()) + "; use auto or " +
                           kernels::DTypeName(impl->backend->act_dtype()));
  }
  // Free memory before anything of ours is allocated, for kv_memory_fraction.
  std::optional<kernels::DeviceMemory> memory_at_start;
  if (options.num_device_blocks <= 0 && options.kv_memory_fraction != 0.0) {
    if (!(options.kv_memory_fraction > 0.0 && options.kv_memory_fraction <= 1.0)) {
      return InvalidArgument("kv_memory_fraction must be in (0, 1], got " +
                             std::to_string(options.kv_memory_fraction));
    }
    auto mem = impl->backend->MemoryInfo();
    if (!mem.ok()) {
      return mem.status().WithContext("sizing the KV pool from kv_memory_fraction on '" + options.device +
                                      "' (set num_device_blocks instead)");
    }
    memory_at_start = *mem;
  }
  if (comm == nullptr) {
    if (options.tp_size != 1) return InvalidArgument("tp_size > 1 needs a communicator");
    impl->own_comm = MakeSoloCommunicator();
    comm = impl->own_comm.get();
  }
  if (comm->size() != options.tp_size || comm->rank() != options.tp_rank) {
    return InvalidArgument("communicator rank/size do not match tp_rank/tp_size");
  }
  impl->comm = comm;

  SJ_ASSIGN_OR_RETURN(std::unique_ptr<ModelFile> file, ModelFile::Open(options.model_path));
  const ModelConfig& c = file->config();
  impl->config = c;
  if (std::string err = ValidateModelConfig(c); !err.empty()) {
    return InvalidArgument(options.model_path + ": " + err);
  }
  if (options.max_context > 0) impl->config.max_context = std::min<int64_t>(c.max_context, options.max_context);
  SJ_ASSIGN_OR_RETURN(impl->shard, ComputeShard(c, options.tp_rank, options.tp_size));
  const ShardDims& s = impl->shard;
  const int64_t H = c.hidden_size, hd = c.head_dim;
  kernels::Backend& be = *impl->backend;

  // Every tensor goes host float32 -> backend. Reading a slice only touches the
  // rows this rank needs (columns are sliced after dequantizing whole rows).
  std::vector<float> host;
  const int64_t num_tensors = 3 + c.num_layers * 6;
  int64_t done = 0;
  auto report = [&](const std::string& what) {
    ++done;
    if (progress) progress(done, num_tensors, what);
  };
  const size_t esz = kernels::DTypeSize(be.act_dtype());
  auto expect_shape = [&](const std::string& name, std::vector<int64_t> want) -> Status {
    SJ_ASSIGN_OR_RETURN(std::vector<int64_t> got, file->TensorShape(name));
    if (got != want) {
      auto str = [](const std::vector<int64_t>& v) {
        std::string out = "[";
        for (size_t i = 0; i < v.size(); ++i) out += (i ? ", " : "") + std::to_string(v[i]);
        return out + "]";
      };
      return InvalidArgument(options.model_path + ": tensor " + name + " has shape " + str(got) +
                             ", the config implies " + str(want));
    }
    return Status::Ok();
  };
  struct Part {
    std::string name;
    IndexRange rows;
  };
  // Dense act-dtype buffer stacked from parts (each rows x cols).
  auto load_dense = [&](const std::vector<Part>& parts, IndexRange cols, int64_t pad_rows) -> Result<void*> {
    int64_t total = pad_rows;
    for (const Part& p : parts) total += p.rows.size();
    impl->weight_bytes += total * cols.size() * static_cast<int64_t>(esz);
    SJ_ASSIGN_OR_RETURN(void* dst, impl->Alloc(static_cast<size_t>(total * cols.size()) * esz));
    int64_t row = 0;
    for (const Part& p : parts) {
      host.resize(static_cast<size_t>(p.rows.size() * cols.size()));
      SJ_RETURN_IF_ERROR(file->ReadF32(p.name, p.rows, cols, host.data()).WithContext(options.model_path));
      SJ_RETURN_IF_ERROR(be.UploadF32(static_cast<char*>(dst) + row * cols.size() * esz, host.data(),
                                      p.rows.size() * cols.size()));
      row += p.rows.size();
    }
    if (pad_rows > 0) {
      host.assign(static_cast<size_t>(pad_rows * cols.size()), 0.f);
      SJ_RETURN_IF_ERROR(be.UploadF32(static_cast<char*>(dst) + row * cols.size() * esz, host.data(),
                                      pad_rows * cols.size()));
    }
    return dst;
  };
  // A weight matrix: kept in its quantized block encoding when every part is
  // stored in one format the backend multiplies directly and the column slice
  // is block aligned; else dequantized to the activation dtype.
  auto load_matrix = [&](const std::vector<Part>& parts, IndexRange cols, int64_t pad_rows) -> Result<kernels::WeightRef> {
    std::optional<kernels::WeightFormat> fmt;
    if (options.weight_format == "auto") {
      for (const Part& p : parts) {
        auto t = file->TensorType(p.name);
        std::optional<kernels::WeightFormat> f;
        if (t.ok() && *t == GgmlType::kQ8_0) f = kernels::WeightFormat::kQ8_0;
        if (t.ok() && *t == GgmlType::kQ4_0) f = kernels::WeightFormat::kQ4_0;
        if (t.ok() && *t == GgmlType::kQ4_1) f = kernels::WeightFormat::kQ4_1;
        if (!f || (fmt && *fmt != *f)) {
          fmt.reset();
          break;
        }
        fmt = f;
      }
    }
    if (!fmt || !be.SupportsWeightFormat(*fmt) || cols.begin % kernels::kQuantBlock != 0 ||
        cols.end % kernels::kQuantBlock != 0) {
      SJ_ASSIGN_OR_RETURN(void* d, load_dense(parts, cols, pad_rows));
      return kernels::WeightRef{d, kernels::WeightFormat::kDense};
    }
    std::vector<uint8_t> raw;
    for (const Part& p : parts) {
      SJ_RETURN_IF_ERROR(file->ReadRaw(p.name, p.rows, cols, &raw).WithContext(options.model_path));
    }
    raw.resize(raw.size() + pad_rows * kernels::WeightRowBytes(*fmt, cols.size(), esz), 0);  // zero blocks decode to 0
    impl->weight_bytes += static_cast<int64_t>(raw.size());
    SJ_ASSIGN_OR_RETURN(void* d, impl->Alloc(raw.size()));
    SJ_RETURN_IF_ERROR(be.Upload(d, raw.data(), raw.size()));
    return kernels::WeightRef{d, *fmt};
  };

  // Embedding (full), final norm, LM head slice.
  SJ_RETURN_IF_ERROR(expect_shape("token_embd.weight", {c.vocab_size, H}));
  SJ_ASSIGN_OR_RETURN(impl->embed, load_matrix({{"token_embd.weight", {0, c.vocab_size}}}, {0, H}, 0));
  report("token_embd.weight");
  SJ_RETURN_IF_ERROR(expect_shape("output_norm.weight", {H}));
  SJ_ASSIGN_OR_RETURN(impl->out_norm, load_dense({{"output_norm.weight", {0, 1}}}, {0, H}, 0));
  report("output_norm.weight");
  const std::string head_name = file->HasTensor("output.weight") ? "output.weight" : "token_embd.weight";
  if (head_name == "output.weight") SJ_RETURN_IF_ERROR(expect_shape(head_name, {c.vocab_size, H}));
  if (head_name == "token_embd.weight" && options.tp_size == 1) {
    impl->lm_head = impl->embed;  // tied and unsharded: one copy serves both
  } else {
    // The last shard is padded with zero rows; their logits are dropped.
    const int64_t v0 = std::min(c.vocab_size, s.vocab_begin), v1 = std::min(c.vocab_size, s.vocab_begin + s.vocab);
    SJ_ASSIGN_OR_RETURN(impl->lm_head, load_matrix({{head_name, {v0, v1}}}, {0, H}, s.vocab - (v1 - v0)));
  }
  report(head_name);

  const int64_t qkv_w = s.qkv_width(hd);
  const int64_t q_rows = int64_t{s.q_heads} * hd, kv_rows = int64_t{s.kv_heads} * hd;
  const IndexRange q_range{int64_t{s.q_head_begin} * hd, int64_t{s.q_head_begin} * hd + q_rows};
  const IndexRange kv_range{int64_t{s.kv_head_begin} * hd, int64_t{s.kv_head_begin} * hd + kv_rows};
  const IndexRange f_range{s.ffn_begin, s.ffn_begin + s.ffn};
  impl->layers.resize(c.num_layers);
  for (int64_t l = 0; l < c.num_layers; ++l) {
    const std::string p = "blk." + std::to_string(l) + ".";
    LayerWeights& w = impl->layers[l];
    SJ_RETURN_IF_ERROR(expect_shape(p + "attn_norm.weight", {H}));
    SJ_RETURN_IF_ERROR(expect_shape(p + "attn_q.weight", {c.num_heads * hd, H}));
    SJ_RETURN_IF_ERROR(expect_shape(p + "attn_k.weight", {c.num_kv_heads * hd, H}));
    SJ_RETURN_IF_ERROR(expect_shape(p + "attn_v.weight", {c.num_kv_heads * hd, H}));
    SJ_RETURN_IF_ERROR(expect_shape(p + "attn_output.weight", {H, c.num_heads * hd}));
    SJ_RETURN_IF_ERROR(expect_shape(p + "ffn_norm.weight", {H}));
    SJ_RETURN_IF_ERROR(expect_shape(p + "ffn_gate.weight", {c.intermediate_size, H}));
    SJ_RETURN_IF_ERROR(expect_shape(p + "ffn_up.weight", {c.intermediate_size, H}));
    SJ_RETURN_IF_ERROR(expect_shape(p + "ffn_down.weight", {H, c.intermediate_size}));

    SJ_ASSIGN_OR_RETURN(w.attn_norm, load_dense({{p + "attn_norm.weight", {0, 1}}}, {0, H}, 0));
    report(p + "attn_norm.weight");
    SJ_ASSIGN_OR_RETURN(w.wqkv, load_matrix({{p + "attn_q.weight", q_range},
                                             {p + "attn_k.weight", kv_range},
                                             {p + "attn_v.weight", kv_range}},
                                            {0, H}, 0));
    if (c.qkv_bias) {
      // A bias is one row; its column slices sit side by side.
      SJ_ASSIGN_OR_RETURN(w.bqkv, impl->Alloc(qkv_w * esz));
      for (auto [name, range, off] : {std::tuple{p + "attn_q.bias", q_range, int64_t{0}},
                                      std::tuple{p + "attn_k.bias", kv_range, q_rows},
                                      std::tuple{p + "attn_v.bias", kv_range, q_rows + kv_rows}}) {
        host.resize(range.size());
        SJ_RETURN_IF_ERROR(file->ReadF32(name, {0, 1}, range, host.data()).WithContext(options.model_path));
        SJ_RETURN_IF_ERROR(be.UploadF32(static_cast<char*>(w.bqkv) + off * esz, host.data(), range.size()));
      }
    }
    report(p + "attn_qkv");
    SJ_ASSIGN_OR_RETURN(w.wo, load_matrix({{p + "attn_output.weight", {0, H}}}, q_range, 0));
    report(p + "attn_output.weight");
    SJ_ASSIGN_OR_RETURN(w.ffn_norm, load_dense({{p + "ffn_norm.weight", {0, 1}}}, {0, H}, 0));
    report(p + "ffn_norm.weight");
    SJ_ASSIGN_OR_RETURN(w.w_gate_up, load_matrix({{p + "ffn_gate.weight", f_range}, {p + "ffn_up.weight", f_range}},
                                                 {0, H}, 0));
    report(p + "ffn_gate_up");
    SJ_ASSIGN_OR_RETURN(w.w_down, load_matrix({{p + "ffn_down.weight", {0, H}}}, f_range, 0));
    report(p + "ffn_down.weight");
  }

  // Rotary inverse frequencies (float32 in backend memory).
  std::vector<float> freq_factors;
  if (file->HasTensor("rope_freqs.weight")) {
    freq_factors.resize(hd / 2);
    SJ_RETURN_IF_ERROR(file->ReadF32("rope_freqs.weight", {0, 1}, {0, hd / 2}, freq_factors.data()));
  }
  std::vector<float> inv = RopeInvFreq(c, freq_factors);
  SJ_ASSIGN_OR_RETURN(impl->inv_freq, impl->Alloc(inv.size() * sizeof(float)));
  SJ_RETURN_IF_ERROR(be.Upload(impl->inv_freq, inv.data(), inv.size() * sizeof(float)));

  // Step scratch for max_step_tokens rows (before the KV pools, which may take
  // whatever device memory is left).
  const int64_t T = options.max_step_tokens;
  SJ_ASSIGN_OR_RETURN(impl->x, impl->Alloc(T * H * esz));
  SJ_ASSIGN_OR_RETURN(impl->h, impl->Alloc(T * H * esz));
  SJ_ASSIGN_OR_RETURN(impl->qkv, impl->Alloc(T * qkv_w * esz));
  SJ_ASSIGN_OR_RETURN(impl->attn, impl->Alloc(T * q_rows * esz));
  SJ_ASSIGN_OR_RETURN(impl->o, impl->Alloc(T * H * esz));
  SJ_ASSIGN_OR_RETURN(impl->gate_up, impl->Alloc(T * 2 * s.ffn * esz));
  SJ_ASSIGN_OR_RETURN(impl->act, impl->Alloc(T * s.ffn * esz));

  // KV pools.
  kernels::KvLayout& kv = impl->kv;
  kv.block_size = options.block_size;
  kv.num_kv_heads = s.kv_heads;
  kv.head_dim = static_cast<int32_t>(hd);
  if (kv.block_size <= 0) return InvalidArgument("block_size must be positive");
  const int64_t block_bytes = kv.block_elems() * static_cast<int64_t>(esz) * 2 * c.num_layers;
  int64_t kv_bytes = options.kv_cache_bytes;
  if (memory_at_start) {
    SJ_ASSIGN_OR_RETURN(kernels::DeviceMemory now, be.MemoryInfo());
    const int64_t used = memory_at_start->free_bytes - now.free_bytes;  // weights + scratch (+ others)
    kv_bytes = static_cast<int64_t>(options.kv_memory_fraction * static_cast<double>(memory_at_start->free_bytes)) - used;
    if (kv_bytes < block_bytes) {
      return ResourceExhausted(be.name() + ": kv_memory_fraction " + std::to_string(options.kv_memory_fraction) +
                               " of the " + std::to_string(memory_at_start->free_bytes >> 20) +
                               " MiB free at start leaves no room for a KV block after the weights and scratch (" +
                               std::to_string(used >> 20) + " MiB)");
    }
  }
  kv.num_blocks = options.num_device_blocks > 0
                      ? options.num_device_blocks
                      : static_cast<int32_t>(std::clamp<int64_t>(kv_bytes / block_bytes, 1, INT32_MAX));
  impl->num_host_blocks = options.num_host_blocks;
  for (int64_t l = 0; l < c.num_layers; ++l) {
    SJ_ASSIGN_OR_RETURN(void* k, impl->Alloc(kv.block_elems() * kv.num_blocks * esz));
    SJ_ASSIGN_OR_RETURN(void* v, impl->Alloc(kv.block_elems() * kv.num_blocks * esz));
    impl->k_dev.push_back(k);
    impl->v_dev.push_back(v);
    if (impl->num_host_blocks > 0) {
      const size_t bytes = kv.block_elems() * impl->num_host_blocks * esz;
      SJ_ASSIGN_OR_RETURN(void* kh, be.AllocHost(bytes));
      impl->host_allocations.push_back(kh);
      SJ_ASSIGN_OR_RETURN(void* vh, be.AllocHost(bytes));
      impl->host_allocations.push_back(vh);
      impl->k_host.push_back(kh);
      impl->v_host.push_back(vh);
    }
  }


  impl->load_seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
  SJ_LOG(Debug) << "engine rank " << options.tp_rank << "/" << options.tp_size << " loaded "
                << options.model_path << " in " << impl->load_seconds << " s, "
                << impl->weight_bytes / (1 << 20) << " MiB weights, " << kv.num_blocks
                << " KV blocks of " << kv.block_size;
  return std::unique_ptr<Engine>(new Engine(std::move(impl)));
}

}  // namespace skipjoin
