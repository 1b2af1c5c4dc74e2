#include "common/grammar/builder.h"

#include <algorithm>
#include <map>
#include <utility>

namespace skipjoin::grammar::internal {
namespace {

// Expression nesting the NFA compiler recurses through; front ends stay well
// below it (schema depth, regex group depth).
constexpr int kMaxExprDepth = 2048;

struct NfaState {
  std::vector<int32_t> eps;
  std::vector<std::pair<int32_t, int32_t>> bytes;  // (byte set index, target)
  std::vector<std::pair<int32_t, int32_t>> calls;  // (rule, target)
};

// A DFA state while rules are being determinized; calls name the callee rule.
struct PendingState {
  std::vector<ByteRange> ranges;
  std::vector<std::pair<int32_t, uint32_t>> calls;  // (rule, return state)
  uint32_t rule = 0;
  bool accepting = false;
};

// Least fixpoint of a monotone per-state predicate: eval(s) reads the current
// values; preds[s] are the states whose value may depend on s.
template <typename Eval>
std::vector<bool> Fixpoint(size_t n, const std::vector<std::vector<uint32_t>>& preds, Eval eval) {
  std::vector<bool> value(n, false);
  std::vector<uint32_t> work;
  work.reserve(n);
  for (size_t s = 0; s < n; ++s) work.push_back(static_cast<uint32_t>(s));
  while (!work.empty()) {
    const uint32_t s = work.back();
    work.pop_back();
    if (value[s] || !eval(s, value)) continue;
    value[s] = true;
    for (uint32_t p : preds[s]) {
      if (!value[p]) work.push_back(p);
    }
  }
  return value;
}

}  // namespace

// Thompson construction of one rule body, then subset construction into
// global DFA states.
class NfaCompiler {
 public:
  NfaCompiler(const GrammarBuilder& b, std::vector<PendingState>* dfa) : b_(b), dfa_(dfa) {}

  // Determinizes rule `rule`; returns its start state.
  Result<uint32_t> CompileRule(int32_t rule) {
    nfa_.clear();
    const int32_t start = NewState(), end = NewState();
    SJ_RETURN_IF_ERROR(Connect(b_.rules_[rule].body, start, end, 0));
    end_ = end;
    stamp_.assign(nfa_.size(), 0);
    stamp_value_ = 0;
    std::map<std::vector<int32_t>, uint32_t> ids;
    std::vector<std::pair<std::vector<int32_t>, uint32_t>> queue;
    auto intern = [&](std::vector<int32_t> set) -> Result<uint32_t> {
      auto it = ids.find(set);
      if (it != ids.end()) return it->second;
      if (dfa_->size() >= kMaxDfaStates) {
        return ResourceExhausted("grammar needs more than " + std::to_string(kMaxDfaStates) +
                                 " automaton states (at " + b_.rules_[rule].name + ")");
      }
      const uint32_t id = static_cast<uint32_t>(dfa_->size());
      dfa_->push_back(PendingState{});
      dfa_->back().rule = static_cast<uint32_t>(rule);
      ids.emplace(set, id);
      queue.emplace_back(std::move(set), id);
      return id;
    };
    SJ_ASSIGN_OR_RETURN(const uint32_t start_id, intern(Closure({start})));
    while (!queue.empty()) {
      auto [set, id] = std::move(queue.back());
      queue.pop_back();
      std::vector<std::pair<int32_t, int32_t>> edges;
      std::vector<std::pair<int32_t, uint32_t>> calls;
      bool accepting = false;
      for (int32_t s : set) {
        accepting |= s == end_;
        edges.insert(edges.end(), nfa_[s].bytes.begin(), nfa_[s].bytes.end());
        for (auto [callee, target] : nfa_[s].calls) {
          SJ_ASSIGN_OR_RETURN(const uint32_t ret, intern(Closure({target})));
          calls.emplace_back(callee, ret);
        }
      }
      std::sort(calls.begin(), calls.end());
      calls.erase(std::unique(calls.begin(), calls.end()), calls.end());
      std::vector<ByteRange> ranges;
      std::vector<int32_t> prev_targets;
      int64_t prev_id = -1;
      for (int b = 0; b < 256; ++b) {
        std::vector<int32_t> targets;
        for (auto [set_index, target] : edges) {
          if (b_.byte_sets_[set_index].test(b)) targets.push_back(target);
        }
        if (targets.empty()) {
          prev_id = -1;
          prev_targets.clear();
          continue;
        }
        std::sort(targets.begin(), targets.end());
        targets.erase(std::unique(targets.begin(), targets.end()), targets.end());
        if (prev_id < 0 || targets != prev_targets) {
          SJ_ASSIGN_OR_RETURN(const uint32_t t, intern(Closure(targets)));
          prev_id = t;
          prev_targets = std::move(targets);
        }
        if (!ranges.empty() && ranges.back().hi == b - 1 && ranges.back().target == prev_id) {
          ranges.back().hi = static_cast<uint8_t>(b);
        } else {
          ranges.push_back(
              {static_cast<uint8_t>(b), static_cast<uint8_t>(b), static_cast<uint32_t>(prev_id)});
        }
      }
      PendingState& st = (*dfa_)[id];
      st.ranges = std::move(ranges);
      st.calls = std::move(calls);
      st.accepting = accepting;
    }
    return start_id;
  }

 private:
  int32_t NewState() {
    nfa_.emplace_back();
    return static_cast<int32_t>(nfa_.size() - 1);
  }

  Status Connect(ExprId id, int32_t from, int32_t to, int depth) {
    if (depth > kMaxExprDepth) return ResourceExhausted("grammar nested too deeply");
    if (nfa_.size() > kMaxNfaStates) {
      return ResourceExhausted("grammar needs more than " + std::to_string(kMaxNfaStates) +
                               " NFA states");
    }
    const GrammarBuilder::Expr& e = b_.exprs_[id];
    switch (e.kind) {
      case GrammarBuilder::Kind::kEmpty:
        nfa_[from].eps.push_back(to);
        return Status::Ok();
      case GrammarBuilder::Kind::kBytes:
        nfa_[from].bytes.emplace_back(e.arg, to);
        return Status::Ok();
      case GrammarBuilder::Kind::kCall:
        nfa_[from].calls.emplace_back(e.arg, to);
        return Status::Ok();
      case GrammarBuilder::Kind::kAlt:
        if (e.children.empty()) return Status::Ok();  // the empty language
        for (ExprId c : e.children) SJ_RETURN_IF_ERROR(Connect(c, from, to, depth + 1));
        return Status::Ok();
      case GrammarBuilder::Kind::kSeq: {
        int32_t cur = from;
        for (size_t i = 0; i < e.children.size(); ++i) {
          const int32_t next = i + 1 == e.children.size() ? to : NewState();
          SJ_RETURN_IF_ERROR(Connect(e.children[i], cur, next, depth + 1));
          cur = next;
        }
        if (e.children.empty()) nfa_[from].eps.push_back(to);
        return Status::Ok();
      }
      case GrammarBuilder::Kind::kRepeat:
        return ConnectRepeat(e, from, to, depth);
    }
    return Internal("unknown expression kind");
  }

  Status ConnectRepeat(const GrammarBuilder::Expr& e, int32_t from, int32_t to, int depth) {
    int32_t cur = from;
    for (int32_t i = 0; i < e.min; ++i) {
      const int32_t next = NewState();
      SJ_RETURN_IF_ERROR(Connect(e.arg, cur, next, depth + 1));
      cur = next;
    }
    if (e.max == kUnbounded) {
      // Fresh loop states so that no edge leads back into `from`.
      const int32_t a = NewState(), b = NewState();
      nfa_[cur].eps.push_back(a);
      SJ_RETURN_IF_ERROR(Connect(e.arg, a, b, depth + 1));
      nfa_[b].eps.push_back(a);
      nfa_[a].eps.push_back(to);
      return Status::Ok();
    }
    for (int32_t i = e.min; i < e.max; ++i) {
      nfa_[cur].eps.push_back(to);
      const int32_t next = NewState();
      SJ_RETURN_IF_ERROR(Connect(e.arg, cur, next, depth + 1));
      cur = next;
    }
    nfa_[cur].eps.push_back(to);
    return Status::Ok();
  }

  std::vector<int32_t> Closure(std::vector<int32_t> seeds) {
    ++stamp_value_;
    std::vector<int32_t> out, work = std::move(seeds);
    while (!work.empty()) {
      const int32_t s = work.back();
      work.pop_back();
      if (stamp_[s] == stamp_value_) continue;
      stamp_[s] = stamp_value_;
      const NfaState& st = nfa_[s];
      // Only states that consume, call or end matter for the DFA state's identity.
      if (!st.bytes.empty() || !st.calls.empty() || s == end_) out.push_back(s);
      work.insert(work.end(), st.eps.begin(), st.eps.end());
    }
    std::sort(out.begin(), out.end());
    return out;
  }

  const GrammarBuilder& b_;
  std::vector<PendingState>* dfa_;
  std::vector<NfaState> nfa_;
  int32_t end_ = -1;
  std::vector<uint32_t> stamp_;
  uint32_t stamp_value_ = 0;
};

ExprId GrammarBuilder::Add(Expr e) {
  if (exprs_.size() >= kMaxExprNodes) {
    overflowed_ = true;
    return exprs_.empty() ? 0 : static_cast<ExprId>(exprs_.size() - 1);
  }
  exprs_.push_back(std::move(e));
  return static_cast<ExprId>(exprs_.size() - 1);
}

ExprId GrammarBuilder::Empty() { return Add(Expr{}); }

ExprId GrammarBuilder::Bytes(const ByteSet& set) {
  byte_sets_.push_back(set);
  Expr e;
  e.kind = Kind::kBytes;
  e.arg = static_cast<int32_t>(byte_sets_.size() - 1);
  return Add(std::move(e));
}

ExprId GrammarBuilder::Range(uint8_t lo, uint8_t hi) {
  ByteSet set;
  for (int b = lo; b <= hi; ++b) set.set(b);
  return Bytes(set);
}

ExprId GrammarBuilder::Literal(std::string_view bytes) {
  std::vector<ExprId> parts;
  parts.reserve(bytes.size());
  for (char c : bytes) parts.push_back(Range(static_cast<uint8_t>(c), static_cast<uint8_t>(c)));
  return Seq(std::move(parts));
}

ExprId GrammarBuilder::Seq(std::vector<ExprId> parts) {
  if (parts.size() == 1) return parts[0];
  Expr e;
  e.kind = Kind::kSeq;
  e.children = std::move(parts);
  return Add(std::move(e));
}

ExprId GrammarBuilder::Alt(std::vector<ExprId> alternatives) {
  if (alternatives.size() == 1) return alternatives[0];
  Expr e;
  e.kind = Kind::kAlt;
  e.children = std::move(alternatives);
  return Add(std::move(e));
}

ExprId GrammarBuilder::Repeat(ExprId child, int32_t min, int32_t max) {
  if (min == 1 && max == 1) return child;
  Expr e;
  e.kind = Kind::kRepeat;
  e.arg = child;
  e.min = min;
  e.max = max;
  return Add(std::move(e));
}

ExprId GrammarBuilder::Call(int32_t rule) {
  Expr e;
  e.kind = Kind::kCall;
  e.arg = rule;
  return Add(std::move(e));
}

int32_t GrammarBuilder::AddRule(std::string name) {
  rules_.push_back(Rule{std::move(name), -1});
  return static_cast<int32_t>(rules_.size() - 1);
}

namespace {

// Drops transitions and calls that can never lead to the rule's end, so every
// prefix the matcher allows can be completed.
Status PruneDeadEnds(std::vector<PendingState>* dfa, const std::vector<uint32_t>& rule_start,
                     uint32_t root_start) {
  const size_t n = dfa->size();
  std::vector<std::vector<uint32_t>> preds(n);
  for (uint32_t s = 0; s < n; ++s) {
    for (const ByteRange& r : (*dfa)[s].ranges) preds[r.target].push_back(s);
    for (auto [rule, ret] : (*dfa)[s].calls) {
      preds[ret].push_back(s);
      preds[rule_start[rule]].push_back(s);
    }
  }
  const std::vector<bool> live = Fixpoint(n, preds, [&](uint32_t s, const std::vector<bool>& v) {
    const PendingState& st = (*dfa)[s];
    if (st.accepting) return true;
    for (const ByteRange& r : st.ranges) {
      if (v[r.target]) return true;
    }
    for (auto [rule, ret] : st.calls) {
      if (v[rule_start[rule]] && v[ret]) return true;
    }
    return false;
  });
  if (!live[root_start]) return InvalidArgument("the grammar accepts no input at all");
  for (PendingState& st : *dfa) {
    std::erase_if(st.ranges, [&](const ByteRange& r) { return !live[r.target]; });
    std::erase_if(st.calls, [&](const std::pair<int32_t, uint32_t>& c) {
      return !live[rule_start[c.first]] || !live[c.second];
    });
  }
  return Status::Ok();
}

// Fails when a rule can call itself again before consuming a byte.
Status CheckLeftRecursion(const std::vector<PendingState>& dfa,
                          const std::vector<uint32_t>& rule_start,
                          const std::vector<std::string>& names) {
  const size_t n = dfa.size();
  std::vector<std::vector<uint32_t>> preds(n);
  for (uint32_t s = 0; s < n; ++s) {
    for (auto [rule, ret] : dfa[s].calls) {
      preds[ret].push_back(s);
      preds[rule_start[rule]].push_back(s);
    }
  }
  const std::vector<bool> nullable =
      Fixpoint(n, preds, [&](uint32_t s, const std::vector<bool>& v) {
        if (dfa[s].accepting) return true;
        for (auto [rule, ret] : dfa[s].calls) {
          if (v[rule_start[rule]] && v[ret]) return true;
        }
        return false;
      });
  const size_t rules = rule_start.size();
  std::vector<std::vector<int32_t>> first_calls(rules);
  std::vector<uint32_t> seen(n, UINT32_MAX);
  for (uint32_t r = 0; r < rules; ++r) {
    std::vector<uint32_t> work = {rule_start[r]};
    while (!work.empty()) {
      const uint32_t s = work.back();
      work.pop_back();
      if (seen[s] == r) continue;
      seen[s] = r;
      for (auto [callee, ret] : dfa[s].calls) {
        first_calls[r].push_back(callee);
        if (nullable[rule_start[callee]]) work.push_back(ret);
      }
    }
  }
  // Iterative three-colour DFS over the "calls before consuming" graph.
  std::vector<uint8_t> colour(rules, 0);
  for (uint32_t root = 0; root < rules; ++root) {
    if (colour[root] != 0) continue;
    std::vector<std::pair<int32_t, size_t>> stack = {{static_cast<int32_t>(root), 0}};
    colour[root] = 1;
    while (!stack.empty()) {
      auto& [r, next] = stack.back();
      if (next == first_calls[r].size()) {
        colour[r] = 2;
        stack.pop_back();
        continue;
      }
      const int32_t c = first_calls[r][next++];
      if (colour[c] == 1) {
        return InvalidArgument("left recursion: " + names[c] +
                               " refers to itself without consuming any input");
      }
      if (colour[c] == 0) {
        colour[c] = 1;
        stack.emplace_back(c, 0);
      }
    }
  }
  return Status::Ok();
}

}  // namespace

Result<Automaton> GrammarBuilder::Build(int32_t root_rule) {
  if (overflowed_) {
    return ResourceExhausted("grammar needs more than " + std::to_string(kMaxExprNodes) +
                             " expression nodes");
  }
  std::vector<PendingState> dfa;
  std::vector<uint32_t> rule_start(rules_.size());
  NfaCompiler compiler(*this, &dfa);
  for (size_t r = 0; r < rules_.size(); ++r) {
    if (rules_[r].body < 0) return Internal("grammar rule " + rules_[r].name + " has no body");
    SJ_ASSIGN_OR_RETURN(rule_start[r], compiler.CompileRule(static_cast<int32_t>(r)));
  }
  std::vector<std::string> names;
  for (const Rule& r : rules_) names.push_back(r.name);
  SJ_RETURN_IF_ERROR(PruneDeadEnds(&dfa, rule_start, rule_start[root_rule]));
  SJ_RETURN_IF_ERROR(CheckLeftRecursion(dfa, rule_start, names));

  std::vector<bool> leaf(rules_.size(), true);
  for (const PendingState& st : dfa) {
    if (!st.calls.empty()) leaf[st.rule] = false;
  }
  Automaton a;
  a.states.resize(dfa.size());
  for (size_t s = 0; s < dfa.size(); ++s) {
    DfaState& out = a.states[s];
    const PendingState& in = dfa[s];
    out.rule = in.rule;
    out.accepting = in.accepting;
    out.leaf = leaf[in.rule];
    out.range_begin = static_cast<uint32_t>(a.ranges.size());
    for (const internal::ByteRange& r : in.ranges) {
      if (!a.ranges.empty() && a.ranges.size() > out.range_begin &&
          a.ranges.back().target == r.target && a.ranges.back().hi + 1 == r.lo) {
        a.ranges.back().hi = r.hi;
      } else {
        a.ranges.push_back(r);
      }
    }
    out.range_end = static_cast<uint32_t>(a.ranges.size());
    out.call_begin = static_cast<uint32_t>(a.calls.size());
    for (auto [rule, ret] : in.calls) a.calls.push_back({rule_start[rule], ret});
    out.call_end = static_cast<uint32_t>(a.calls.size());
  }
  a.rule_start = std::move(rule_start);
  a.rule_names = std::move(names);
  a.root_rule = static_cast<uint32_t>(root_rule);
  return a;
}

}  // namespace skipjoin::grammar::internal
