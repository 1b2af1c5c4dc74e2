// Internal to skipjoin_config: reads the `monitoring:` section (the cluster
// config's Parser calls it and registers monitoring.port with its other ports).
#pragma once

#include <yaml-cpp/yaml.h>

#include <string>

#include "common/config/monitoring_config.h"
#include "common/status.h"

namespace skipjoin::config::internal {

// `section` is the section's node (undefined or null when absent). Fills *out
// (defaults stay for absent keys) and sets *port_node to where monitoring.port
// was written (undefined for the default), for port-clash messages.
Status ParseMonitoring(const std::string& source, const YAML::Node& section, MonitoringConfig* out,
                       YAML::Node* port_node);

}  // namespace skipjoin::config::internal
