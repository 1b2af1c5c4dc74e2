// Internal to skipjoin_grammar: the compiled form of a grammar. Every rule is a
// deterministic automaton over bytes whose states may also call other rules
// (push a return state, continue in the callee's start state) and may end the
// rule (pop back to the caller's return state). Nondeterminism that a DFA
// cannot fold (several calls from one state, ending while bytes may still
// follow) is kept by the matcher as a set of stacks (stacks.h).
//
// Invariants established by GrammarBuilder::Build: every transition and call
// leads to a state from which the rule can still end (no dead ends), and no
// rule reaches itself through calls without consuming a byte (no left
// recursion), so closures terminate.
// Immutable after construction; any thread may read it.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

namespace skipjoin::grammar::internal {

struct ByteRange {
  uint8_t lo;
  uint8_t hi;  // inclusive
  uint32_t target;
};

struct CallEdge {
  uint32_t callee_start;  // start state of the called rule
  uint32_t return_state;  // state of the caller once the callee ends
};

struct DfaState {
  uint32_t range_begin = 0, range_end = 0;  // into Automaton::ranges, sorted by lo
  uint32_t call_begin = 0, call_end = 0;    // into Automaton::calls
  uint32_t rule = 0;
  bool accepting = false;  // the rule may end here
  bool leaf = false;       // the rule calls nothing (its states' masks can be cached)
};

struct Automaton {
  std::vector<DfaState> states;
  std::vector<ByteRange> ranges;
  std::vector<CallEdge> calls;
  std::vector<uint32_t> rule_start;     // per rule
  std::vector<std::string> rule_names;  // per rule, for errors (a JSON path for schemas)
  uint32_t root_rule = 0;

  // The state after byte b from state s, or -1.
  int64_t Next(uint32_t s, uint8_t b) const {
    const DfaState& st = states[s];
    for (uint32_t i = st.range_begin; i < st.range_end; ++i) {
      const ByteRange& r = ranges[i];
      if (b < r.lo) return -1;
      if (b <= r.hi) return r.target;
    }
    return -1;
  }
  bool HasBytes(uint32_t s) const { return states[s].range_begin != states[s].range_end; }
};

}  // namespace skipjoin::grammar::internal
