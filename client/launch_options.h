// `skipjoin launch` flags for the config keys most often changed: each is the
// same as a --set of its key (docs/CONFIGURATION.md), so the launched
// processes get it the same way. Plain values; any thread.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace skipjoin::cli {

struct LaunchKeyFlags {
  std::optional<std::string> model;    // --model PATH     = --set model.path=PATH
  std::optional<int64_t> http_port;    // --http-port N    = --set coordinator.http_port=N
  std::optional<std::string> api_key;  // --api-key KEY    = --set coordinator.api_key=KEY
};

// The --set texts of the flags that were given (model, http_port, api_key in
// that order). Launch applies them after the explicit --set ones, so a flag
// wins over a --set of the same key. Strings are YAML double-quoted, so a path
// or key that looks like YAML ("[x]", "a: b", "123", "#k") stays that text.
std::vector<std::string> LaunchKeyOverrides(const LaunchKeyFlags& flags);

// `text` as a YAML double-quoted scalar.
std::string YamlQuoted(std::string_view text);

}  // namespace skipjoin::cli
