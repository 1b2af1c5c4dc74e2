// LocalRunner: drives one Engine in-process for `skipjoin generate`, engine
// tests and engine benchmarks: a trivial block allocator (no preemption),
// chunked prefill, then batched decode until every request stops. The serving
// path uses the coordinator's Scheduler instead.
//
// Thread-safety: single-threaded; owns nothing but borrowed Engine state.
#pragma once

#include <functional>
#include <vector>

#include "worker/engine.h"

namespace skipjoin {

struct LocalRequest {
  std::vector<int32_t> prompt;
  int32_t max_new_tokens = 16;
  SamplingParams sampling = SamplingParams::Greedy();
  std::vector<int32_t> stop_ids;  // generation ends after emitting one of these
};

struct LocalRunStats {
  int64_t prefill_tokens = 0;
  double prefill_seconds = 0.0;
  int64_t decode_tokens = 0;
  double decode_seconds = 0.0;
  // Of decode_seconds, the host time from the step's tables to its last
  // queued kernel (StepOutput::compute_seconds): on a GPU, what the host
  // spends launching; the rest is waiting for the device and sampling.
  double decode_enqueue_seconds = 0.0;
  int64_t steps = 0;
};

struct LocalRunnerOptions {
  int32_t prefill_chunk = 512;  // tokens of one request's prompt per step
};

class LocalRunner {
 public:
  LocalRunner(Engine* engine, LocalRunnerOptions options = {});

  // Runs all requests together: prefills (chunked), then decodes in one batch.
  // on_token(request index, token, logprob) fires for every generated token.
  // Returns the generated tokens per request. ResourceExhausted when the KV
  // pool cannot hold every request at its maximum length.
  Result<std::vector<std::vector<int32_t>>> Run(
      const std::vector<LocalRequest>& requests,
      const std::function<void(size_t, int32_t, float)>& on_token = nullptr,
      LocalRunStats* stats = nullptr);

 private:
  Engine* engine_;
  LocalRunnerOptions options_;
};

}  // namespace skipjoin
