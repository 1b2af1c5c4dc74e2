#include "worker/process/worker_main.h"

#include <prometheus/registry.h>
#include <signal.h>
#include <unistd.h>

#include <cstdio>
#include <memory>

#include "common/config/cluster_config.h"
#include "common/flags.h"
#include "common/logging.h"
#include "common/net_address.h"
#include "monitoring/metrics_server.h"
#include "monitoring/worker_metrics.h"
#include "protocol/curve.h"
#include "worker/engine.h"
#include "worker/process/link.h"

namespace skipjoin::worker {
namespace {

constexpr const char* kUsage =
    "usage: skipjoin worker --config FILE [--set key=value ...] --node NAME --device cpu:0|cuda:N\n"
    "                       [--coordinator tcp://HOST:PORT] [--metrics-port P] [--threads N]\n"
    "\n"
    "One worker process: registers with the coordinator's worker port, loads the\n"
    "model it is assigned, executes step plans and sends heartbeats. Normally\n"
    "started by `skipjoin launch`. The cluster config names the cluster (its id\n"
    "goes with the registration), the coordinator's address and the keys: the\n"
    "worker connects with its node's key (node-NAME.key in security.keys_dir). A cuda:N device is "
    "opened at startup (the CUDA\n"
    "backend module, driver and device must be there). Exits 0 on Shutdown or\n"
    "SIGTERM, 1 on a fatal error (device unusable, model load failed,\n"
    "registration refused), 3 when the coordinator is unreachable for\n"
    "--coordinator-timeout-ms.";

// The Link of this process, for the signal handler (set once before handlers
// are installed; the handler only sets an atomic flag through it).
Link* g_link_for_signals = nullptr;

void OnStopSignal(int) {
  if (g_link_for_signals) g_link_for_signals->RequestStop();
}

uint64_t PhysicalMemoryBytes() {
  const long pages = sysconf(_SC_PHYS_PAGES), page = sysconf(_SC_PAGESIZE);
  return pages > 0 && page > 0 ? static_cast<uint64_t>(pages) * static_cast<uint64_t>(page) : 0;
}

uint64_t AvailableMemoryBytes() {
  const long pages = sysconf(_SC_AVPHYS_PAGES), page = sysconf(_SC_PAGESIZE);
  return pages > 0 && page > 0 ? static_cast<uint64_t>(pages) * static_cast<uint64_t>(page) : 0;
}

// "cpu:0" -> (kCpu, 0), "cuda:1" -> (kCuda, 1). kInvalidArgument for anything else.
Status ParseDevice(const std::string& text, protocol::DeviceKind* kind, uint32_t* index) {
  const auto colon = text.find(':');
  const std::string k = text.substr(0, colon);
  const std::string i = colon == std::string::npos ? "0" : text.substr(colon + 1);
  if (k == "cpu") {
    *kind = protocol::DeviceKind::kCpu;
  } else if (k == "cuda") {
    *kind = protocol::DeviceKind::kCuda;
  } else {
    return InvalidArgument("--device " + text + ": expected cpu:N or cuda:N");
  }
  if (i.empty() || i.find_first_not_of("0123456789") != std::string::npos || i.size() > 6) {
    return InvalidArgument("--device " + text + ": the index must be a number");
  }
  *index = static_cast<uint32_t>(std::stoul(i));
  return Status::Ok();
}

}  // namespace

int WorkerMain(const std::vector<std::string>& raw_args) {
  std::vector<std::string> args;
  const std::vector<std::string> overrides = TakeConfigOverrides(raw_args, &args);
  std::string config_path, coordinator, node = "local", device = "cpu:0", metrics_host;
  int64_t metrics_port = 0, threads = 0, heartbeat_ms = 1000, coordinator_timeout_ms = 10000,
          register_timeout_ms = 120000;
  FlagSet flags(kUsage);
  flags.String("config", &config_path, "the cluster config (required)");
  flags.String("coordinator", &coordinator,
               "the coordinator's worker endpoint, tcp://HOST:PORT (default: from the config)");
  flags.String("node", &node, "this node's name in the cluster config");
  flags.String("device", &device, "the device this worker runs: cpu:N or cuda:N");
  flags.Int("metrics-port", &metrics_port, "serve Prometheus /metrics on this port; 0 is off");
  flags.String("metrics-host", &metrics_host,
               "address the metrics port binds (default: the node's bind in the config)");
  flags.Int("threads", &threads,
            "CPU compute threads; 0 takes the coordinator's setting (else all cores)");
  flags.Int("heartbeat-ms", &heartbeat_ms,
            "heartbeat interval, ms (the config's heartbeat.interval_ms)");
  flags.Int("coordinator-timeout-ms", &coordinator_timeout_ms,
            "exit when disconnected from the coordinator this long, ms");
  flags.Int("register-timeout-ms", &register_timeout_ms,
            "exit when no model assignment arrives this long after start, ms");
  if (Status st = flags.Parse(args); !st.ok()) {
    std::fprintf(stderr, "skipjoin worker: %s\n", st.message().c_str());
    return 2;
  }
  if (flags.help_requested()) {
    std::printf("%s", flags.Help().c_str());
    return 0;
  }
  if (config_path.empty()) {
    std::fprintf(stderr, "skipjoin worker: --config is required (see --help)\n");
    return 2;
  }
  auto config = config::LoadClusterConfig(config_path, overrides);
  if (!config.ok()) {
    std::fprintf(stderr, "skipjoin worker: %s\n", config.status().message().c_str());
    return 2;
  }
  const config::NodeConfig* node_config = config->FindNode(node);
  if (node_config == nullptr) {
    std::fprintf(stderr, "skipjoin worker: --node %s is not a node of %s\n", node.c_str(),
                 config_path.c_str());
    return 2;
  }
  if (coordinator.empty()) {
    coordinator =
        "tcp://" + config->coordinator.host + ":" + std::to_string(config->coordinator.worker_port);
  }
  // The metrics port binds nodes[].bind (resolved to an IP: civetweb takes no
  // host names); Prometheus dials nodes[].host.
  if (metrics_host.empty()) metrics_host = node_config->bind;
  auto metrics_ip = ResolveBindHost(metrics_host);
  if (!metrics_ip.ok()) {
    std::fprintf(stderr, "skipjoin worker: nodes[%zu].bind: %s\n",
                 static_cast<size_t>(node_config - config->nodes.data()),
                 metrics_ip.status().message().c_str());
    return 2;
  }
  if (metrics_port < 0 || metrics_port > 65535 || threads < 0 || heartbeat_ms <= 0 ||
      coordinator_timeout_ms <= 0 || register_timeout_ms <= 0) {
    std::fprintf(
        stderr,
        "skipjoin worker: need 0 <= metrics-port <= 65535, threads >= 0 and positive timeouts\n");
    return 2;
  }
  LinkOptions options;
  options.coordinator = coordinator;
  options.registration.cluster_id = config::ClusterId(*config);
  if (config->security.auth == config::AuthMode::kCurve) {
    const std::string dir = config::KeysDirFor(*config);
    auto server = protocol::ReadCurveKeyFile(dir + "/" + protocol::kClusterKeyStem + ".pub", false);
    auto stem = protocol::NodeKeyStem(node);
    Result<protocol::CurveKeypair> own =
        stem.ok() ? protocol::ReadCurveKeyFile(dir + "/" + *stem + ".key", true)
                  : Result<protocol::CurveKeypair>(stem.status());
    if (!server.ok() || !own.ok()) {
      std::fprintf(stderr, "skipjoin worker: keys: %s\n",
                   (!server.ok() ? server.status() : own.status()).message().c_str());
      return kExitFatal;
    }
    options.curve.own = *own;
    options.curve.server_public_key = server->public_key;
  }
  if (Status st = ParseDevice(device, &options.registration.device_kind,
                              &options.registration.device_index);
      !st.ok()) {
    std::fprintf(stderr, "skipjoin worker: %s\n", st.message().c_str());
    return 2;
  }
  options.registration.node = node;
  options.registration.device_memory_bytes = PhysicalMemoryBytes();
  options.registration.host_memory_bytes = AvailableMemoryBytes();
  options.registration.pid = getpid();
  options.executor.node = node;
  options.executor.device = device;
  // Rank 0 of a TP group listens on the node's bind address too (peers dial
  // the node's host).
  auto tp_ip = ResolveBindHost(node_config->bind);
  if (!tp_ip.ok()) {
    std::fprintf(stderr, "skipjoin worker: nodes[%zu].bind: %s\n",
                 static_cast<size_t>(node_config - config->nodes.data()),
                 tp_ip.status().message().c_str());
    return 2;
  }
  options.executor.tp_bind = *tp_ip;
  options.executor.threads = static_cast<int>(threads);
  options.heartbeat_interval = std::chrono::milliseconds(heartbeat_ms);
  options.coordinator_timeout = std::chrono::milliseconds(coordinator_timeout_ms);
  options.register_timeout = std::chrono::milliseconds(register_timeout_ms);

  auto registry = std::make_shared<prometheus::Registry>();
  monitoring::WorkerMetrics metrics(*registry);
  std::unique_ptr<monitoring::MetricsServer> metrics_server;
  if (metrics_port > 0) {
    auto server = monitoring::MetricsServer::Start(*metrics_ip + ":" + std::to_string(metrics_port),
                                                   registry);
    if (!server.ok()) {
      std::fprintf(stderr, "skipjoin worker: %s\n", server.status().ToString().c_str());
      return kExitFatal;
    }
    metrics_server = std::move(server).value();
    SJ_LOG(Info) << "metrics bound " << *metrics_ip << ":" << metrics_server->port()
                 << ", advertised as http://" << node_config->host << ":" << metrics_server->port()
                 << "/metrics";
  }

  if (options.registration.device_kind == protocol::DeviceKind::kCuda) {
    // Open the device now: a missing module, driver or GPU is a startup error
    // naming the device and the CUDA reason, not a failure at model load. After
    // the metrics server: civetweb once failed to start with cuBLAS loaded.
    auto memory = ProbeDevice(device);
    if (!memory.ok()) {
      std::fprintf(stderr, "skipjoin worker: --device %s cannot be used: %s\n", device.c_str(),
                   memory.status().ToString().c_str());
      return kExitFatal;
    }
    SJ_LOG(Info) << device << ": " << (memory->free_bytes >> 20) << " MiB free of "
                 << (memory->total_bytes >> 20) << " MiB";
    options.registration.device_memory_bytes = static_cast<uint64_t>(memory->total_bytes);
  }

  SJ_LOG(Info) << "node " << node << " (advertised as " << node_config->host << "), device "
               << device << ": dialing the coordinator at " << options.coordinator;
  Link link(std::move(options), &metrics);
  g_link_for_signals = &link;
  struct sigaction sa {};
  sa.sa_handler = OnStopSignal;
  sigemptyset(&sa.sa_mask);
  sigaction(SIGTERM, &sa, nullptr);
  sigaction(SIGINT, &sa, nullptr);
  signal(SIGPIPE, SIG_IGN);
  const int code = link.Run();
  signal(SIGTERM, SIG_DFL);
  signal(SIGINT, SIG_DFL);
  g_link_for_signals = nullptr;
  return code;
}

}  // namespace skipjoin::worker
