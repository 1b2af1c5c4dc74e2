// `skipjoin keygen CONFIG [--client LABEL]`: makes the CURVE keys of a cluster
// (protocol/curve.h has the layout): the coordinator's keypair, one keypair
// per node and the default client keypair, in security.keys_dir. Existing keys
// are kept. --client LABEL adds another client keypair (client-LABEL.key);
// the coordinator accepts it from its next start.
#include <cctype>
#include <cstdio>

#include "client/commands.h"
#include "common/config/cluster_config.h"
#include "common/flags.h"
#include "protocol/curve.h"

namespace skipjoin::cli {
namespace {

constexpr const char* kUsage =
    "usage: skipjoin keygen CONFIG [--set key=value ...] [--client LABEL]\n"
    "\n"
    "Creates the CURVE keys of the cluster in CONFIG (in security.keys_dir,\n"
    "default ~/.cache/skipjoin/keys/<name>) and keeps the ones already there:\n"
    "cluster.key (the coordinator's), node-<node>.key for each node (its\n"
    "workers'), client.key (native clients'), and a .pub beside each. Copy the\n"
    "directory to every node; a client needs cluster.pub and a client key.\n"
    "`skipjoin launch` does this on first use, so keygen is for multi-node\n"
    "set-up and for more client keys (--client LABEL -> client-LABEL.key).";

bool ValidLabel(const std::string& s) {
  if (s.empty() || s.size() > 64) return false;
  for (char c : s) {
    if (!std::isalnum(static_cast<unsigned char>(c)) && c != '-' && c != '_') return false;
  }
  return true;
}

}  // namespace

int KeygenMain(const std::vector<std::string>& raw_args) {
  std::vector<std::string> args;
  const std::vector<std::string> sets = TakeConfigOverrides(raw_args, &args);
  std::string client;
  FlagSet flags(kUsage);
  flags.String("client", &client, "also make client-LABEL.key, one more native client key");
  if (Status st = flags.Parse(args); !st.ok()) {
    std::fprintf(stderr, "skipjoin keygen: %s\n", st.message().c_str());
    return 2;
  }
  if (flags.help_requested()) {
    std::printf("%s", flags.Help().c_str());
    return 0;
  }
  if (flags.positional().size() != 1) {
    std::fprintf(stderr, "skipjoin keygen: give exactly one CONFIG file (see --help)\n");
    return 2;
  }
  if (!client.empty() && !ValidLabel(client)) {
    std::fprintf(stderr, "skipjoin keygen: --client %s: use 1-64 letters, digits, '-' or '_'\n",
                 client.c_str());
    return 2;
  }
  auto cfg = config::LoadClusterConfig(flags.positional()[0], sets);
  if (!cfg.ok()) {
    std::fprintf(stderr, "skipjoin keygen: %s\n", cfg.status().message().c_str());
    return 2;
  }
  if (cfg->security.auth == config::AuthMode::kNone) {
    std::fprintf(stderr,
                 "skipjoin keygen: note: this config has security.auth: none, so its "
                 "cluster does not use the keys\n");
  }
  const std::string dir = config::KeysDirFor(*cfg);
  std::vector<std::string> nodes, created;
  for (const auto& n : cfg->nodes) nodes.push_back(n.name);
  if (Status st = protocol::EnsureClusterKeys(dir, nodes, cfg->name, &created); !st.ok()) {
    std::fprintf(stderr, "skipjoin keygen: %s\n", st.message().c_str());
    return 1;
  }
  if (!client.empty()) {
    const std::string path = dir + "/" + protocol::kClientKeyStem + "-" + client + ".key";
    auto pair = protocol::GenerateCurveKeypair();
    Status st = pair.ok()
                    ? protocol::WriteCurveKeyFiles(
                          path, *pair, "native client '" + client + "' of cluster " + cfg->name)
                    : pair.status();
    if (!st.ok()) {
      std::fprintf(stderr, "skipjoin keygen: %s\n", st.message().c_str());
      return 1;
    }
    created.push_back(path);
  }
  for (const std::string& f : created) std::printf("created %s\n", f.c_str());
  std::printf("keys of cluster '%s' are in %s (%zu new file(s))\n", cfg->name.c_str(), dir.c_str(),
              created.size());
  return 0;
}

}  // namespace skipjoin::cli
