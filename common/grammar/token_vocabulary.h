// TokenVocabulary: a model's tokens as raw bytes (common/token_bytes.h turns
// GGUF vocabulary texts into them), arranged in a byte trie so that a Matcher
// computes a token mask by walking the trie and pruning a subtree at its first
// rejected byte. Built once per model.
//
// Thread-safety: immutable after Create; share it across threads and
// Matchers through shared_ptr<const>.
#pragma once

#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include "common/status.h"

namespace skipjoin::grammar {

class TokenVocabulary {
 public:
  // Tokens longer than this never appear in structured output.
  static constexpr size_t kMaxTokenBytes = 1024;

  // token_bytes[id]: the raw bytes token id stands for. special (empty, or
  // one flag per token): control tokens, never allowed inside structured
  // output. eos_ids: tokens that end generation, allowed only once the
  // grammar accepts. Empty tokens are never allowed (they would not advance).
  static Result<std::shared_ptr<const TokenVocabulary>> Create(std::vector<std::string> token_bytes,
                                                               std::vector<bool> special,
                                                               std::vector<int32_t> eos_ids);

  int32_t size() const { return static_cast<int32_t>(bytes_.size()); }
  // Words of a mask: 32 tokens per uint32_t, bit (id % 32) of word id / 32.
  size_t mask_words() const { return (bytes_.size() + 31) / 32; }
  const std::string& bytes(int32_t id) const { return bytes_[id]; }
  // Whether the token can appear inside structured output at all.
  bool usable(int32_t id) const { return usable_[id]; }
  bool is_eos(int32_t id) const { return eos_[id]; }
  const std::vector<int32_t>& eos_ids() const { return eos_ids_; }

  // The trie over usable tokens, read by the Matcher. Node 0 is the root (the
  // empty prefix); a node's children are edges [edge_begin, edge_end).
  struct Node {
    uint32_t edge_begin = 0, edge_end = 0;    // into edge_bytes() / edge_children()
    uint32_t token_begin = 0, token_end = 0;  // into token_ids(): the tokens ending here
  };
  const std::vector<Node>& nodes() const { return nodes_; }
  const std::vector<uint8_t>& edge_bytes() const { return edge_byte_; }
  const std::vector<uint32_t>& edge_children() const { return edge_child_; }
  const std::vector<int32_t>& token_ids() const { return token_ids_; }

 private:
  TokenVocabulary() = default;
  uint32_t Build(const std::vector<int32_t>& sorted, size_t lo, size_t hi, size_t depth);

  std::vector<std::string> bytes_;
  std::vector<bool> usable_;
  std::vector<bool> eos_;
  std::vector<int32_t> eos_ids_;
  std::vector<Node> nodes_;
  std::vector<uint8_t> edge_byte_;
  std::vector<uint32_t> edge_child_;
  std::vector<int32_t> token_ids_;
};

}  // namespace skipjoin::grammar
