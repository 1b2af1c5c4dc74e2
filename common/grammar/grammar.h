// skipjoin_grammar: constraints for structured outputs. A Grammar is compiled
// once from an OpenAI response_format (a JSON Schema in strict mode, any JSON
// object), a regex or a list of choices; a Matcher (matcher.h) then walks it
// token by token and masks the logits the sampler may pick from.
//
// What the compilers accept, and the bounds that keep hostile input bounded,
// are documented with each function below. Every failure is a Status whose
// message names the offending keyword or construct and where it is (a JSON
// pointer for schemas, a byte offset for regexes).
//
// Thread-safety: a Grammar is immutable once compiled; any number of threads
// may share it (and the Matchers made from it) through shared_ptr<const>.
// The Compile functions may be called from any thread.
#pragma once

#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "common/status.h"

namespace skipjoin::grammar {

namespace internal {
struct Automaton;
}  // namespace internal

class Grammar {
 public:
  ~Grammar();
  Grammar(const Grammar&) = delete;
  Grammar& operator=(const Grammar&) = delete;

  // Whether the whole of `text` satisfies the constraint (byte level, no
  // tokenizer involved).
  bool Matches(std::string_view text) const;
  // Whether `text` can be extended into a match (every prefix the matcher
  // lets through is one).
  bool IsValidPrefix(std::string_view text) const;

  // Automaton states, a measure of the grammar's size.
  size_t state_count() const;
  const internal::Automaton& automaton() const { return *automaton_; }

  // For the compilers in this library.
  explicit Grammar(std::unique_ptr<const internal::Automaton> automaton);

 private:
  std::unique_ptr<const internal::Automaton> automaton_;
};

using GrammarPtr = std::shared_ptr<const Grammar>;

// JSON text the output must be: the JSON Schema subset OpenAI's strict mode
// uses (2020-12 keywords; see json_schema.cc for the full list):
//   type (one name or an array of names), properties, required,
//   additionalProperties (false, true or absent: the output never has
//   properties the schema does not list, which satisfies all three),
//   items, prefixItems, minItems, maxItems, enum, const, anyOf, oneOf (treated
//   as anyOf: alternatives that overlap may both match), allOf with one
//   element, $ref to "#" or "#/..." inside the schema (recursion allowed),
//   $defs/definitions, minLength, maxLength, pattern (regex subset below,
//   unanchored unless it starts with ^ / ends with $), format (date, time,
//   date-time, uuid, ipv4), minimum: 0 on numbers (no sign).
// {"type": "object"} without properties is any JSON object; a schema without
// any validation keyword is any JSON value.
// Annotations (title, description, default, examples, $schema, $id, $comment,
// deprecated, readOnly, writeOnly) are accepted and have no effect.
// Any other keyword is an error naming it and its JSON pointer, e.g.
//   unsupported JSON Schema keyword 'patternProperties' at /properties/a
// Output form: compact or spaced JSON; at most kMaxWhitespace (see
// json_grammar.h) whitespace bytes between two tokens, none before the value
// or after it; object properties in schema order (required ones present,
// optional ones may be left out); enum/const values exactly as compact JSON;
// numbers with at most 19 integer digits, 19 fraction digits, 3 exponent
// digits; strings any valid JSON string (escapes included, valid UTF-8 only).
// Bounds: schema nesting depth 64; minLength/maxLength/minItems/maxItems and
// prefixItems at most 1000 each; the automaton at most 2^18 states.
Result<GrammarPtr> CompileJsonSchema(std::string_view schema_json);
// Any JSON object (response_format json_object).
Result<GrammarPtr> CompileJsonObject();

// The whole output matches `pattern` (implicitly anchored; a leading ^ and a
// trailing $ are accepted). Supported: literals (UTF-8), escapes (\d \D \w \W
// \s \S, \n \t \r \f \v \0, \xHH, \uHHHH, escaped punctuation), classes
// [a-z] and [^...] (with the escapes above inside), . (any character but
// \n), alternation, groups ( (?: (?<name> (?P<name> ), quantifiers * + ?
// {m} {m,} {m,n} (lazy forms accepted: they do not change what matches).
// Refused with the construct and its byte offset: backreferences, lookaround,
// word boundaries, inline flags, possessive quantifiers, \p classes, anchors
// anywhere but the ends. Bounds: repetition counts at most 1000, group
// nesting 256.
Result<GrammarPtr> CompileRegex(std::string_view pattern);

// The output is exactly one of `choices` (byte strings; at least one).
Result<GrammarPtr> CompileChoice(const std::vector<std::string>& choices);

}  // namespace skipjoin::grammar
