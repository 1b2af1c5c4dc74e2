// The serving vocabulary shared by the scheduler, the wire protocol, the
// config and the engine: request ids, device kinds, finish reasons, sampling
// parameters, token logprobs and KV block copies. Defined once here; the other
// modules name these types through using-declarations. Plain value types.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

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

// A structured-output constraint on what a sequence may generate.
enum class GuideKind : uint8_t {  // wire: "none", "json_object", "json_schema", "regex", "choice"
  kNone = 0,
  kJsonObject = 1,  // any JSON object
  kJsonSchema = 2,  // guide_spec: the schema (JSON text)
  kRegex = 3,       // guide_spec: the pattern
  kChoice = 4,      // guide_spec: the choices as a JSON array of strings
};

// An additive change to one token's logit before sampling (logit_bias).
struct TokenBias {
  int32_t token = 0;
  float bias = 0.0f;  // [-100, 100]; -100 bans the token in practice
  bool operator==(const TokenBias&) const = default;
};

// How one sequence samples. The defaults are the OpenAI API's (temperature 1);
// Greedy() is argmax, what reference runs and engine tests use. The logit
// processors (penalties, bias, min_tokens, allowed_token_ids, bad_words)
// change the logits the draw (or the argmax) uses; reported logprobs stay
// those of the unmodified model.
struct SamplingParams {
  float temperature = 1.0f;      // <= 0: greedy (argmax)
  float top_p = 1.0f;            // nucleus mass in (0, 1]
  int32_t top_k = 0;             // 0: off
  float min_p = 0.0f;            // keep tokens with p >= min_p * p_max, [0, 1]; 0: off
  std::optional<uint64_t> seed;  // with the sample index, fixes each draw (batch-independent);
                                 // unset on the wire: the worker derives one from the request id
  int32_t logprobs = 0;          // top-N logprobs to return per sampled token, 0..20
  // Tokens in the prompt or the output so far: positive logits divided by it,
  // negative ones multiplied (CTRL / Hugging Face). > 0; 1: off.
  float repetition_penalty = 1.0f;
  // Subtracted once from the logit of each token already in the output. [-2, 2]
  float presence_penalty = 0.0f;
  // Subtracted per occurrence in the output. [-2, 2]
  float frequency_penalty = 0.0f;
  std::vector<TokenBias> logit_bias;  // distinct tokens
  // The tokens that end the request (end-of-sequence unless ignore_eos, plus the
  // request's stop_token_ids): the scheduler ends a request that samples one;
  // the sampler masks them until min_tokens tokens were sampled.
  std::vector<int32_t> stop_token_ids;
  int32_t min_tokens = 0;  // >= 0
  // When not empty, the only tokens the draw (or the argmax) may choose
  // (allowed_token_ids); every other logit is -inf. Distinct, in the vocabulary.
  std::vector<int32_t> allowed_token_ids;
  // Token sequences never to complete (bad_words): the last token of each is
  // masked whenever the output so far ends with the others (always, for one
  // token). Each sequence is non-empty.
  std::vector<std::vector<int32_t>> bad_words;
  // Tokens the constraint does not allow next are masked (common/grammar);
  // end-of-sequence is allowed only once the output is a complete match.
  GuideKind guide = GuideKind::kNone;
  std::string guide_spec;

  // Whether the sampler must modify the logits for this sequence.
  bool has_logit_processors() const {
    return repetition_penalty != 1.0f || presence_penalty != 0.0f || frequency_penalty != 0.0f ||
           !logit_bias.empty() || (min_tokens > 0 && !stop_token_ids.empty()) ||
           guide != GuideKind::kNone || !allowed_token_ids.empty() || !bad_words.empty();
  }
  // Whether the penalties or bad_words need the sequence's token history.
  bool needs_history() const {
    return repetition_penalty != 1.0f || presence_penalty != 0.0f || frequency_penalty != 0.0f ||
           !bad_words.empty();
  }

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
