#include "common/grammar/guide.h"

#include <nlohmann/json.hpp>

namespace skipjoin::grammar {

Result<GrammarPtr> CompileGuide(GuideKind kind, const std::string& spec) {
  switch (kind) {
    case GuideKind::kNone:
      return InvalidArgument("no structured-output guide to compile");
    case GuideKind::kJsonObject:
      return CompileJsonObject();
    case GuideKind::kJsonSchema:
      return CompileJsonSchema(spec);
    case GuideKind::kRegex:
      return CompileRegex(spec);
    case GuideKind::kChoice: {
      const nlohmann::json list = nlohmann::json::parse(spec, nullptr, /*allow_exceptions=*/false);
      if (!list.is_array() || list.empty() || list.size() > 1024)
        return InvalidArgument("choices must be a list of 1 to 1024 strings");
      std::vector<std::string> choices;
      for (const nlohmann::json& c : list) {
        if (!c.is_string() || c.get_ref<const std::string&>().empty())
          return InvalidArgument("choices must be non-empty strings");
        choices.push_back(c.get<std::string>());
      }
      return CompileChoice(choices);
    }
  }
  return InvalidArgument("unknown structured-output guide kind");
}

}  // namespace skipjoin::grammar
