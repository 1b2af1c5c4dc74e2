// What one engine step consumes and produces. The coordinator's step plan is
// turned into a StepInput on every rank of a replica; rank 0's StepOutput goes
// back as the step result. Plain value types.
#pragma once

#include <cstdint>
#include <vector>

namespace skipjoin {

struct SamplingParams {
  float temperature = 0.0f;  // <= 0: greedy (argmax)
  float top_p = 1.0f;        // nucleus mass in (0, 1]
  int32_t top_k = 0;         // 0: off
  float min_p = 0.0f;        // keep tokens with p >= min_p * p_max; 0: off
  uint64_t seed = 0;         // with sample_index, fixes the draw (batch-independent)
  int32_t logprobs = 0;      // top-N logprobs to return, 0..20
};

struct SeqInput {
  uint64_t seq_id = 0;
  std::vector<int32_t> tokens;       // the tokens this step feeds (a prefill chunk or 1 decode token)
  int32_t start_pos = 0;             // position of tokens[0]; the cache holds [0, start_pos)
  std::vector<int32_t> block_table;  // device blocks covering [0, start_pos + tokens.size())
  bool sample = false;               // sample the token that follows tokens.back()
  int32_t sample_index = 0;          // tokens sampled before for this sequence (RNG counter)
  SamplingParams sampling;
  // Logprob of each tokens[i + 1] given the prefix (echo / prompt logprobs);
  // the last row uses next_token when >= 0.
  bool prompt_logprobs = false;
  int32_t next_token = -1;
  bool return_logits = false;  // full logits of every row (reference dumps, tests)
};

struct BlockPair {
  int32_t device = 0;
  int32_t host = 0;
};

struct StepInput {
  std::vector<BlockPair> swap_out;  // device -> host, done before swap_in and compute
  std::vector<BlockPair> swap_in;   // host -> device, done before compute
  std::vector<SeqInput> seqs;
};

struct TokenLogprob {
  int32_t token = 0;
  float logprob = 0.0f;
};

struct SeqOutput {
  uint64_t seq_id = 0;
  int32_t token = -1;  // sampled token, -1 when the sequence did not sample
  float logprob = 0.0f;
  std::vector<TokenLogprob> top;  // top-N of the model distribution, best first
  std::vector<float> prompt_logprobs;  // one per row that has a known next token
  std::vector<float> logits;  // [rows, vocab] when return_logits
};

struct StepOutput {
  std::vector<SeqOutput> seqs;  // same order as StepInput::seqs (rank 0 only)
  double swap_seconds = 0.0;
  double compute_seconds = 0.0;
  int64_t num_tokens = 0;
};

}  // namespace skipjoin
