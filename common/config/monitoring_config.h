// The `monitoring:` section of the cluster config: whether `skipjoin launch`
// runs a Prometheus server beside the coordinator, and how. Value types;
// thread-compatible. docs/CONFIGURATION.md documents each key.
#pragma once

#include <cstdint>
#include <string>

namespace skipjoin::config {

// YAML: auto, on, off (true and false read as on and off).
enum class PrometheusMode {
  kAuto,  // start it when `binary` is found; a note otherwise
  kOn,    // start it; a warning (not a failure) when `binary` is missing
  kOff,   // do not start it
};
const char* PrometheusModeName(PrometheusMode mode);

struct MonitoringConfig {
  PrometheusMode prometheus = PrometheusMode::kAuto;
  // Prometheus listens on coordinator.host:port, on the coordinator's node.
  uint16_t port = 9090;
  // The Prometheus executable: looked up on PATH unless it contains a '/'.
  std::string binary = "prometheus";
  // How often Prometheus scrapes every endpoint and evaluates the alert
  // rules, milliseconds.
  uint32_t scrape_interval_ms = 5000;
  // Directory holding Prometheus's console libraries (prom.lib); "" = the
  // first of the places distributions put them (FindConsoleLibraries in
  // client/prometheus_setup.h).
  std::string console_libraries;
  // Directory with alerts.yml, consoles/ and console_libraries/ (the
  // repository's monitoring/); "" = the one this binary was built from.
  std::string files_dir;
};

}  // namespace skipjoin::config
