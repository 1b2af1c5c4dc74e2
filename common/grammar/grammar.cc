#include "common/grammar/grammar.h"

#include "common/grammar/automaton.h"
#include "common/grammar/builder.h"
#include "common/grammar/regex.h"
#include "common/grammar/stacks.h"

namespace skipjoin::grammar {
namespace {

// The set after `text`, or an empty set when some byte is not allowed.
internal::StackSet Run(const internal::Automaton& a, std::string_view text) {
  internal::StackEngine engine(&a);
  internal::StackSet cur, next;
  engine.Initial(&cur);
  for (char c : text) {
    if (!engine.Step(cur, static_cast<uint8_t>(c), &next)) return {};
    std::swap(cur, next);
  }
  return cur;
}

}  // namespace

Grammar::Grammar(std::unique_ptr<const internal::Automaton> automaton)
    : automaton_(std::move(automaton)) {}

Grammar::~Grammar() = default;

bool Grammar::Matches(std::string_view text) const { return Run(*automaton_, text).accept; }

bool Grammar::IsValidPrefix(std::string_view text) const { return !Run(*automaton_, text).empty(); }

namespace internal {

Result<GrammarPtr> MakeGrammar(GrammarBuilder* b, int32_t root) {
  SJ_ASSIGN_OR_RETURN(Automaton a, b->Build(root));
  return GrammarPtr(
      std::make_shared<const Grammar>(std::make_unique<const Automaton>(std::move(a))));
}

}  // namespace internal

size_t Grammar::state_count() const { return automaton_->states.size(); }

Result<GrammarPtr> CompileRegex(std::string_view pattern) {
  internal::GrammarBuilder b;
  SJ_ASSIGN_OR_RETURN(internal::ExprId body,
                      internal::ParseRegex(pattern, internal::RegexAnchoring::kFullMatch,
                                           internal::CharEncoding::kRaw, &b));
  const int32_t root = b.AddRule("regex");
  b.SetBody(root, body);
  auto g = internal::MakeGrammar(&b, root);
  if (!g.ok() && g.status().code() == StatusCode::kInvalidArgument) {
    return InvalidArgument("regex matches nothing: " + g.status().message());
  }
  return g;
}

Result<GrammarPtr> CompileChoice(const std::vector<std::string>& choices) {
  if (choices.empty()) return InvalidArgument("choice needs at least one string");
  internal::GrammarBuilder b;
  std::vector<internal::ExprId> alts;
  for (const std::string& c : choices) alts.push_back(b.Literal(c));
  const int32_t root = b.AddRule("choice");
  b.SetBody(root, b.Alt(std::move(alts)));
  return internal::MakeGrammar(&b, root);
}

}  // namespace skipjoin::grammar
