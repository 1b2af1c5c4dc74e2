// `skipjoin launch CONFIG [--node NAME] [--set k=v ...]`: starts this node's
// processes from a cluster config (the coordinator when it runs here, and one
// worker per device of this node that serves a replica), waits until this
// node serves (the coordinator's /health on its node; elsewhere the
// coordinator's status shows this node's workers ready), prints the
// endpoints, and supervises: a child
// that dies is reported with its exit status and the end of its log and
// started again with backoff (client/supervisor.h, config `supervision:`);
// Ctrl-C or SIGTERM stops everything (SIGTERM, then SIGKILL after --grace-ms).
// On the coordinator's node it also runs Prometheus (`monitoring:` in the
// config) with a scrape config generated from the cluster's endpoints; that one
// is optional: a missing binary or a Prometheus that exits is reported and the
// cluster keeps running.
#include <signal.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <cstdio>
#include <filesystem>
#include <optional>
#include <thread>

#include "client/cluster_client.h"
#include "client/commands.h"
#include "client/launch_options.h"
#include "client/node_health.h"
#include "client/process_group.h"
#include "client/prometheus_setup.h"
#include "client/supervisor.h"
#include "common/config/cluster_config.h"
#include "common/flags.h"
#include "protocol/curve.h"

namespace skipjoin::cli {
namespace {

constexpr const char* kUsage =
    "usage: skipjoin launch CONFIG [--node NAME] [--set key=value ...] [--run-dir DIR]\n"
    "                       [--model PATH] [--http-port N] [--api-key KEY]\n"
    "\n"
    "Starts this node's coordinator (when the config puts it here) and workers,\n"
    "waits until GET /health answers 200 (on a node without the coordinator:\n"
    "until the coordinator's status shows every worker of this node ready),\n"
    "prints the endpoints, and supervises\n"
    "the processes until Ctrl-C or SIGTERM. Logs go to DIR/<process>.log.\n"
    "Supervision: a coordinator or worker that dies (a signal, a non-zero exit\n"
    "status) is started again, by default after 0.5 s, doubling up to 30 s while it\n"
    "keeps dying within 60 s of its start; after 5 such restarts in a row launch\n"
    "gives up on it (a worker stays down, the coordinator stops the node). The\n"
    "config section supervision: sets restart, backoff_initial_ms, backoff_max_ms,\n"
    "stable_after_ms and max_restarts. A coordinator stopped with SIGTERM or\n"
    "SIGINT shuts its workers down, and launch exits without restarting anything.\n"
    "Beside the coordinator it runs Prometheus for the whole cluster (config\n"
    "section monitoring:, on when the prometheus binary is installed), with its\n"
    "data in DIR/prometheus, and prints its console pages.\n"
    "--model, --http-port and --api-key are the same as --set model.path=PATH,\n"
    "--set coordinator.http_port=N and --set coordinator.api_key=KEY, applied after\n"
    "the --set ones.";

std::atomic<int> g_stop_signal{0};

void OnSignal(int sig) { g_stop_signal.store(sig); }

std::string DeviceName(const config::DeviceConfig& d) {
  return std::string(DeviceKindName(d.kind)) + ":" + std::to_string(d.index);
}

// monitoring.files_dir, or the monitoring/ folder of the source tree this
// binary was built from.
std::string MonitoringFilesDir(const config::ClusterConfig& cfg) {
  if (!cfg.monitoring.files_dir.empty()) return cfg.monitoring.files_dir;
#ifdef SKIPJOIN_MONITORING_DIR
  return SKIPJOIN_MONITORING_DIR;
#else
  return "monitoring";
#endif
}

// Starts Prometheus into `group` when the config asks for it and it can run;
// says why not otherwise. Never fails the launch.
std::optional<PrometheusPlan> StartPrometheus(const config::ClusterConfig& cfg,
                                              const std::string& run_dir, ProcessGroup& group) {
  const config::PrometheusMode mode = cfg.monitoring.prometheus;
  if (mode == config::PrometheusMode::kOff) return std::nullopt;
  auto plan = PreparePrometheus(cfg, run_dir, MonitoringFilesDir(cfg));
  if (!plan.ok()) {
    const bool quiet =
        mode == config::PrometheusMode::kAuto && plan.status().code() == StatusCode::kNotFound;
    std::fprintf(stderr, "skipjoin launch: %s: %s; running without Prometheus\n",
                 quiet ? "note" : "warning", plan.status().message().c_str());
    return std::nullopt;
  }
  for (const auto& w : plan->warnings)
    std::fprintf(stderr, "skipjoin launch: warning: %s\n", w.c_str());
  auto pid = group.Spawn(plan->child);
  if (!pid.ok()) {
    std::fprintf(stderr, "skipjoin launch: warning: %s; running without Prometheus\n",
                 pid.status().message().c_str());
    return std::nullopt;
  }
  std::printf("  started prometheus (pid %d), log %s\n", *pid, plan->child.log_path.c_str());
  return std::move(*plan);
}

// Reports a Prometheus that ended; the cluster does not depend on it.
void ReapMonitors(ProcessGroup& monitors) {
  for (const auto& e : monitors.Reap()) {
    ReportExit(e);
    std::fprintf(stderr,
                 "skipjoin launch: warning: Prometheus is gone; the cluster keeps "
                 "running without it\n");
  }
}

// Whether this node serves yet (see the wait loop in LaunchMain).
class HealthProbe {
 public:
  HealthProbe(const config::ClusterConfig& cfg, const std::string& config_path,
              const std::vector<std::string>& sets, std::string node, bool coordinator_here)
      : cfg_(cfg), node_(std::move(node)) {
    if (coordinator_here) return;
    ClientFlags flags;
    flags.config = config_path;
    flags.sets = sets;
    auto target = ResolveClientTarget(flags);
    auto client = target.ok() ? NativeClient::Connect(*target)
                              : Result<std::unique_ptr<NativeClient>>(target.status());
    if (client.ok()) {
      status_client_ = std::move(client).value();
      return;
    }
    std::fprintf(stderr,
                 "skipjoin launch: note: cannot ask the coordinator for this node's workers (%s); "
                 "waiting for its /health only (copy client.key to the keys directory to wait "
                 "for this node's own workers)\n",
                 client.status().message().c_str());
  }

  // *state says what was seen: "/health HTTP 503", "1 of 2 workers of ...".
  bool Healthy(std::string* state) {
    if (status_client_ != nullptr) {
      WaitOptions wait;
      wait.connect = std::chrono::milliseconds(1000);
      wait.silence = std::chrono::milliseconds(1000);
      auto reply = status_client_->GetStatus(wait);
      if (!reply.ok()) {
        *state = "status: " + reply.status().message();
        return false;
      }
      const NodeWorkers w = NodeWorkersIn(*reply, node_);
      *state = DescribeNodeWorkers(w, node_);
      return w.healthy();
    }
    std::string body;
    auto code = HttpGet(cfg_.coordinator.host, cfg_.coordinator.http_port, "/health",
                        std::chrono::milliseconds(1000), &body);
    *state = code.ok() ? "/health HTTP " + std::to_string(*code) : code.status().message();
    return code.ok() && *code == 200;
  }

 private:
  const config::ClusterConfig& cfg_;
  const std::string node_;
  std::unique_ptr<NativeClient> status_client_;  // null: ask /health
};

}  // namespace

int LaunchMain(const std::string& self_exe, const std::vector<std::string>& raw_args) {
  std::vector<std::string> args;
  std::vector<std::string> sets = TakeConfigOverrides(raw_args, &args);
  std::string node_name, run_dir;
  LaunchKeyFlags key_flags;
  int64_t health_timeout_s = 600, grace_ms = 10000;
  FlagSet flags(kUsage);
  flags.String("node", &node_name,
               "this machine's node name in the config (default: the coordinator's node)");
  flags.String("run-dir", &run_dir,
               "directory for the process logs (default: a new one under /tmp)");
  flags.Int("health-timeout-s", &health_timeout_s,
            "how long to wait for the cluster to become healthy");
  flags.Int("grace-ms", &grace_ms, "time between SIGTERM and SIGKILL when stopping the processes");
  flags.String("model", &key_flags.model,
               "the model file or HF directory (= --set model.path=PATH)");
  flags.Int("http-port", &key_flags.http_port,
            "port of the OpenAI-compatible HTTP API (= --set coordinator.http_port=N)");
  flags.String("api-key", &key_flags.api_key,
               "key HTTP clients must send as a Bearer token (= --set coordinator.api_key=KEY)");
  if (Status st = flags.Parse(args); !st.ok()) {
    std::fprintf(stderr, "skipjoin launch: %s\n", st.message().c_str());
    return 2;
  }
  // Clients read the same config, so they need the same --set; the key flags
  // do not change where they connect (submit --logprobs takes --tokenizer).
  const bool clients_need_sets = !sets.empty();
  for (std::string& s : LaunchKeyOverrides(key_flags)) sets.push_back(std::move(s));
  if (flags.help_requested()) {
    std::printf("%s%s", flags.Help().c_str(), kSetFlagHelp);
    return 0;
  }
  if (flags.positional().size() != 1) {
    std::fprintf(stderr, "skipjoin launch: give exactly one CONFIG file (see --help)\n");
    return 2;
  }
  const std::string config_path = std::filesystem::absolute(flags.positional()[0]).string();
  auto loaded = config::LoadClusterConfig(config_path, sets);
  if (!loaded.ok()) {
    std::fprintf(stderr, "skipjoin launch: %s\n", loaded.status().message().c_str());
    return 2;
  }
  const config::ClusterConfig& cfg = *loaded;
  if (node_name.empty()) node_name = cfg.coordinator.node;
  const config::NodeConfig* node = cfg.FindNode(node_name);
  if (node == nullptr) {
    std::fprintf(stderr, "skipjoin launch: node '%s' is not in %s\n", node_name.c_str(),
                 config_path.c_str());
    return 2;
  }
  if (run_dir.empty()) {
    run_dir = (std::filesystem::temp_directory_path() /
               ("skipjoin-" + cfg.name + "-" + node_name + "-" + std::to_string(getpid())))
                  .string();
  }
  std::error_code ec;
  std::filesystem::create_directories(run_dir, ec);
  if (ec) {
    std::fprintf(stderr, "skipjoin launch: cannot create %s: %s\n", run_dir.c_str(),
                 ec.message().c_str());
    return 1;
  }

  // Stop signals are handled in the supervision loop below.
  struct sigaction sa {};
  sa.sa_handler = OnSignal;
  sigemptyset(&sa.sa_mask);
  sigaction(SIGINT, &sa, nullptr);
  sigaction(SIGTERM, &sa, nullptr);
  sigaction(SIGHUP, &sa, nullptr);

  ProcessGroup group;
  ProcessGroup monitors;  // Prometheus: optional, so kept apart from the cluster's processes
  // Any HTTP status means the coordinator serves; a refused or silent port
  // means it is stopping (or gone).
  Supervisor supervisor(
      cfg.supervision,
      [&cfg] {
        std::string body;
        return HttpGet(cfg.coordinator.host, cfg.coordinator.http_port, "/health",
                       std::chrono::milliseconds(500), &body)
            .ok();
      },
      &group);
  const auto grace = std::chrono::milliseconds(grace_ms);
  auto stop_all = [&](int code) {
    if (const int alive = group.num_alive() + monitors.num_alive(); alive > 0)
      std::fprintf(stderr, "skipjoin launch: stopping %d process(es)\n", alive);
    for (ProcessGroup* g : {&group, &monitors}) {
      for (const auto& e : g->TerminateAll(grace)) {
        std::fprintf(stderr, "skipjoin launch: %s (pid %d) %s\n", e.name.c_str(), e.pid,
                     e.how.c_str());
      }
    }
    return code;
  };

  std::printf("skipjoin launch: cluster '%s', node '%s'; logs in %s\n", cfg.name.c_str(),
              node_name.c_str(), run_dir.c_str());
  if (cfg.security.auth == config::AuthMode::kCurve) {
    // Secure by default: a local cluster gets its keys on first use. On a
    // multi-node cluster the coordinator's node makes them; the others need a
    // copy (docs/SECURITY.md), and say so if it is missing.
    const std::string keys = config::KeysDirFor(cfg);
    if (cfg.coordinator.node == node_name) {
      std::vector<std::string> nodes, created;
      for (const auto& n : cfg.nodes) nodes.push_back(n.name);
      if (Status st = protocol::EnsureClusterKeys(keys, nodes, cfg.name, &created); !st.ok()) {
        std::fprintf(stderr, "skipjoin launch: keys: %s\n", st.message().c_str());
        return 1;
      }
      if (!created.empty()) {
        std::printf("  created the cluster's CURVE keys in %s (copy it to the other nodes)\n",
                    keys.c_str());
      }
    } else {
      auto stem = protocol::NodeKeyStem(node_name);
      auto key = stem.ok() ? protocol::ReadCurveKeyFile(keys + "/" + *stem + ".key", true)
                           : Result<protocol::CurveKeypair>(stem.status());
      if (!key.ok()) {
        std::fprintf(
            stderr,
            "skipjoin launch: keys: %s\n  copy %s from the coordinator's node (%s), or set "
            "security.keys_dir\n",
            key.status().message().c_str(), keys.c_str(), cfg.coordinator.node.c_str());
        return 1;
      }
    }
  } else {
    std::fprintf(
        stderr,
        "skipjoin launch: warning: security.auth is none; anyone who reaches ports %u and %u "
        "can use this cluster\n",
        cfg.coordinator.worker_port, cfg.coordinator.client_port);
  }
  const bool coordinator_here = cfg.coordinator.node == node_name;
  if (coordinator_here) {
    ChildSpec spec{"coordinator",
                   {self_exe, "coordinator", "--config", config_path},
                   run_dir + "/coordinator.log"};
    for (const auto& s : sets) {
      spec.argv.push_back("--set");
      spec.argv.push_back(s);
    }
    auto pid = supervisor.Start(spec, Supervisor::Role::kCoordinator);
    if (!pid.ok()) {
      std::fprintf(stderr, "skipjoin launch: %s\n", pid.status().ToString().c_str());
      return 1;
    }
    std::printf("  started coordinator (pid %d), log %s\n", *pid, spec.log_path.c_str());
  }
  const std::string worker_endpoint =
      "tcp://" + cfg.coordinator.host + ":" + std::to_string(cfg.coordinator.worker_port);
  const uint32_t coordinator_timeout_ms = std::max<uint32_t>(cfg.heartbeat.timeout_ms * 2, 10000);
  std::vector<std::string> metrics_urls;
  if (coordinator_here) {
    metrics_urls.push_back("http://" + cfg.coordinator.host + ":" +
                           std::to_string(cfg.metrics.coordinator_port) + "/metrics (coordinator)");
  }
  for (const WorkerEndpoint& w : ServingWorkers(cfg)) {
    if (w.node != node_name) continue;
    const auto& d = w.device;
    const std::string device = DeviceName(d);
    const int metrics_port = w.metrics_port;
    std::string log_name = "worker-" + node_name + "-" + device;
    std::replace(log_name.begin(), log_name.end(), ':', '-');
    ChildSpec spec{
        "worker " + node_name + "/" + device,
        {self_exe, "worker", "--config", config_path, "--coordinator", worker_endpoint, "--node",
         node_name, "--device", device, "--metrics-port", std::to_string(metrics_port), "--threads",
         std::to_string(d.threads), "--heartbeat-ms", std::to_string(cfg.heartbeat.interval_ms),
         "--coordinator-timeout-ms", std::to_string(coordinator_timeout_ms)},
        run_dir + "/" + log_name + ".log"};
    for (const auto& s : sets) {
      spec.argv.push_back("--set");
      spec.argv.push_back(s);
    }
    auto pid = supervisor.Start(spec, Supervisor::Role::kWorker);
    if (!pid.ok()) {
      std::fprintf(stderr, "skipjoin launch: %s\n", pid.status().ToString().c_str());
      return stop_all(1);
    }
    std::printf("  started %s (pid %d), log %s\n", spec.name.c_str(), *pid, spec.log_path.c_str());
    metrics_urls.push_back("http://" + node->host + ":" + std::to_string(metrics_port) +
                           "/metrics (" + spec.name + ")");
  }
  std::optional<PrometheusPlan> prometheus;
  const std::string targets_dir = run_dir + "/prometheus/targets";
  if (coordinator_here) {
    // Every node's metrics endpoints, for this node's Prometheus and any other.
    if (Status st = WriteScrapeTargets(cfg, targets_dir); !st.ok())
      std::fprintf(stderr, "skipjoin launch: warning: scrape targets: %s\n", st.message().c_str());
    prometheus = StartPrometheus(cfg, run_dir, monitors);
  }
  std::fflush(stdout);

  // Wait until this node serves: on the coordinator's node, /health (200 once
  // a replica is live); elsewhere, until the coordinator shows every rank of
  // this node ready (client/node_health.h).
  HealthProbe probe(cfg, config_path, sets, node_name, coordinator_here);
  const auto start = std::chrono::steady_clock::now();
  auto last_progress = start;
  std::string state = "not answering";
  while (true) {
    if (int sig = g_stop_signal.load()) {
      std::fprintf(stderr, "skipjoin launch: %s while starting\n", strsignal(sig));
      return stop_all(130);
    }
    for (const auto& e : group.Reap()) {
      ReportExit(e);
      std::fprintf(stderr, "skipjoin launch: a process died while the cluster was starting\n");
      return stop_all(1);
    }
    ReapMonitors(monitors);
    if (probe.Healthy(&state)) break;
    const auto now = std::chrono::steady_clock::now();
    if (now - start > std::chrono::seconds(health_timeout_s)) {
      std::fprintf(stderr,
                   "skipjoin launch: %s is not healthy after %lld s (last: %s); see the logs in "
                   "%s\n",
                   coordinator_here ? "the cluster" : ("node '" + node_name + "'").c_str(),
                   static_cast<long long>(health_timeout_s), state.c_str(), run_dir.c_str());
      return stop_all(1);
    }
    if (now - last_progress > std::chrono::seconds(3)) {
      last_progress = now;
      const double waited = std::chrono::duration<double>(now - start).count();
      std::fprintf(stderr, "skipjoin launch: waiting for %s (%.0f s): %s\n",
                   coordinator_here ? "the cluster" : ("node '" + node_name + "'").c_str(), waited,
                   state.c_str());
    }
    std::this_thread::sleep_for(std::chrono::milliseconds(250));
  }
  const double ready_s =
      std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
  if (coordinator_here) {
    std::printf("skipjoin launch: cluster healthy after %.1f s\n", ready_s);
  } else {
    std::printf("skipjoin launch: node '%s' healthy after %.1f s (%s)\n", node_name.c_str(),
                ready_s, state.c_str());
  }
  std::printf("  this node       %s (binds %s)\n", node->host.c_str(), node->bind.c_str());
  if (coordinator_here) {
    std::printf("  coordinator     advertised %s, binds %s\n", cfg.coordinator.host.c_str(),
                cfg.coordinator.bind.c_str());
  }
  std::printf("  HTTP API        http://%s:%u/v1  (health: /health)\n",
              cfg.coordinator.host.c_str(), cfg.coordinator.http_port);
  std::printf("  native clients  tcp://%s:%u  (skipjoin submit --config %s%s ...)\n",
              cfg.coordinator.host.c_str(), cfg.coordinator.client_port, config_path.c_str(),
              clients_need_sets ? " [the same --set flags]" : "");
  std::printf("  workers         %s\n", worker_endpoint.c_str());
  for (const auto& m : metrics_urls) std::printf("  metrics         %s\n", m.c_str());
  if (coordinator_here) {
    std::printf("  scrape targets  %s/{%s,%s}.json (Prometheus file_sd, every node)\n",
                targets_dir.c_str(), kCoordinatorJob, kWorkerJob);
  }
  if (prometheus && monitors.num_alive() > 0) {
    std::printf("  prometheus      %s  (alerts: /alerts, targets: /targets)\n",
                prometheus->url.c_str());
    for (const auto& c : prometheus->consoles) std::printf("  console         %s\n", c.c_str());
  }
  std::printf("  logs            %s\n", run_dir.c_str());
  std::printf("Press Ctrl-C to stop.\n");
  std::fflush(stdout);

  // Supervise.
  while (true) {
    if (int sig = g_stop_signal.load()) {
      std::fprintf(stderr, "skipjoin launch: %s; shutting down\n", strsignal(sig));
      return stop_all(0);
    }
    ReapMonitors(monitors);
    switch (supervisor.Tick()) {
      case Supervisor::Outcome::kRunning:
        break;
      case Supervisor::Outcome::kCoordinatorStopped:
        // Its workers were told to shut down; give them the grace period to
        // do it themselves.
        std::fprintf(stderr, "skipjoin launch: waiting up to %.1f s for the workers to exit\n",
                     static_cast<double>(grace_ms) / 1000.0);
        supervisor.WaitForExits(grace);
        return stop_all(0);
      case Supervisor::Outcome::kGaveUp:
        return stop_all(1);
      case Supervisor::Outcome::kAllExited:
        std::fprintf(stderr, "skipjoin launch: every process has exited\n");
        return stop_all(1);
    }
    std::this_thread::sleep_for(std::chrono::milliseconds(100));
  }
}

}  // namespace skipjoin::cli
