// `skipjoin status` and `skipjoin models`: one request each over the native
// client protocol, printed as a table.
#include <cstdio>

#include "client/cluster_client.h"
#include "client/commands.h"
#include "common/flags.h"

namespace skipjoin::cli {
namespace {

struct Target {
  std::unique_ptr<NativeClient> client;
  WaitOptions wait;
};

// Parses the shared flags and connects. Returns an exit code >= 0 when the
// command should end (help, bad flags), -1 to go on.
int ParseAndConnect(const char* name, const char* usage, const std::vector<std::string>& raw_args,
                    Target* target) {
  ClientFlags client_flags;
  std::vector<std::string> args;
  client_flags.sets = TakeConfigOverrides(raw_args, &args);
  int64_t timeout_ms = 5000;
  FlagSet flags(usage);
  AddClientFlags(&flags, &client_flags);
  flags.Int("timeout-ms", &timeout_ms, "how long to wait for the answer once connected, ms");
  if (Status st = flags.Parse(args); !st.ok()) {
    std::fprintf(stderr, "skipjoin %s: %s\n", name, st.message().c_str());
    return 2;
  }
  if (flags.help_requested()) {
    std::printf("%s%s", flags.Help().c_str(), kSetFlagHelp);
    return 0;
  }
  if (timeout_ms <= 0 || client_flags.connect_timeout_ms <= 0) {
    std::fprintf(stderr, "skipjoin %s: --timeout-ms and --connect-timeout-ms must be positive\n",
                 name);
    return 2;
  }
  auto endpoint = ResolveClientTarget(client_flags);
  if (!endpoint.ok()) {
    std::fprintf(stderr, "skipjoin %s: %s\n", name, endpoint.status().message().c_str());
    return 2;
  }
  auto client = NativeClient::Connect(*endpoint);
  if (!client.ok()) {
    std::fprintf(stderr, "skipjoin %s: %s\n", name, client.status().ToString().c_str());
    return 1;
  }
  target->client = std::move(client).value();
  target->wait.connect = std::chrono::milliseconds(client_flags.connect_timeout_ms);
  target->wait.silence = std::chrono::milliseconds(timeout_ms);
  return -1;
}

}  // namespace

int StatusMain(const std::vector<std::string>& args) {
  Target t;
  if (int rc = ParseAndConnect(
          "status",
          "usage: skipjoin status [--coordinator tcp://HOST:PORT | --config FILE [--set k=v ...]]\n"
          "\nReplicas, queues, KV cache use, and every worker (replica, rank, node, host,\n"
          "device, state) of a running cluster.",
          args, &t);
      rc >= 0) {
    return rc;
  }
  auto reply = t.client->GetStatus(t.wait);
  if (!reply.ok()) {
    std::fprintf(stderr, "skipjoin status: %s\n", reply.status().ToString().c_str());
    return 1;
  }
  std::printf("coordinator %s\n\n", t.client->endpoint().c_str());
  std::printf("%-4s %-14s %-5s %7s %7s %7s %7s %21s %21s\n", "id", "replica", "alive", "workers",
              "running", "waiting", "swapped", "kv device used/total", "kv host used/total");
  for (const auto& r : reply->replicas) {
    const uint32_t dev_total = r.kv_device_blocks_used + r.kv_device_blocks_free;
    const uint32_t host_total = r.kv_host_blocks_used + r.kv_host_blocks_free;
    char dev[32], host[32];
    std::snprintf(dev, sizeof(dev), "%u/%u (%.0f%%)", r.kv_device_blocks_used, dev_total,
                  dev_total ? 100.0 * r.kv_device_blocks_used / dev_total : 0.0);
    std::snprintf(host, sizeof(host), "%u/%u", r.kv_host_blocks_used, host_total);
    std::printf("%-4u %-14s %-5s %7u %7u %7u %7u %21s %21s\n", r.replica_id, r.name.c_str(),
                r.alive ? "yes" : "no", r.workers, r.running, r.waiting, r.swapped, dev, host);
  }
  if (!reply->workers.empty()) {
    std::printf("\n%-14s %-5s %-16s %-24s %-10s %s\n", "replica", "rank", "node", "host", "device",
                "state");
    for (const auto& w : reply->workers) {
      const std::string replica = w.replica_id < reply->replicas.size()
                                      ? reply->replicas[w.replica_id].name
                                      : std::to_string(w.replica_id);
      std::printf("%-14s %-5u %-16s %-24s %-10s %s\n", replica.c_str(), w.rank, w.node.c_str(),
                  w.host.c_str(), w.device.c_str(),
                  w.ready        ? "ready"
                  : w.registered ? "registered"
                                 : "missing");
    }
  }
  if (!reply->queue_levels.empty()) {
    std::printf("\nqueue levels (highest priority first):");
    for (uint32_t n : reply->queue_levels) std::printf(" %u", n);
    std::printf("\n");
  }
  return 0;
}

int ModelsMain(const std::vector<std::string>& args) {
  Target t;
  if (int rc = ParseAndConnect(
          "models",
          "usage: skipjoin models [--coordinator tcp://HOST:PORT | --config FILE [--set k=v ...]]\n"
          "\nThe models a running cluster serves.",
          args, &t);
      rc >= 0) {
    return rc;
  }
  auto reply = t.client->GetModels(t.wait);
  if (!reply.ok()) {
    std::fprintf(stderr, "skipjoin models: %s\n", reply.status().ToString().c_str());
    return 1;
  }
  std::printf("%-40s %s\n", "model", "max_context");
  for (const auto& m : reply->models) std::printf("%-40s %u\n", m.id.c_str(), m.max_context);
  return 0;
}

}  // namespace skipjoin::cli
