// Matcher: the per-sequence state of a constrained generation (one per
// generated choice). It follows a Grammar token by token over a
// TokenVocabulary and says which tokens may come next.
//
// Masks are exact: token t is in the mask iff appending its bytes keeps the
// output a prefix of some match (every allowed prefix can still be completed).
// End-of-sequence tokens are allowed exactly when the output is a complete
// match; special tokens never.
//
// Cost: a mask walks the vocabulary trie from the current state, pruning at
// the first rejected byte. Where the state is inside a rule that calls no
// other (a string, a number, a regex, a choice), the part of the mask that
// does not depend on what encloses it is computed once per automaton state
// and kept in this Matcher, or in a MaskCache shared by several (see
// docs/BENCHMARKS.md for measured costs).
//
// Thread-safety: a Matcher is not thread-safe. One thread at a time may call any method
// (FillNextTokenMask is const but updates the cache and scratch space). The
// Grammar and TokenVocabulary it holds may be shared with other Matchers on
// other threads.
#pragma once

#include <cstdint>
#include <memory>
#include <mutex>
#include <vector>

#include "common/grammar/grammar.h"
#include "common/grammar/token_vocabulary.h"

namespace skipjoin::grammar {

// Leaf-state mask parts shared by the Matchers of one (Grammar,
// TokenVocabulary) pair: the n choices of one request, or requests that reuse
// a compiled grammar. Without one, each Matcher computes its own (the first
// mask inside a string costs a walk of the whole trie, about 2-3 ms for a
// 49k vocabulary). Thread-safe: Matchers on any threads may share one.
class MaskCache {
 public:
  MaskCache(GrammarPtr grammar, std::shared_ptr<const TokenVocabulary> vocab);
  ~MaskCache();

 private:
  friend class Matcher;
  struct Impl;
  std::unique_ptr<Impl> impl_;
};

class Matcher {
 public:
  // cache: optional; when given it must be for the same grammar and vocab.
  Matcher(GrammarPtr grammar, std::shared_ptr<const TokenVocabulary> vocab,
          std::shared_ptr<MaskCache> cache = nullptr);
  ~Matcher();
  Matcher(Matcher&&) noexcept;
  Matcher& operator=(Matcher&&) noexcept;

  // Bit i of (*mask)[i / 32] set iff token i may come next; resized to
  // vocab->mask_words(). All zero once an end-of-sequence token was accepted.
  void FillNextTokenMask(std::vector<uint32_t>* mask) const;
  // Advances by one token; false (state unchanged) if it is not allowed.
  bool AcceptToken(int32_t id);
  // The output so far is a complete match (or generation ended with EOS).
  bool IsAccepting() const;
  // Accepting, and no byte can follow: only end-of-sequence is allowed.
  bool IsTerminated() const;

 private:
  struct Impl;
  std::unique_ptr<Impl> impl_;
};

}  // namespace skipjoin::grammar
