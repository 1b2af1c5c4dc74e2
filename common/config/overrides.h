// Internal to skipjoin_config: `--set key.path=value` overrides, applied to the
// YAML tree before it is parsed, so overridden values get exactly the same
// checks as values from the file. Nodes created here carry no file mark, which
// is how errors about them say "command line". Thread-compatible.
#pragma once

#include <yaml-cpp/yaml.h>

#include <string_view>

#include "common/status.h"

namespace skipjoin::config::internal {

// override: "a.b.c=value". Dots separate map keys (missing maps are created);
// a number selects an existing list element ("replicas.1.tp=2"). The value is
// parsed as YAML: a scalar ("fcfs", "9000") or a flow list/map ("[a, b]").
Status ApplyOverride(YAML::Node* root, std::string_view override_text);

}  // namespace skipjoin::config::internal
