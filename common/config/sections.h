// Internal to skipjoin_config: readers of the sections that live in files of
// their own (the cluster config's Parser calls them).
#pragma once

#include <yaml-cpp/yaml.h>

#include <string>

#include "common/config/monitoring_config.h"
#include "common/config/supervision_config.h"
#include "common/status.h"

namespace skipjoin::config::internal {

// `section` is the section's node (undefined or null when absent). Fills *out
// (defaults stay for absent keys) and sets *port_node to where monitoring.port
// was written (undefined for the default), for port-clash messages.
Status ParseMonitoring(const std::string& source, const YAML::Node& section, MonitoringConfig* out,
                       YAML::Node* port_node);

// The `supervision:` section, the same way.
Status ParseSupervision(const std::string& source, const YAML::Node& section,
                        SupervisionConfig* out);

}  // namespace skipjoin::config::internal
