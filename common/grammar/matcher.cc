#include "common/grammar/matcher.h"

#include <array>
#include <unordered_map>

#include "common/grammar/automaton.h"
#include "common/grammar/stacks.h"

namespace skipjoin::grammar {
namespace {

void SetBit(std::vector<uint32_t>* mask, int32_t id) {
  (*mask)[static_cast<uint32_t>(id) >> 5] |= 1u << (id & 31);
}

// The mask part of a leaf state that does not depend on the enclosing rules:
// tokens consumed entirely inside the rule, and the trie nodes where the rule
// can end with more bytes of the token still to come.
struct LeafMask {
  std::vector<uint32_t> inside;
  std::vector<uint32_t> boundary;  // trie nodes with children
};

}  // namespace

struct MaskCache::Impl {
  const Grammar* grammar;
  const TokenVocabulary* vocab;
  std::mutex mu;
  std::unordered_map<uint32_t, std::shared_ptr<const LeafMask>> leaves;  // guarded by mu
};

MaskCache::MaskCache(GrammarPtr grammar, std::shared_ptr<const TokenVocabulary> vocab)
    : impl_(std::make_unique<Impl>()) {
  impl_->grammar = grammar.get();
  impl_->vocab = vocab.get();
}
MaskCache::~MaskCache() = default;

struct Matcher::Impl {
  Impl(GrammarPtr g, std::shared_ptr<const TokenVocabulary> v, std::shared_ptr<MaskCache> c)
      : grammar(std::move(g)),
        vocab(std::move(v)),
        cache(std::move(c)),
        a(grammar->automaton()),
        engine(&a) {
    SJ_CHECK(!cache ||
             (cache->impl_->grammar == grammar.get() && cache->impl_->vocab == vocab.get()))
        << "MaskCache made for another grammar or vocabulary";
    engine.Initial(&state);
    buffers.resize(TokenVocabulary::kMaxTokenBytes + 2);
  }

  const LeafMask& Leaf(uint32_t dfa_state) {
    auto it = leaf_cache.find(dfa_state);
    if (it != leaf_cache.end()) return *it->second;
    std::shared_ptr<const LeafMask> found;
    if (cache) {
      std::lock_guard<std::mutex> lock(cache->impl_->mu);
      auto shared = cache->impl_->leaves.find(dfa_state);
      if (shared != cache->impl_->leaves.end()) found = shared->second;
    }
    if (!found) {
      auto m = std::make_shared<LeafMask>();
      m->inside.assign(vocab->mask_words(), 0);
      LeafWalk(0, dfa_state, m.get());
      found = std::move(m);
      if (cache) {
        std::lock_guard<std::mutex> lock(cache->impl_->mu);
        cache->impl_->leaves.emplace(dfa_state, found);
      }
    }
    return *leaf_cache.emplace(dfa_state, std::move(found)).first->second;
  }

  // Depth-first over the trie following only the leaf rule's automaton,
  // through per-state byte tables (a leaf walk visits most of the trie).
  void LeafWalk(uint32_t node, uint32_t s, LeafMask* m) {
    const int32_t* next = Table(s);
    const TokenVocabulary::Node& n = vocab->nodes()[node];
    for (uint32_t e = n.edge_begin; e < n.edge_end; ++e) {
      const int32_t t = next[vocab->edge_bytes()[e]];
      if (t < 0) continue;
      const uint32_t child = vocab->edge_children()[e];
      const TokenVocabulary::Node& c = vocab->nodes()[child];
      MarkTokens(c, &m->inside);
      if (c.edge_begin == c.edge_end) continue;
      if (a.states[t].accepting) m->boundary.push_back(child);
      if (a.HasBytes(static_cast<uint32_t>(t))) LeafWalk(child, static_cast<uint32_t>(t), m);
    }
  }

  const int32_t* Table(uint32_t s) {
    auto [it, added] = tables.try_emplace(s);
    if (added) {
      for (int b = 0; b < 256; ++b) it->second[b] = static_cast<int32_t>(a.Next(s, b));
    }
    return it->second.data();
  }

  void MarkTokens(const TokenVocabulary::Node& n, std::vector<uint32_t>* mask) const {
    for (uint32_t i = n.token_begin; i < n.token_end; ++i) SetBit(mask, vocab->token_ids()[i]);
  }

  // Depth-first over the trie below `node`, stepping the whole stack set.
  void Walk(uint32_t node, const internal::StackSet& set, size_t depth,
            std::vector<uint32_t>* mask) {
    const TokenVocabulary::Node& n = vocab->nodes()[node];
    internal::StackSet& next = buffers[depth];
    for (uint32_t e = n.edge_begin; e < n.edge_end; ++e) {
      if (!engine.Step(set, vocab->edge_bytes()[e], &next)) continue;
      const TokenVocabulary::Node& c = vocab->nodes()[vocab->edge_children()[e]];
      MarkTokens(c, mask);
      if (c.edge_begin != c.edge_end && !next.tops.empty()) {
        Walk(vocab->edge_children()[e], next, depth + 1, mask);
      }
    }
  }

  void FillMask(std::vector<uint32_t>* mask) {
    mask->assign(vocab->mask_words(), 0);
    if (finished) return;
    if (state.accept) {
      for (int32_t id : vocab->eos_ids()) SetBit(mask, id);
    }
    engine.BeginScratch();
    internal::StackSet generic;
    for (uint32_t top : state.tops) {
      const uint32_t s = engine.state(top);
      if (!a.states[s].leaf) {
        generic.tops.push_back(top);
        continue;
      }
      const LeafMask& leaf = Leaf(s);
      for (size_t w = 0; w < mask->size(); ++w) (*mask)[w] |= leaf.inside[w];
      if (leaf.boundary.empty()) continue;
      engine.Pop(top, &popped);
      if (popped.tops.empty()) continue;  // nothing can follow the rule's end
      for (uint32_t node : leaf.boundary) Walk(node, popped, 0, mask);
    }
    if (!generic.tops.empty()) Walk(0, generic, 0, mask);
    engine.EndScratch();
  }

  bool Accept(int32_t id) {
    if (finished || id < 0 || id >= vocab->size()) return false;
    if (vocab->is_eos(id)) {
      if (!state.accept) return false;
      finished = true;
      return true;
    }
    if (!vocab->usable(id)) return false;
    internal::StackSet cur = state, next;
    for (char c : vocab->bytes(id)) {
      if (!engine.Step(cur, static_cast<uint8_t>(c), &next)) return false;
      std::swap(cur, next);
    }
    state = std::move(cur);
    return true;
  }

  GrammarPtr grammar;
  std::shared_ptr<const TokenVocabulary> vocab;
  std::shared_ptr<MaskCache> cache;  // may be null
  const internal::Automaton& a;
  internal::StackEngine engine;
  internal::StackSet state;
  bool finished = false;  // an end-of-sequence token was accepted
  std::unordered_map<uint32_t, std::shared_ptr<const LeafMask>> leaf_cache;  // by DFA state
  std::unordered_map<uint32_t, std::array<int32_t, 256>> tables;  // DFA state -> next state
  std::vector<internal::StackSet> buffers;                        // per trie depth, for Walk
  internal::StackSet popped;
};

Matcher::Matcher(GrammarPtr grammar, std::shared_ptr<const TokenVocabulary> vocab,
                 std::shared_ptr<MaskCache> cache)
    : impl_(std::make_unique<Impl>(std::move(grammar), std::move(vocab), std::move(cache))) {}
Matcher::~Matcher() = default;
Matcher::Matcher(Matcher&&) noexcept = default;
Matcher& Matcher::operator=(Matcher&&) noexcept = default;

void Matcher::FillNextTokenMask(std::vector<uint32_t>* mask) const { impl_->FillMask(mask); }

bool Matcher::AcceptToken(int32_t id) { return impl_->Accept(id); }

bool Matcher::IsAccepting() const { return impl_->finished || impl_->state.accept; }

bool Matcher::IsTerminated() const {
  return impl_->finished || (impl_->state.accept && impl_->state.tops.empty());
}

}  // namespace skipjoin::grammar
