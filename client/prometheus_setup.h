// What `skipjoin launch` needs to run a Prometheus server beside the
// coordinator (the config's `monitoring:` section): the metrics endpoints of
// the cluster, a scrape config generated from them, where the console
// libraries are, and the command line. Prometheus itself is started and
// stopped by launch like its other children.
//
// Pure functions apart from PreparePrometheus (which writes files) and the
// two lookups (which read the filesystem and PATH); thread-compatible.
#pragma once

#include <string>
#include <vector>

#include "client/process_group.h"
#include "common/config/cluster_config.h"
#include "common/status.h"

namespace skipjoin::cli {

// One worker process of the cluster: a device of a node that serves a replica.
struct WorkerEndpoint {
  std::string node;             // node name
  std::string host;             // the node's host
  config::DeviceConfig device;  // as in the node's device list
  std::string worker;           // "node:kind:index", the coordinator's `worker` label
  uint16_t metrics_port = 0;    // metrics.worker_port_base + the device's position on its node
};

// Every worker `skipjoin launch` starts, over all nodes, in file order.
std::vector<WorkerEndpoint> ServingWorkers(const config::ClusterConfig& cfg);

// host:port of the coordinator's /metrics (coordinator.host and
// metrics.coordinator_port).
std::string CoordinatorMetricsAddress(const config::ClusterConfig& cfg);

// The scrape targets of one job as a Prometheus file_sd JSON list, one group
// per target, with labels `cluster` (its name), `node` (node name), `role`
// and, on workers, `worker` (the same "node:kind:index" the coordinator's
// skipjoin_worker_up uses, so alert rules can join the two). Addresses are
// the advertised ones (coordinator.host, nodes[].host).
// kCoordinatorJob: the coordinator's metrics.coordinator_port. kWorkerJob:
// every serving worker's metrics.worker_port_base + k, on every node.
inline constexpr const char* kCoordinatorJob = "skipjoin-coordinator";
inline constexpr const char* kWorkerJob = "skipjoin-worker";
std::string ScrapeTargetsJson(const config::ClusterConfig& cfg, const std::string& job);

// Writes <dir>/<job>.json for both jobs (creating dir). Each file is written
// beside and renamed into place, so a Prometheus watching it never reads half
// a file.
Status WriteScrapeTargets(const config::ClusterConfig& cfg, const std::string& dir);

// A prometheus.yml scraping both jobs every scrape_interval_ms from the
// file_sd files WriteScrapeTargets writes to `targets_dir`, and loading
// `rules_file`.
std::string PrometheusConfigYaml(const config::ClusterConfig& cfg, const std::string& rules_file,
                                 const std::string& targets_dir);

// `name` when it contains a '/' and is executable, else the first executable
// PATH entry of that name; "" when none.
std::string FindExecutable(const std::string& name);

// The directory holding prom.lib: `configured` when set (even if it lacks
// it: the caller warns), else the first of: next to the binary
// (<dir of prometheus>/console_libraries, release tarballs),
// /usr/share/prometheus/console_libraries, /etc/prometheus/console_libraries,
// /usr/share/doc/prometheus/examples/console_libraries (Debian). "" when none
// has prom.lib; *tried lists what was looked at.
std::string FindConsoleLibraries(const std::string& configured, const std::string& prometheus_bin,
                                 std::vector<std::string>* tried);

struct PrometheusPlan {
  ChildSpec child;                    // argv and log file
  std::string url;                    // http://host:port
  std::vector<std::string> consoles;  // URLs of the console pages
  std::vector<std::string> warnings;  // things that work less well than they could
};

// For `monitoring.prometheus` on or auto: writes <run_dir>/prometheus/
// (prometheus.yml, targets/ with the file_sd files, console_libraries/ with
// prom.lib and skipjoin.lib; the TSDB goes to data/) and returns how to
// start it. Prometheus listens on coordinator.bind (resolved);
// `url` uses coordinator.host. `files_dir` is the
// monitoring/ folder (alerts.yml, consoles/, console_libraries/).
// NotFound when the binary is missing; FailedPrecondition when
// monitoring.port is also a port of the coordinator's node; another error
// when a file cannot be written. Either way the cluster runs without it.
Result<PrometheusPlan> PreparePrometheus(const config::ClusterConfig& cfg,
                                         const std::string& run_dir, const std::string& files_dir);

}  // namespace skipjoin::cli
