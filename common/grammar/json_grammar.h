// Internal to skipjoin_grammar: the JSON building blocks shared by the JSON
// Schema compiler and json_object mode. Strings, numbers and literals are leaf
// rules (they call nothing), so the matcher can cache their token masks;
// objects and arrays call their members' rules.
// Single-threaded: lives with one GrammarBuilder.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "common/grammar/builder.h"

namespace skipjoin::grammar::internal {

// Whitespace bytes (space, \t, \n, \r) allowed in a row between two JSON
// tokens. Enough for pretty-printed output nested eight levels deep with
// two-space indentation; small enough that a model cannot stall on spaces.
inline constexpr int kMaxWhitespace = 20;
// Digits of a number's integer part, fraction and exponent.
inline constexpr int kMaxIntegerDigits = 19;
inline constexpr int kMaxFractionDigits = 19;
inline constexpr int kMaxExponentDigits = 3;

class JsonRules {
 public:
  explicit JsonRules(GrammarBuilder* b) : b_(b) {}

  ExprId Ws();
  // Leaf rules, made once per grammar.
  int32_t String();
  int32_t Number(bool integer, bool non_negative);
  int32_t Boolean();
  int32_t Null();
  // Any JSON value / object / array (recursive).
  int32_t AnyValue();
  int32_t AnyObject();
  int32_t AnyArray();

  // A leaf rule `"` body `"`, named `name`.
  int32_t QuotedRule(ExprId body, std::string name);

  // "{" ws ... "}" over properties in order; key_literals are the encoded
  // keys (with their quotes); values are rules.
  ExprId Object(const std::vector<std::string>& key_literals, const std::vector<int32_t>& values,
                const std::vector<bool>& required);
  // "[" ws ... "]": element i is prefix[i] for i < prefix.size(), then
  // `items` (-1: no more elements); between min and max (kUnbounded) elements.
  // The caller has checked that the bounds can be met.
  ExprId Array(const std::vector<int32_t>& prefix, int32_t items, int32_t min, int32_t max);

 private:
  GrammarBuilder* b_;
  int32_t string_ = -1, boolean_ = -1, null_ = -1;
  int32_t number_[2][2] = {{-1, -1}, {-1, -1}};
  int32_t any_value_ = -1, any_object_ = -1, any_array_ = -1;
};

}  // namespace skipjoin::grammar::internal
