// Internal to skipjoin_grammar: grammar rules as expressions over byte sets,
// compiled by Build into an Automaton (Thompson NFA per rule, then subset
// construction). The regex, choice and JSON Schema front ends all write here.
// Single-threaded: one builder per compilation.
#pragma once

#include <bitset>
#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "common/grammar/automaton.h"
#include "common/grammar/grammar.h"
#include "common/status.h"

namespace skipjoin::grammar::internal {

using ByteSet = std::bitset<256>;
using ExprId = int32_t;

inline constexpr int32_t kUnbounded = -1;

// Limits that keep hostile grammars bounded in memory and time. Exceeding one
// is a ResourceExhausted error naming the limit.
inline constexpr size_t kMaxExprNodes = 1 << 20;
inline constexpr size_t kMaxNfaStates = 1 << 20;
inline constexpr size_t kMaxDfaStates = 1 << 18;

class GrammarBuilder {
 public:
  GrammarBuilder() = default;

  ExprId Empty();
  ExprId Bytes(const ByteSet& set);
  ExprId Range(uint8_t lo, uint8_t hi);
  ExprId Literal(std::string_view bytes);
  ExprId Seq(std::vector<ExprId> parts);
  ExprId Alt(std::vector<ExprId> alternatives);
  // e{min,max}; max == kUnbounded for no upper bound.
  ExprId Repeat(ExprId e, int32_t min, int32_t max);
  ExprId Optional(ExprId e) { return Repeat(e, 0, 1); }
  ExprId Star(ExprId e) { return Repeat(e, 0, kUnbounded); }
  ExprId Call(int32_t rule);

  // A rule whose body is set later (so rules may refer to themselves).
  int32_t AddRule(std::string name);
  void SetBody(int32_t rule, ExprId body) { rules_[rule].body = body; }
  int32_t rule_count() const { return static_cast<int32_t>(rules_.size()); }
  const std::string& rule_name(int32_t rule) const { return rules_[rule].name; }

  // Set when a limit was hit while building expressions; Build reports it.
  bool overflowed() const { return overflowed_; }

  Result<Automaton> Build(int32_t root_rule);

 private:
  enum class Kind : uint8_t { kEmpty, kBytes, kSeq, kAlt, kRepeat, kCall };
  struct Expr {
    Kind kind = Kind::kEmpty;
    int32_t min = 0, max = 0;      // kRepeat
    int32_t arg = -1;              // kBytes: index into byte_sets_; kRepeat: child; kCall: rule
    std::vector<ExprId> children;  // kSeq, kAlt
  };
  struct Rule {
    std::string name;
    ExprId body = -1;
  };
  friend class NfaCompiler;

  ExprId Add(Expr e);

  std::vector<Expr> exprs_;
  std::vector<ByteSet> byte_sets_;
  std::vector<Rule> rules_;
  bool overflowed_ = false;
};

// Builds the automaton rooted at `root` and wraps it in a Grammar.
Result<GrammarPtr> MakeGrammar(GrammarBuilder* b, int32_t root);

}  // namespace skipjoin::grammar::internal
