// A cluster of real processes for integration tests: writes a tiny model and a
// config with free loopback ports, runs `skipjoin launch` in its own process
// group, waits until it reports healthy, and always kills the whole group on
// destruction. Also small HTTP and subprocess helpers.
// Thread-compatible; one test thread drives a Cluster.
#pragma once

#include <sys/types.h>

#include <chrono>
#include <map>
#include <string>
#include <vector>

namespace skipjoin::integration {

// A free TCP port on 127.0.0.1 (bound and released; good enough for tests).
int FreePort();

struct HttpResponse {
  int status = 0;  // 0: no response (connection failed or timed out)
  std::string body;
};
HttpResponse HttpRequest(int port, const std::string& method, const std::string& path,
                         const std::string& body, std::chrono::milliseconds timeout);

struct CommandResult {
  int exit_code = -1;
  std::string out;  // stdout
  std::string err;  // stderr
};
// Runs argv (argv[0] a path) to completion with a timeout (then SIGKILL).
CommandResult RunCommand(const std::vector<std::string>& argv, std::chrono::seconds timeout);

struct ClusterOptions {
  // scheduler.cost_model_dir of the config; "" = a folder of this cluster's own.
  std::string cost_model_dir;
  // model.path; "" = a tiny random model written for this cluster.
  std::string model_path;
  // The config's `monitoring:` section (a YAML flow map). Prometheus is off
  // unless a test asks for it, so that cluster tests do not share port 9090.
  std::string monitoring = "{prometheus: off}";
  // The config's `supervision:` section (a YAML flow map); launch's defaults
  // (restart dead processes) unless a test needs a dead process to stay dead.
  std::string supervision = "{}";
};

class Cluster {
 public:
  // `cost_model_dir`: scheduler.cost_model_dir of the config; "" = a folder of
  // this cluster's own.
  explicit Cluster(std::string cost_model_dir = "");
  explicit Cluster(const ClusterOptions& options);
  ~Cluster();  // SIGTERM to the group, SIGKILL after 10 s

  // Starts launch and waits for "cluster healthy". False on timeout (see log()).
  bool Start(std::chrono::seconds timeout = std::chrono::seconds(90));
  // Stops the group (SIGTERM to launch first, as Ctrl-C would) and returns
  // launch's exit status; then kills whatever is left.
  int Stop();

  const std::string& cli() const { return cli_; }
  const std::string& model_path() const { return model_path_; }
  const std::string& config_path() const { return config_path_; }
  // Where the coordinator keeps the fitted step cost model of this cluster.
  const std::string& cost_model_dir() const { return cost_model_dir_; }
  std::string cost_model_path() const { return cost_model_dir_ + "/tiny.cpu-t1.tp1.json"; }
  // scheduler.step_trace of the config: one JSON line per finished step.
  std::string step_trace_path() const { return dir_ + "/steps.jsonl"; }
  // security.keys_dir of the config (launch creates the keys there).
  std::string keys_dir() const { return dir_ + "/keys"; }
  std::string client_endpoint() const { return "tcp://127.0.0.1:" + std::to_string(client_port_); }
  int http_port() const { return http_port_; }
  int worker_port() const { return worker_port_; }
  int coordinator_metrics_port() const { return metrics_port_; }
  int worker_metrics_port(int k) const { return worker_metrics_base_ + k; }
  // pid of the worker for "cpu:K" from launch's output; -1 when unknown.
  pid_t WorkerPid(int k) const;
  // launch's stdout and stderr so far.
  std::string log() const;
  // The run directory launch was given (its logs, prometheus/).
  std::string run_dir() const { return dir_ + "/run"; }
  pid_t pgid() const { return pgid_; }

 private:
  std::string dir_;
  std::string cli_;
  std::string model_path_;
  std::string config_path_;
  std::string cost_model_dir_;
  int http_port_ = 0, client_port_ = 0, worker_port_ = 0, metrics_port_ = 0,
      worker_metrics_base_ = 0;
  pid_t pgid_ = -1;  // == launch's pid
};

}  // namespace skipjoin::integration
