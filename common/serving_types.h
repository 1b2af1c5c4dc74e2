// The serving vocabulary shared by the scheduler, the wire protocol, the
// config and the engine: request ids, device kinds, finish reasons, sampling
// parameters, token logprobs and KV block copies. Defined once here; the other
// modules name these types through using-declarations. Plain value types.
#pragma once

#include <cstdint>
#include <optional>

namespace skipjoin {

// The coordinator's id of one scheduler request (one choice of an API request);
// workers key their per-sequence state by it.
using RequestId = uint64_t;

enum class DeviceKind : uint8_t { kCpu = 0, kCuda = 1 };  // config and wire: "cpu", "cuda"

enum class FinishReason : uint8_t {  // wire: "none", "stop", "length", "abort", "error"
  kNone = 0,                         // still generating
  kStop = 1,                         // EOS / a stop token, or a stop string
  kLength = 2,                       // max_tokens or the context window
  kAbort = 3,                        // cancelled by the client or the coordinator
  kError = 4,                        // a step failed; see the chunk's error
};

// "cpu", "cuda"; "unknown" outside the enum.
const char* DeviceKindName(DeviceKind kind);
// "none", "stop", ...; "unknown" outside the enum.
const char* FinishReasonName(FinishReason reason);

// How one sequence samples. The defaults are the OpenAI API's (temperature 1);
// Greedy() is argmax, what reference runs and engine tests use.
struct SamplingParams {
  float temperature = 1.0f;      // <= 0: greedy (argmax)
  float top_p = 1.0f;            // nucleus mass in (0, 1]
  int32_t top_k = 0;             // 0: off
  float min_p = 0.0f;            // keep tokens with p >= min_p * p_max, [0, 1]; 0: off
  std::optional<uint64_t> seed;  // with the sample index, fixes each draw (batch-independent);
                                 // unset on the wire: the worker derives one from the request id
  int32_t logprobs = 0;          // top-N logprobs to return per sampled token, 0..20

  static SamplingParams Greedy() {
    SamplingParams p;
    p.temperature = 0.0f;
    return p;
  }
  bool operator==(const SamplingParams&) const = default;
};

struct TokenLogprob {
  int32_t token = 0;
  float logprob = 0.0f;
  bool operator==(const TokenLogprob&) const = default;
};

// One copy of a KV block between the device pool and the host pool.
struct BlockPair {
  int32_t device = 0;
  int32_t host = 0;
  bool operator==(const BlockPair&) const = default;
};

}  // namespace skipjoin
