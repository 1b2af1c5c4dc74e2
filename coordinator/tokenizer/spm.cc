#include "coordinator/tokenizer/spm.h"

#include <queue>

#include "coordinator/tokenizer/unicode.h"

namespace skipjoin::tokenizer_internal {

void SentencePieceBpe::Encode(std::string_view text, std::vector<int32_t>* ids) const {
  if (text.empty()) return;
  struct Symbol {
    size_t off;
    size_t len;
    int prev;
    int next;
  };
  std::vector<Symbol> syms;
  for (size_t off = 0; off < text.size();) {
    size_t len = ValidUtf8SequenceLength(text, off);
    if (len == 0) len = 1;  // an invalid byte is a symbol of its own
    const int idx = static_cast<int>(syms.size());
    syms.push_back({off, len, idx - 1, idx + 1});
    off += len;
  }
  syms.back().next = -1;

  struct Candidate {
    float score;
    int left;
    size_t total_len;
    bool operator<(const Candidate& o) const {  // pops the highest score, then leftmost
      return score != o.score ? score < o.score : left > o.left;
    }
  };
  std::priority_queue<Candidate> queue;
  auto view = [&](int i) { return text.substr(syms[i].off, syms[i].len); };
  auto try_add = [&](int left) {
    if (left < 0) return;
    const int right = syms[left].next;
    if (right < 0) return;
    const std::string joined = std::string(view(left)) + std::string(view(right));
    auto it = vocab_->find(joined);
    if (it == vocab_->end()) return;
    const size_t id = static_cast<size_t>(it->second);
    const float score = id < scores_->size() ? (*scores_)[id] : 0.0f;
    queue.push({score, left, joined.size()});
  };
  for (int i = 0; i + 1 < static_cast<int>(syms.size()); ++i) try_add(i);

  while (!queue.empty()) {
    const Candidate c = queue.top();
    queue.pop();
    Symbol& left = syms[c.left];
    if (left.len == 0 || left.next < 0) continue;
    Symbol& right = syms[left.next];
    if (left.len + right.len != c.total_len) continue;
    left.len += right.len;
    right.len = 0;
    left.next = right.next;
    if (right.next >= 0) syms[right.next].prev = c.left;
    try_add(left.prev);
    try_add(c.left);
  }

  // Every merged symbol is a token (pairs merge only into tokens), so only
  // single characters can be missing from the vocabulary.
  auto emit = [&](std::string_view piece) {
    auto it = vocab_->find(std::string(piece));
    if (it != vocab_->end()) {
      ids->push_back(it->second);
      return;
    }
    // Byte fallback; a vocabulary without byte tokens gives one unknown token
    // for the whole character instead.
    bool all_bytes = true;
    for (char b : piece) all_bytes = all_bytes && byte_tokens_[static_cast<uint8_t>(b)] >= 0;
    if (all_bytes) {
      for (char b : piece) ids->push_back(byte_tokens_[static_cast<uint8_t>(b)]);
    } else if (unk_id_ >= 0) {
      ids->push_back(unk_id_);
    }
  };
  for (int i = 0; i >= 0; i = syms[i].next) emit(view(i));
}

}  // namespace skipjoin::tokenizer_internal
