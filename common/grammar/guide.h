// The structured-output guide of a request (SamplingParams::guide and
// guide_spec) compiled into a Grammar: the one place that maps the wire's
// guide kinds to the compilers, used by the coordinator to validate a request
// and by the worker to build its matchers. Pure functions; any thread.
#pragma once

#include "common/grammar/grammar.h"
#include "common/serving_types.h"
#include "common/status.h"

namespace skipjoin::grammar {

// kJsonObject ignores spec; kJsonSchema: the schema as JSON text; kRegex: the
// pattern; kChoice: a JSON array of 1..1024 non-empty strings. kNone is an
// error (there is nothing to compile). Errors say what is wrong and where.
Result<GrammarPtr> CompileGuide(GuideKind kind, const std::string& spec);

}  // namespace skipjoin::grammar
