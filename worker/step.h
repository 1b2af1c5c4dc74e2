// What one engine step consumes and produces. The coordinator's step plan is
// turned into a StepInput on every rank of a replica; rank 0's StepOutput goes
// back as the step result. Plain value types.
#pragma once

#include <cstdint>
#include <unordered_map>
#include <unordered_set>
#include <vector>

#include "common/serving_types.h"

namespace skipjoin {

namespace grammar {
class Matcher;
}  // namespace grammar

// The tokens one sequence has seen, for the sampler's penalties and bad_words. Kept by the
// worker's SequenceTable from the tokens its plans feed and the tokens it samples.
struct TokenHistory {
  std::unordered_set<int32_t> seen;                    // in the prompt or the output
  std::unordered_map<int32_t, int32_t> output_counts;  // sampled token -> occurrences
  std::vector<int32_t> output;                         // sampled tokens in order (bad_words)
};

struct SeqInput {
  uint64_t seq_id = 0;
  std::vector<int32_t> tokens;  // the tokens this step feeds (a prefill chunk or 1 decode token)
  int32_t start_pos = 0;        // position of tokens[0]; the cache holds [0, start_pos)
  std::vector<int32_t> block_table;  // device blocks covering [0, start_pos + tokens.size())
  bool sample = false;               // sample the token that follows tokens.back()
  int32_t sample_index = 0;          // tokens sampled before for this sequence (RNG counter)
  // Greedy unless set (reference runs); the worker sets every sampled
  // sequence's parameters from its request, with a resolved seed.
  SamplingParams sampling = SamplingParams::Greedy();
  // What the penalties look at; null when the parameters need none. Owned by
  // whoever built the input and valid until the step returns.
  const TokenHistory* history = nullptr;
  // The structured-output state when sampling.guide is set (same ownership).
  const grammar::Matcher* matcher = nullptr;
  // Logprob of each tokens[i + 1] given the prefix (echo / prompt logprobs);
  // the last row uses next_token when >= 0.
  bool prompt_logprobs = false;
  int32_t next_token = -1;
  bool return_logits = false;  // full logits of every row (reference dumps, tests)
};

struct StepInput {
  std::vector<BlockPair> swap_out;  // device -> host, done before swap_in and compute
  std::vector<BlockPair> swap_in;   // host -> device, done before compute
  std::vector<SeqInput> seqs;
};

struct SeqOutput {
  uint64_t seq_id = 0;
  int32_t token = -1;  // sampled token, -1 when the sequence did not sample
  float logprob = 0.0f;
  std::vector<TokenLogprob> top;       // top-N of the model distribution, best first
  std::vector<float> prompt_logprobs;  // one per row that has a known next token
  std::vector<float> logits;           // [rows, vocab] when return_logits
};

struct StepOutput {
  std::vector<SeqOutput> seqs;  // same order as StepInput::seqs (rank 0 only)
  double swap_seconds = 0.0;
  double compute_seconds = 0.0;
  int64_t num_tokens = 0;
};

}  // namespace skipjoin
