// Stall-free batch formation (Sarathi-Serve) as a pure function. Given the
// jobs in priority order, it picks the step's sequences and how many tokens
// each feeds:
//  1. the chosen set is the first min(max_sequences, token_budget) jobs;
//  2. every chosen job that is decoding (one token left to feed) gets 1 token
//     first, so decodes never stall behind prefills;
//  3. the rest of the budget goes to chosen prefills in priority order (with
//     started_prefills_first, prefills already under way before new ones, so
//     that a long prompt's remaining chunks are not starved by newer short
//     prompts), as chunks that end on a KV block boundary where possible.
// A prefill that got no budget is simply not in this step; between chunks it
// can be overtaken (preempted) by any job that ranks higher next step.
// Thread-compatible, stateless.
#pragma once

#include <cstdint>
#include <span>

namespace skipjoin::scheduler {

struct BatchCandidate {
  int32_t num_computed = 0;   // tokens already in the KV cache
  int32_t num_remaining = 0;  // tokens still to feed, >= 1 (1 means decoding)
};

struct BatchLimits {
  int32_t token_budget = 512;   // tokens fed per step, all sequences together
  int32_t max_sequences = 256;  // sequences per step
  int32_t block_size = 16;      // KV block size in tokens
  bool started_prefills_first = false;
};

// The chunk a prefill at `num_computed` with `num_remaining` tokens left feeds
// when it may use at most `allowed` tokens: all that remain if they fit, else
// the largest chunk ending on a block edge, else (no edge within reach) `allowed`.
int32_t AlignedChunk(int32_t num_computed, int32_t num_remaining, int32_t allowed,
                     int32_t block_size);

// Writes tokens per candidate into `tokens` (same length as `candidates`,
// 0 = not in the step) and returns the step's total tokens.
int32_t FormBatch(std::span<const BatchCandidate> candidates, const BatchLimits& limits,
                  std::span<int32_t> tokens);

}  // namespace skipjoin::scheduler
