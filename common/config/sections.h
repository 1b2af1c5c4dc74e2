// Internal to skipjoin_config: readers of the sections that live in files of
// their own (the cluster config's Parser calls them).
#pragma once

#include <yaml-cpp/yaml.h>

#include <string>
#include <string_view>
#include <vector>

#include "common/config/monitoring_config.h"
#include "common/config/supervision_config.h"
#include "common/status.h"

namespace skipjoin::config::internal {

class MapReader;  // yaml_reader.h

// `section` is the section's node (undefined or null when absent). Fills *out
// (defaults stay for absent keys) and sets *port_node to where monitoring.port
// was written (undefined for the default), for port-clash messages.
Status ParseMonitoring(const std::string& source, const YAML::Node& section, MonitoringConfig* out,
                       YAML::Node* port_node);

// The `supervision:` section, the same way.
Status ParseSupervision(const std::string& source, const YAML::Node& section,
                        SupervisionConfig* out);

// What a host key is for: an address others dial (no wildcard), or one a
// process binds (0.0.0.0 or * allowed).
enum class HostRole { kAdvertise, kBind };

// Reads `key` of `r` into *out when present (*out keeps its default
// otherwise) and checks the value, present or default: an IPv4 address or a
// host name, or for kBind a wildcard. Errors name the key's path.
Status ReadHost(const std::string& source, MapReader& r, std::string_view key, HostRole role,
                std::string* out);

// coordinator.cors_origins (`node` undefined or null when absent): appends
// each origin, lower-cased, to *out. Each is "*" (alone) or
// "http[s]://host[:port]" with no path; none twice. Errors name the entry.
Status ReadCorsOrigins(const std::string& source, const YAML::Node& node,
                       std::vector<std::string>* out);

}  // namespace skipjoin::config::internal
