#include "common/grammar/token_vocabulary.h"

#include <algorithm>

namespace skipjoin::grammar {

Result<std::shared_ptr<const TokenVocabulary>> TokenVocabulary::Create(
    std::vector<std::string> token_bytes, std::vector<bool> special, std::vector<int32_t> eos_ids) {
  const size_t n = token_bytes.size();
  if (n == 0) return InvalidArgument("token vocabulary is empty");
  if (n > static_cast<size_t>(INT32_MAX)) return InvalidArgument("token vocabulary too large");
  if (!special.empty() && special.size() != n) {
    return InvalidArgument("special has " + std::to_string(special.size()) + " flags for " +
                           std::to_string(n) + " tokens");
  }
  std::shared_ptr<TokenVocabulary> v(new TokenVocabulary());
  v->eos_.assign(n, false);
  for (int32_t id : eos_ids) {
    if (id < 0 || static_cast<size_t>(id) >= n) {
      return InvalidArgument("end-of-sequence id " + std::to_string(id) +
                             " outside the vocabulary of " + std::to_string(n));
    }
    v->eos_[id] = true;
  }
  std::sort(eos_ids.begin(), eos_ids.end());
  eos_ids.erase(std::unique(eos_ids.begin(), eos_ids.end()), eos_ids.end());
  v->eos_ids_ = std::move(eos_ids);
  v->usable_.assign(n, false);
  std::vector<int32_t> sorted;
  for (size_t i = 0; i < n; ++i) {
    const bool is_special = !special.empty() && special[i];
    v->usable_[i] = !is_special && !v->eos_[i] && !token_bytes[i].empty() &&
                    token_bytes[i].size() <= kMaxTokenBytes;
    if (v->usable_[i]) sorted.push_back(static_cast<int32_t>(i));
  }
  v->bytes_ = std::move(token_bytes);
  const auto& bytes = v->bytes_;
  std::sort(sorted.begin(), sorted.end(), [&](int32_t a, int32_t b) {
    // Unsigned byte order, so a group of tokens sharing a byte is contiguous.
    return std::lexicographical_compare(
        bytes[a].begin(), bytes[a].end(), bytes[b].begin(), bytes[b].end(),
        [](char x, char y) { return static_cast<uint8_t>(x) < static_cast<uint8_t>(y); });
  });
  v->Build(sorted, 0, sorted.size(), 0);
  return std::shared_ptr<const TokenVocabulary>(std::move(v));
}

// The node for the tokens sorted[lo, hi), which share their first `depth`
// bytes. Recursion depth is bounded by kMaxTokenBytes.
uint32_t TokenVocabulary::Build(const std::vector<int32_t>& sorted, size_t lo, size_t hi,
                                size_t depth) {
  const uint32_t id = static_cast<uint32_t>(nodes_.size());
  nodes_.emplace_back();
  nodes_[id].token_begin = static_cast<uint32_t>(token_ids_.size());
  while (lo < hi && bytes_[sorted[lo]].size() == depth) token_ids_.push_back(sorted[lo++]);
  nodes_[id].token_end = static_cast<uint32_t>(token_ids_.size());
  std::vector<std::pair<uint8_t, uint32_t>> edges;
  while (lo < hi) {
    const uint8_t b = static_cast<uint8_t>(bytes_[sorted[lo]][depth]);
    size_t end = lo;
    while (end < hi && static_cast<uint8_t>(bytes_[sorted[end]][depth]) == b) ++end;
    edges.emplace_back(b, Build(sorted, lo, end, depth + 1));
    lo = end;
  }
  nodes_[id].edge_begin = static_cast<uint32_t>(edge_byte_.size());
  for (auto [b, child] : edges) {
    edge_byte_.push_back(b);
    edge_child_.push_back(child);
  }
  nodes_[id].edge_end = static_cast<uint32_t>(edge_byte_.size());
  return id;
}

}  // namespace skipjoin::grammar
