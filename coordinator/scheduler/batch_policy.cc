#include "coordinator/scheduler/batch_policy.h"

#include <algorithm>

#include "common/status.h"

namespace skipjoin::scheduler {

int32_t AlignedChunk(int32_t num_computed, int32_t num_remaining, int32_t allowed,
                     int32_t block_size) {
  if (allowed <= 0 || num_remaining <= 0) return 0;
  if (num_remaining <= allowed) return num_remaining;
  const int32_t end = (num_computed + allowed) / block_size * block_size;
  const int32_t aligned = end - num_computed;
  return aligned > 0 ? aligned : allowed;
}

int32_t FormBatch(std::span<const BatchCandidate> candidates, const BatchLimits& limits,
                  std::span<int32_t> tokens) {
  SJ_CHECK(tokens.size() == candidates.size()) << tokens.size() << " vs " << candidates.size();
  const size_t chosen = std::min<size_t>(
      candidates.size(),
      static_cast<size_t>(std::max(0, std::min(limits.max_sequences, limits.token_budget))));
  std::fill(tokens.begin(), tokens.end(), 0);
  int32_t budget = limits.token_budget;
  for (size_t i = 0; i < chosen; ++i) {
    if (candidates[i].num_remaining == 1) {
      tokens[i] = 1;
      --budget;
    }
  }
  // Pass 0: prefills under way (or every prefill without started_prefills_first); pass 1: the
  // others.
  for (int pass = 0; pass < (limits.started_prefills_first ? 2 : 1); ++pass) {
    for (size_t i = 0; i < chosen && budget > 0; ++i) {
      const BatchCandidate& c = candidates[i];
      if (c.num_remaining <= 1 || tokens[i] > 0) continue;
      if (limits.started_prefills_first && (pass == 0) != (c.num_computed > 0)) continue;
      tokens[i] = AlignedChunk(c.num_computed, c.num_remaining, budget, limits.block_size);
      budget -= tokens[i];
    }
  }
  return limits.token_budget - budget;
}

}  // namespace skipjoin::scheduler
