#include "coordinator/tokenizer/bpe.h"

#include <queue>

#include "common/token_bytes.h"
#include "coordinator/tokenizer/unicode.h"

namespace skipjoin::tokenizer_internal {

ByteLevelAlphabet::ByteLevelAlphabet() {
  uint32_t next_extra = 256;
  for (int b = 0; b < 256; ++b) {
    const bool printable =
        (b >= '!' && b <= '~') || (b >= 0xA1 && b <= 0xAC) || (b >= 0xAE && b <= 0xFF);
    const uint32_t cp = printable ? static_cast<uint32_t>(b) : next_extra++;
    AppendUtf8(cp, &byte_to_text_[b]);
  }
}

std::string ByteLevelAlphabet::EncodeBytes(std::string_view bytes) const {
  std::string out;
  out.reserve(bytes.size() * 2);
  for (char c : bytes) out += byte_to_text_[static_cast<uint8_t>(c)];
  return out;
}

Result<ByteLevelBpe> ByteLevelBpe::Create(const std::unordered_map<std::string, int32_t>* vocab,
                                          const std::vector<std::string>& merges,
                                          bool ignore_merges) {
  ByteLevelBpe bpe;
  bpe.vocab_ = vocab;
  bpe.ignore_merges_ = ignore_merges;
  bpe.ranks_.reserve(merges.size());
  for (size_t r = 0; r < merges.size(); ++r) {
    const std::string& m = merges[r];
    // The separator is the first space after a non-empty left part.
    const size_t sp = m.find(' ', 1);
    if (sp == std::string::npos || sp + 1 >= m.size()) {
      return InvalidArgument("BPE merge " + std::to_string(r) + " is not \"left right\": \"" + m +
                             "\"");
    }
    bpe.ranks_.emplace(m, static_cast<int>(r));  // first occurrence keeps the lowest rank
  }
  for (int b = 0; b < 256; ++b) {
    auto it = vocab->find(bpe.alphabet_.Encode(static_cast<uint8_t>(b)));
    bpe.byte_token_[b] = it == vocab->end() ? -1 : it->second;
  }
  return bpe;
}

int ByteLevelBpe::MergeRank(std::string_view left, std::string_view right) const {
  std::string key;
  key.reserve(left.size() + right.size() + 1);
  key.append(left).push_back(' ');
  key.append(right);
  auto it = ranks_.find(key);
  return it == ranks_.end() ? -1 : it->second;
}

void ByteLevelBpe::EncodeWord(std::string_view word, std::vector<int32_t>* ids) const {
  if (word.empty()) return;
  const std::string text = alphabet_.EncodeBytes(word);
  if (ignore_merges_) {
    auto it = vocab_->find(text);
    if (it != vocab_->end()) {
      ids->push_back(it->second);
      return;
    }
  }
  // Symbols: one per input byte at first, as [offset, length) into text, kept
  // in a doubly linked list; merged symbols have length 0.
  struct Symbol {
    size_t off;
    size_t len;
    int prev;
    int next;
  };
  std::vector<Symbol> syms;
  syms.reserve(word.size());
  for (size_t off = 0; off < text.size();) {
    size_t len = ValidUtf8SequenceLength(text, off);
    if (len == 0) len = 1;  // cannot happen: the alphabet is valid UTF-8
    const int idx = static_cast<int>(syms.size());
    syms.push_back({off, len, idx - 1, idx + 1});
    off += len;
  }
  syms.back().next = -1;

  struct Candidate {
    int rank;
    int left;
    size_t total_len;  // left.len + right.len when queued; stale if it changed
    bool operator<(const Candidate& o) const {  // priority_queue pops the largest
      return rank != o.rank ? rank > o.rank : left > o.left;
    }
  };
  std::priority_queue<Candidate> queue;
  auto view = [&](int i) { return std::string_view(text).substr(syms[i].off, syms[i].len); };
  auto try_add = [&](int left) {
    if (left < 0) return;
    const int right = syms[left].next;
    if (right < 0) return;
    const int rank = MergeRank(view(left), view(right));
    if (rank >= 0) queue.push({rank, left, syms[left].len + syms[right].len});
  };
  for (int i = 0; i + 1 < static_cast<int>(syms.size()); ++i) try_add(i);

  while (!queue.empty()) {
    const Candidate c = queue.top();
    queue.pop();
    Symbol& left = syms[c.left];
    if (left.len == 0 || left.next < 0) continue;
    Symbol& right = syms[left.next];
    if (left.len + right.len != c.total_len) continue;  // a neighbour changed since
    left.len += right.len;
    right.len = 0;
    left.next = right.next;
    if (right.next >= 0) syms[right.next].prev = c.left;
    try_add(left.prev);
    try_add(c.left);
  }

  for (int i = 0; i >= 0; i = syms[i].next) {
    auto it = vocab_->find(std::string(view(i)));
    if (it != vocab_->end()) {
      ids->push_back(it->second);
      continue;
    }
    // Not a token (a merge whose result is missing from the vocab): fall back
    // to one token per byte of the symbol.
    std::string bytes;
    DecodeByteLevelText(view(i), &bytes);
    for (char b : bytes) {
      const int32_t id = byte_token_[static_cast<uint8_t>(b)];
      if (id >= 0) ids->push_back(id);
    }
  }
}

}  // namespace skipjoin::tokenizer_internal
