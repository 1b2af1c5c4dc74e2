// Engine: one rank's share of one model replica. Loads its shard of a
// Llama-family model (GGUF or HF safetensors) onto a Backend, owns the paged KV
// pools (device pool + host swap pool), and executes steps: swap copies, then a
// forward pass over a batch mixing any number of prefill chunks and decodes,
// then sampling.
//
// Thread-safety: an Engine belongs to one thread (the worker's Executor); the
// ranks of a TP group each run their own Engine on their own thread or process
// and call Step with the same StepInput in the same order.
#pragma once

#include <cstdint>
#include <functional>
#include <memory>
#include <string>
#include <utility>
#include <vector>

#include "common/model_config.h"
#include "common/status.h"
#include "kernels/backend.h"
#include "worker/communicator.h"
#include "worker/step.h"

namespace skipjoin {

struct EngineOptions {
  std::string model_path;         // .gguf file or HF directory
  int tp_rank = 0;
  int tp_size = 1;
  std::string device = "cpu";     // "cpu", or "cuda:N" in a build with the CUDA backend (tp_size 1 for now)
  int num_threads = 0;            // CPU threads; 0: all hardware threads
  int32_t block_size = 16;        // tokens per KV block
  int32_t num_device_blocks = 0;  // 0: derive from kv_cache_bytes
  int64_t kv_cache_bytes = 256ll << 20;  // device KV budget when num_device_blocks is 0
  // When num_device_blocks is 0 and this is in (0, 1]: the device KV pool gets
  // what remains of kv_memory_fraction x the device memory that was free when
  // Create began, once the weights and step scratch are allocated (backends
  // that report their memory: CUDA). 0: the pool is kv_cache_bytes.
  double kv_memory_fraction = 0.0;
  int32_t num_host_blocks = 0;    // host swap pool size in blocks
  int32_t max_step_tokens = 4096; // largest T a step may carry (scratch sizing)
  int32_t max_context = 0;        // 0: the model's context window
  // "auto": keep Q8_0 / Q4_0 / Q4_1 weights in their block encoding where the
  // backend multiplies them directly (4-8x less memory traffic per step);
  // "dense": dequantize every weight to the activation dtype at load.
  std::string weight_format = "auto";
  // Activation dtype: "auto", or the backend's own ("f32" on CPU, "bf16" on
  // CUDA); another one is refused (the backends compute in one dtype each).
  std::string dtype = "auto";
  // Time every op (synchronizing after each) for OpProfile(); costs speed.
  bool profile = false;
};

// Opens the backend of `device` ("cpu", "cuda:N") without a model and returns
// its memory: what a worker checks at startup, so that a missing module,
// driver or device fails at once with the reason (the error names the device).
// Unimplemented for "cpu", which has no device memory of its own.
Result<kernels::DeviceMemory> ProbeDevice(const std::string& device);

// Called during load with (done, total) tensors and the tensor name.
using LoadProgressFn = std::function<void(int64_t done, int64_t total, const std::string& what)>;

class Engine {
 public:
  // comm: nullptr for tp_size 1; else this rank's communicator (not owned, must
  // outlive the engine).
  static Result<std::unique_ptr<Engine>> Create(const EngineOptions& options, Communicator* comm,
                                                const LoadProgressFn& progress = nullptr);
  ~Engine();

  // Executes one step. Errors (bad block ids, out-of-vocabulary tokens, too
  // many tokens) leave the KV pools of the sequences in the batch undefined
  // but the engine usable. Every rank holds the gathered logits and returns the
  // same outputs (the worker process sends rank 0's).
  Result<StepOutput> Step(const StepInput& input);

  const ModelConfig& config() const;
  const EngineOptions& options() const;
  const kernels::KvLayout& kv_layout() const;
  int32_t num_device_blocks() const;
  int32_t num_host_blocks() const;
  int64_t weight_bytes() const;
  // K plus V bytes one token occupies in this rank's device pool, all layers.
  int64_t kv_bytes_per_token() const;
  double load_seconds() const;
  // Seconds spent per op category since creation (zeros unless options.profile).
  std::vector<std::pair<std::string, double>> OpProfile() const;

  struct Impl;

 private:
  explicit Engine(std::unique_ptr<Impl> impl);
  std::unique_ptr<Impl> impl_;
};

}  // namespace skipjoin
