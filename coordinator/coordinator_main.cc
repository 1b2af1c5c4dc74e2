#include "coordinator/coordinator_main.h"

#include <signal.h>

#include <cstdio>
#include <filesystem>

#include "common/config/cluster_config.h"
#include "common/flags.h"
#include "common/logging.h"
#include "common/model_file.h"
#include "common/net_address.h"
#include "coordinator/frontend/client_endpoint.h"
#include "coordinator/frontend/http_frontend.h"
#include "coordinator/server/core.h"
#include "coordinator/server/prometheus_metrics.h"
#include "coordinator/tokenizer/tokenizer.h"
#include "monitoring/metrics_server.h"
#include "protocol/curve.h"
#include "protocol/zap_authenticator.h"

namespace skipjoin {

namespace {

constexpr const char* kUsage =
    "usage: skipjoin coordinator --config FILE [--set key.path=value ...]\n"
    "\n"
    "Runs the coordinator of the cluster in FILE: the worker hub, the scheduler, the\n"
    "OpenAI-compatible HTTP API (with /metrics), the native client endpoint and the\n"
    "metrics port. Prints 'coordinator ready http=... client=...' once serving; stops\n"
    "on SIGINT or SIGTERM.";

int64_t PathBytes(const std::string& path) {
  std::error_code ec;
  if (std::filesystem::is_regular_file(path, ec))
    return static_cast<int64_t>(std::filesystem::file_size(path, ec));
  int64_t total = 0;
  for (const auto& e : std::filesystem::directory_iterator(path, ec)) {
    if (e.is_regular_file(ec)) total += static_cast<int64_t>(e.file_size(ec));
  }
  return total;
}

struct Security {
  std::unique_ptr<protocol::ZapAuthenticator> zap;
  protocol::CurveOptions workers, clients;  // off with security.auth: none
};

// Loads the cluster's keys (creating them on first use on this machine) and
// starts the ZAP handler before any socket binds.
Result<Security> SetUpSecurity(const config::ClusterConfig& c, zmq::context_t& context) {
  Security sec;
  if (c.security.auth == config::AuthMode::kNone) {
    SJ_LOG(Warn) << "security.auth is none: anyone who reaches the worker port ("
                 << c.coordinator.worker_port << ") or the native port ("
                 << c.coordinator.client_port << ") can use this cluster";
    return sec;
  }
  const std::string dir = config::KeysDirFor(c);
  std::vector<std::string> nodes;
  for (const auto& n : c.nodes) nodes.push_back(n.name);
  std::vector<std::string> created;
  SJ_RETURN_IF_ERROR(protocol::EnsureClusterKeys(dir, nodes, c.name, &created));
  if (!created.empty()) SJ_LOG(Info) << "created " << created.size() << " key file(s) in " << dir;
  SJ_ASSIGN_OR_RETURN(
      protocol::CurveKeypair server,
      protocol::ReadCurveKeyFile(dir + "/" + protocol::kClusterKeyStem + ".key", true));
  SJ_ASSIGN_OR_RETURN(auto node_keys, protocol::LoadNodeKeys(dir, nodes));
  SJ_ASSIGN_OR_RETURN(auto client_keys, protocol::LoadClientKeys(dir));
  SJ_LOG(Info) << "CURVE keys from " << dir << ": " << node_keys.size() << " node key(s), "
               << client_keys.size() << " client key(s)";
  SJ_ASSIGN_OR_RETURN(
      sec.zap, protocol::ZapAuthenticator::Start(context, {{"workers", std::move(node_keys)},
                                                           {"clients", std::move(client_keys)}}));
  sec.workers.own = server;
  sec.workers.zap_domain = "workers";
  sec.clients.own = server;
  sec.clients.zap_domain = "clients";
  return sec;
}

}  // namespace

int CoordinatorMain(const std::vector<std::string>& args) {
  std::vector<std::string> rest;
  const std::vector<std::string> overrides = TakeConfigOverrides(args, &rest);
  std::string config_path;
  int64_t http_threads = 2;
  FlagSet flags(kUsage);
  flags.String("config", &config_path, "cluster config YAML (required)");
  flags.Int("http-threads", &http_threads, "threads serving HTTP");
  if (Status st = flags.Parse(rest); !st.ok()) {
    std::fprintf(stderr, "skipjoin coordinator: %s\n", st.message().c_str());
    return 2;
  }
  if (flags.help_requested()) {
    std::printf("%s", flags.Help().c_str());
    return 0;
  }
  if (config_path.empty() && !flags.positional().empty()) config_path = flags.positional()[0];
  if (config_path.empty()) {
    std::fprintf(stderr, "skipjoin coordinator: --config is required (see --help)\n");
    return 2;
  }
  auto config = config::LoadClusterConfig(config_path, overrides);
  if (!config.ok()) {
    std::fprintf(stderr, "skipjoin coordinator: %s\n", config.status().message().c_str());
    return 2;
  }
  auto file = ModelFile::Open(config->model.path);
  if (!file.ok()) {
    std::fprintf(stderr, "skipjoin coordinator: %s\n", file.status().message().c_str());
    return 1;
  }
  auto tokenizer = Tokenizer::FromModelFile(**file);
  if (!tokenizer.ok()) {
    std::fprintf(stderr, "skipjoin coordinator: tokenizer: %s\n",
                 tokenizer.status().message().c_str());
    return 1;
  }
  const ModelConfig& mc = (*file)->config();
  int64_t max_context = mc.max_context;
  if (config->model.max_context)
    max_context = std::min<int64_t>(max_context, *config->model.max_context);
  std::string model_name = config->model.name;
  if (model_name.empty()) model_name = std::filesystem::path(config->model.path).stem().string();

  // Signals are handled by sigwait below; block them before any thread starts.
  sigset_t signals;
  sigemptyset(&signals);
  sigaddset(&signals, SIGINT);
  sigaddset(&signals, SIGTERM);
  pthread_sigmask(SIG_BLOCK, &signals, nullptr);

  // `host` is what the sockets bind (coordinator.bind, resolved to an IP:
  // ZeroMQ and Asio take no host names); coordinator.host is what workers
  // and clients dial, and what the logs advertise.
  auto bind_ip = ResolveBindHost(config->coordinator.bind);
  if (!bind_ip.ok()) {
    std::fprintf(stderr, "skipjoin coordinator: coordinator.bind: %s\n",
                 bind_ip.status().message().c_str());
    return 2;
  }
  const std::string host = *bind_ip;
  const std::string& advertised = config->coordinator.host;
  server::CoreOptions core_options;
  core_options.config = *config;
  core_options.worker_endpoint =
      "tcp://" + host + ":" + std::to_string(config->coordinator.worker_port);
  core_options.geometry.bytes_per_block = 2 * mc.num_layers * config->kv.block_size *
                                          mc.num_kv_heads * mc.head_dim *
                                          static_cast<int64_t>(sizeof(float));
  core_options.geometry.weight_bytes = PathBytes(config->model.path);
  core_options.geometry.max_context = max_context;
  file->reset();

  zmq::context_t context;
  auto security = SetUpSecurity(*config, context);
  if (!security.ok()) {
    std::fprintf(stderr, "skipjoin coordinator: keys: %s\n", security.status().message().c_str());
    return 1;
  }
  core_options.worker_curve = security->workers;
  std::vector<std::string> replica_names;
  for (const auto& r : config->replicas) replica_names.push_back(r.name);
  server::PrometheusMetrics metrics(replica_names);
  // The same registry on its own port, for Prometheus scrape configs that
  // target metrics.coordinator_port. Not fatal: /metrics on the HTTP port
  // serves the same text.
  std::unique_ptr<monitoring::MetricsServer> metrics_server;
  if (config->metrics.coordinator_port != 0) {
    const std::string bind = host + ":" + std::to_string(config->metrics.coordinator_port);
    auto ms = monitoring::MetricsServer::Start(bind, metrics.registry());
    if (ms.ok()) {
      metrics_server = std::move(*ms);
    } else {
      SJ_LOG(Warn) << "metrics port: " << ms.status().message()
                   << "; /metrics on the HTTP port still works";
    }
  }
  auto core = server::CoordinatorCore::Start(std::move(core_options), &context, &metrics);
  if (!core.ok()) {
    std::fprintf(stderr, "skipjoin coordinator: worker port: %s\n",
                 core.status().message().c_str());
    return 1;
  }
  frontend::HttpFrontendOptions http;
  http.host = host;
  http.port = config->coordinator.http_port;
  http.threads = static_cast<int>(std::max<int64_t>(1, http_threads));
  http.limits = config->coordinator.limits;
  http.api_key = config->coordinator.api_key;
  http.cors_origins = config->coordinator.cors_origins;
  http.model_name = model_name;
  http.model_aliases = config->model.aliases;
  http.max_context = max_context;
  auto frontend = frontend::HttpFrontend::Start(http, core->get(), tokenizer->get(), &metrics);
  if (!frontend.ok()) {
    std::fprintf(stderr, "skipjoin coordinator: %s\n", frontend.status().message().c_str());
    (*core)->Stop();
    return 1;
  }
  frontend::ClientEndpointOptions native;
  native.endpoint = "tcp://" + host + ":" + std::to_string(config->coordinator.client_port);
  native.model_name = model_name;
  native.max_context = max_context;
  native.limits = config->coordinator.limits;
  native.curve = security->clients;
  auto client =
      frontend::ClientEndpoint::Start(native, &context, core->get(), tokenizer->get(), &metrics);
  if (!client.ok()) {
    std::fprintf(stderr, "skipjoin coordinator: %s\n", client.status().message().c_str());
    (*frontend)->Stop();
    (*core)->Stop();
    return 1;
  }
  std::printf("coordinator ready http=http://%s:%u client=tcp://%s:%u\n", advertised.c_str(),
              static_cast<unsigned>((*frontend)->port()), advertised.c_str(),
              static_cast<unsigned>(config->coordinator.client_port));
  std::fflush(stdout);
  SJ_LOG(Info) << "bound " << config->coordinator.bind
               << (config->coordinator.bind != host ? " (" + host + ")" : std::string())
               << ": http " << (*frontend)->port() << ", native " << (*client)->endpoint()
               << ", workers " << (*core)->worker_endpoint() << ", metrics "
               << (metrics_server ? std::to_string(metrics_server->port()) : std::string("off"))
               << "; advertised as " << advertised;
  SJ_LOG(Info) << "serving " << model_name << " (context " << max_context
               << "); workers connect to tcp://" << advertised << ":"
               << config->coordinator.worker_port;

  int sig = 0;
  sigwait(&signals, &sig);
  SJ_LOG(Info) << "signal " << sig << ": shutting down";
  (*client)->Stop();
  (*frontend)->Stop();
  (*core)->Stop();
  if (security->zap) security->zap->Stop();
  return 0;
}

}  // namespace skipjoin
