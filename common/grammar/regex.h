// Internal to skipjoin_grammar: the regex subset (grammar.h CompileRegex) as
// a grammar expression. Pure; any thread.
#pragma once

#include <string_view>

#include "common/grammar/builder.h"
#include "common/grammar/charset.h"
#include "common/status.h"

namespace skipjoin::grammar::internal {

inline constexpr int kMaxRegexRepeat = 1000;
inline constexpr int kMaxRegexDepth = 256;

enum class RegexAnchoring {
  kFullMatch,  // the text is one match; ^ and $ at the ends are no-ops
  kSearch,     // JSON Schema "pattern": a match anywhere unless ^ / $ pin it
};

// Errors: "<what> at offset N in regex". `encoding` says how the characters
// the regex matches are written (raw, or inside a JSON string).
Result<ExprId> ParseRegex(std::string_view pattern, RegexAnchoring anchoring, CharEncoding encoding,
                          GrammarBuilder* b);

}  // namespace skipjoin::grammar::internal
