#include "common/config/monitoring_config.h"

#include "common/config/sections.h"
#include "common/config/yaml_reader.h"

namespace skipjoin::config {

const char* PrometheusModeName(PrometheusMode mode) {
  switch (mode) {
    case PrometheusMode::kAuto:
      return "auto";
    case PrometheusMode::kOn:
      return "on";
    case PrometheusMode::kOff:
      return "off";
  }
  return "?";
}

namespace internal {

Status ParseMonitoring(const std::string& source, const YAML::Node& section, MonitoringConfig* out,
                       YAML::Node* port_node) {
  MapReader r(source, section, "monitoring");
  SJ_RETURN_IF_ERROR(r.status());
  if (r.Has("prometheus")) {
    std::string mode;
    SJ_RETURN_IF_ERROR(ParseString(source, r.Get("prometheus"), "monitoring.prometheus", &mode));
    if (mode == "auto") {
      out->prometheus = PrometheusMode::kAuto;
    } else if (mode == "on" || mode == "true") {
      out->prometheus = PrometheusMode::kOn;
    } else if (mode == "off" || mode == "false") {
      out->prometheus = PrometheusMode::kOff;
    } else {
      return ErrorAt(source, r.Get("prometheus"), "monitoring.prometheus",
                     "unknown mode '" + mode + "' (expected auto, on or off)");
    }
  }
  SJ_RETURN_IF_ERROR(r.Optional("port", &out->port));
  *port_node = r.Get("port");
  SJ_RETURN_IF_ERROR(r.Optional("binary", &out->binary));
  if (out->binary.empty()) {
    return ErrorAt(source, r.Get("binary"), "monitoring.binary",
                   "must name the Prometheus executable (set prometheus: off to run none)");
  }
  SJ_RETURN_IF_ERROR(r.Optional("scrape_interval_ms", &out->scrape_interval_ms));
  if (out->scrape_interval_ms < 100 || out->scrape_interval_ms > 3'600'000) {
    return ErrorAt(source, r.Get("scrape_interval_ms"), "monitoring.scrape_interval_ms",
                   "must be between 100 and 3600000 (one hour)");
  }
  SJ_RETURN_IF_ERROR(r.Optional("console_libraries", &out->console_libraries));
  SJ_RETURN_IF_ERROR(r.Optional("files_dir", &out->files_dir));
  return r.Finish();
}

}  // namespace internal
}  // namespace skipjoin::config
