#include "common/config/cluster_config.h"

#include <gtest/gtest.h>

#include <cstdlib>
#include <filesystem>
#include <string>
#include <vector>

namespace skipjoin::config {
namespace {

// Lines 1..12; tests append sections from line 13 on.
const char* kBase =
    "name: t\n"                        // 1
    "nodes:\n"                         // 2
    "  - name: n0\n"                   // 3
    "    host: 127.0.0.1\n"            // 4
    "    devices:\n"                   // 5
    "      - {kind: cpu, index: 0}\n"  // 6
    "      - {kind: cpu, index: 1}\n"  // 7
    "model:\n"                         // 8
    "  path: /m/tiny.gguf\n"           // 9
    "replicas:\n"                      // 10
    "  count: 2\n"                     // 11
    "  tp: 1\n";                       // 12

std::string ErrorOf(const std::string& yaml, const std::vector<std::string>& overrides = {}) {
  Result<ClusterConfig> r = ParseClusterConfig(yaml, "t.yaml", overrides);
  if (r.ok()) return "OK";
  EXPECT_EQ(r.status().code(), StatusCode::kInvalidArgument);
  return r.status().message();
}

TEST(ClusterConfigTest, EveryShippedConfigLoads) {
  const char* src = std::getenv("SKIPJOIN_SOURCE_DIR");
  ASSERT_NE(src, nullptr) << "ctest sets SKIPJOIN_SOURCE_DIR";
  int loaded = 0;
  for (const auto& entry :
       std::filesystem::directory_iterator(std::filesystem::path(src) / "cluster_configs")) {
    const std::string ext = entry.path().extension().string();
    if (ext != ".yaml" && ext != ".yml") continue;
    Result<ClusterConfig> c = LoadClusterConfig(entry.path().string());
    EXPECT_TRUE(c.ok()) << c.status().ToString();
    ++loaded;
  }
  EXPECT_GE(loaded, 4);
}

TEST(ClusterConfigTest, DefaultLocalCpuConfig) {
  const std::string src = std::getenv("SKIPJOIN_SOURCE_DIR");
  Result<ClusterConfig> c = LoadClusterConfig(src + "/cluster_configs/local-cpu.yaml");
  ASSERT_TRUE(c.ok()) << c.status().ToString();
  EXPECT_EQ(c->name, "local-cpu");
  EXPECT_EQ(c->coordinator.host, "127.0.0.1");
  ASSERT_EQ(c->replicas.size(), 2u);
  EXPECT_EQ(c->replicas[0].devices, (std::vector<DeviceRef>{{"local", DeviceKind::kCpu, 0}}));
  EXPECT_EQ(c->replicas[1].devices[0].ToString(), "local:cpu:1");
  EXPECT_EQ(c->model.path, DefaultModelPath());
  EXPECT_EQ(c->kv.host_swap_bytes, 1ull << 30);
  EXPECT_EQ(c->kv.num_device_blocks, 2048u);
}

TEST(ClusterConfigTest, TwoNodeGpuConfig) {
  const std::string src = std::getenv("SKIPJOIN_SOURCE_DIR");
  Result<ClusterConfig> c = LoadClusterConfig(src + "/cluster_configs/two-node-gpu.yaml");
  ASSERT_TRUE(c.ok()) << c.status().ToString();
  ASSERT_EQ(c->replicas.size(), 4u);
  for (const ReplicaConfig& r : c->replicas) EXPECT_EQ(r.tp, 4u);
  EXPECT_EQ(c->replicas[3].devices[3].ToString(), "gpu-b:cuda:7");
  EXPECT_EQ(c->coordinator.api_key, "change-me");
  EXPECT_EQ(c->scheduler.mlfq.levels, 6u);
  EXPECT_EQ(c->kv.host_swap_bytes, 64ull << 30);
}

TEST(ClusterConfigTest, DefaultsApply) {
  Result<ClusterConfig> c = ParseClusterConfig(kBase, "t.yaml");
  ASSERT_TRUE(c.ok()) << c.status().ToString();
  EXPECT_EQ(c->coordinator.node, "n0");
  EXPECT_EQ(c->model.name, "tiny");
  EXPECT_EQ(c->scheduler.policy, SchedulerPolicy::kMlfq);
  EXPECT_EQ(c->scheduler.step_trace, "");               // off
  EXPECT_FALSE(c->scheduler.max_stall_ms.has_value());  // per device kind
  EXPECT_DOUBLE_EQ(c->scheduler.swap.debt_share, 0.05);
  EXPECT_EQ(c->scheduler.swap.victim_order, "mlfq");
  EXPECT_EQ(c->kv.block_size, 16u);
  EXPECT_DOUBLE_EQ(c->kv.device_memory_fraction, 0.9);
  EXPECT_FALSE(c->kv.num_device_blocks.has_value());
  EXPECT_EQ(c->heartbeat.timeout_ms, 5000u);
}

TEST(ClusterConfigTest, MissingFileIsNotFound) {
  Result<ClusterConfig> c = LoadClusterConfig("/nonexistent/x.yaml");
  EXPECT_EQ(c.status().code(), StatusCode::kNotFound);
}

struct ErrorCase {
  std::string extra;     // appended from line 13 on (or replacing the base, see below)
  std::string expected;  // the exact message
};

TEST(ClusterConfigTest, ValidationErrorsNameFileLineAndKey) {
  const std::vector<ErrorCase> cases = {
      {"schedular:\n  policy: fcfs\n", "t.yaml:13: unknown key 'schedular'"},
      {"scheduler:\n  tokn_budget: 5\n", "t.yaml:14: scheduler: unknown key 'tokn_budget'"},
      {"scheduler:\n  policy: lifo\n",
       "t.yaml:14: scheduler.policy: unknown policy 'lifo' (expected mlfq or fcfs)"},
      {"scheduler:\n  token_budget: abc\n",
       "t.yaml:14: scheduler.token_budget: expected a non-negative integer, got 'abc'"},
      {"scheduler:\n  token_budget: -5\n",
       "t.yaml:14: scheduler.token_budget: expected a non-negative integer, got '-5'"},
      {"scheduler:\n  token_budget: 2000000\n",
       "t.yaml:14: scheduler.token_budget: must be at most 1048576 (0 derives it from the cost "
       "model)"},
      {"scheduler:\n  tbt_target_ms: 0\n",
       "t.yaml:14: scheduler.tbt_target_ms: must be greater than 0"},
      {"scheduler:\n  cost_model_dir: [a]\n",
       "t.yaml:14: scheduler.cost_model_dir: expected a string, got a list"},
      {"scheduler:\n  step_trace: {a: 1}\n",
       "t.yaml:14: scheduler.step_trace: expected a string, got a map"},
      {"scheduler:\n  max_stall_ms: -1\n",
       "t.yaml:14: scheduler.max_stall_ms: must be between 0 (off) and 3600000 ms"},
      {"scheduler:\n  max_stall_ms: soon\n",
       "t.yaml:14: scheduler.max_stall_ms: expected a number, got 'soon'"},
      {"scheduler:\n  mlfq:\n    quantum_ratio: 0.5\n",
       "t.yaml:15: scheduler.mlfq.quantum_ratio: must be at least 1"},
      {"scheduler:\n  mlfq: 3\n", "t.yaml:14: scheduler.mlfq: expected a map of settings, got '3'"},
      {"scheduler:\n  swap:\n    debt_share: 1.5\n",
       "t.yaml:15: scheduler.swap.debt_share: must be between 0 (new jobs use free memory "
       "only) and 1"},
      {"scheduler:\n  swap:\n    victim_order: lru\n",
       "t.yaml:15: scheduler.swap.victim_order: unknown order 'lru' (expected mlfq or enst)"},
      {"coordinator:\n  http_port: 70000\n",
       "t.yaml:14: coordinator.http_port: value 70000 is out of range (at most 65535)"},
      {"coordinator:\n  http_port: 0\n",
       "t.yaml:14: coordinator.http_port: port must be between 1 and 65535"},
      {"coordinator:\n  http_port: 5555\n",
       "t.yaml:14: coordinator.http_port: port 5555 is also coordinator.client_port"},
      {"coordinator:\n  node: n9\n", "t.yaml:14: coordinator.node: unknown node 'n9'"},
      {"coordinator:\n  api_key: \"\"\n",
       "t.yaml:14: coordinator.api_key: must not be empty (omit it to disable)"},
      {"coordinator:\n  stats_log_interval_s: -1\n",
       "t.yaml:14: coordinator.stats_log_interval_s: must be 0 (off) or seconds up to 86400"},
      {"coordinator:\n  limits: {max_pending_requests: 0}\n",
       "t.yaml:14: coordinator.limits.max_pending_requests: must be greater than 0"},
      {"coordinator:\n  limits: {max_queue_seconds: -1}\n",
       "t.yaml:14: coordinator.limits: max_queue_seconds must be a positive number of seconds "
       "(omit it for no limit)"},
      {"metrics:\n  worker_port_base: 5555\n",
       "t.yaml:14: metrics.worker_port_base: worker metrics ports 5555..5556 on node 'n0' overlap "
       "coordinator.client_port"},
      {"kv:\n  block_size: 12\n",
       "t.yaml:14: kv.block_size: must be a power of two between 1 and 1024"},
      {"kv:\n  device_memory_fraction: 1.5\n",
       "t.yaml:14: kv.device_memory_fraction: must be in (0, 1]"},
      {"kv:\n  host_swap_bytes: 1\n  host_swap_gib: 1\n",
       "t.yaml:15: kv: set host_swap_bytes or host_swap_gib, not both"},
      {"heartbeat:\n  interval_ms: 1000\n  timeout_ms: 500\n",
       "t.yaml:15: heartbeat.timeout_ms: must be greater than heartbeat.interval_ms"},
      {"security:\n  auth: tls\n",
       "t.yaml:14: security.auth: unknown mode 'tls' (expected curve or none)"},
      {"security:\n  keys: /k\n", "t.yaml:14: security: unknown key 'keys'"},
      {"model:\n  path: /x\n", "t.yaml:13: duplicate key 'model'"},
      {"name: [a\n", "t.yaml:14: invalid YAML: end of sequence flow not found"},
  };
  for (const ErrorCase& c : cases) {
    EXPECT_EQ(ErrorOf(std::string(kBase) + c.extra), c.expected) << c.extra;
  }
}

TEST(ClusterConfigTest, CorsOriginsAreOffByDefaultAndChecked) {
  Result<ClusterConfig> off = ParseClusterConfig(kBase, "t.yaml");
  ASSERT_TRUE(off.ok()) << off.status().ToString();
  EXPECT_TRUE(off->coordinator.cors_origins.empty());

  Result<ClusterConfig> on = ParseClusterConfig(
      std::string(kBase) +
          "coordinator:\n  cors_origins: [https://App.Example, 'http://localhost:3000', "
          "'http://[::1]:8080']\n",
      "t.yaml");
  ASSERT_TRUE(on.ok()) << on.status().ToString();
  EXPECT_EQ(on->coordinator.cors_origins,
            (std::vector<std::string>{"https://app.example", "http://localhost:3000",
                                      "http://[::1]:8080"}));
  Result<ClusterConfig> any =
      ParseClusterConfig(std::string(kBase) + "coordinator:\n  cors_origins: ['*']\n", "t.yaml");
  ASSERT_TRUE(any.ok()) << any.status().ToString();
  EXPECT_EQ(any->coordinator.cors_origins, (std::vector<std::string>{"*"}));
  // As a --set override, too.
  Result<ClusterConfig> set = ParseClusterConfig(
      kBase, "t.yaml", {"coordinator.cors_origins=[https://a.example, https://b.example]"});
  ASSERT_TRUE(set.ok()) << set.status().ToString();
  EXPECT_EQ(set->coordinator.cors_origins.size(), 2u);

  const std::vector<ErrorCase> cases = {
      {"coordinator:\n  cors_origins: https://a.example\n",
       "t.yaml:14: coordinator.cors_origins: expected a list of origins (https://app.example.com) "
       "or [\"*\"]"},
      {"coordinator:\n  cors_origins: [a.example]\n",
       "t.yaml:14: coordinator.cors_origins[0]: 'a.example' must be \"*\" or an origin such as "
       "https://app.example.com (scheme http or https)"},
      {"coordinator:\n  cors_origins: ['https://a.example/']\n",
       "t.yaml:14: coordinator.cors_origins[0]: 'https://a.example/' an origin has no path, not "
       "even a trailing '/' (https://app.example.com)"},
      {"coordinator:\n  cors_origins: ['https://a.example:0']\n",
       "t.yaml:14: coordinator.cors_origins[0]: 'https://a.example:0' has a port outside 1..65535"},
      {"coordinator:\n  cors_origins: ['https://a b']\n",
       "t.yaml:14: coordinator.cors_origins[0]: 'https://a b' has a character a host name cannot "
       "hold"},
      {"coordinator:\n  cors_origins: ['https://']\n",
       "t.yaml:14: coordinator.cors_origins[0]: 'https://' has no host"},
      {"coordinator:\n  cors_origins: [https://a.example, https://A.example]\n",
       "t.yaml:14: coordinator.cors_origins[1]: 'https://a.example' is listed twice"},
      {"coordinator:\n  cors_origins: ['*', https://a.example]\n",
       "t.yaml:14: coordinator.cors_origins: \"*\" already allows every origin; list it alone or "
       "list origins"},
      {"coordinator:\n  cors_origins: [[x]]\n",
       "t.yaml:14: coordinator.cors_origins[0]: expected a string, got a list"},
  };
  for (const ErrorCase& c : cases) {
    EXPECT_EQ(ErrorOf(std::string(kBase) + c.extra), c.expected) << c.extra;
  }
}

// Replaces the replicas section (lines 10..12) with `replicas`, from line 10 on.
std::string WithReplicas(const std::string& replicas) {
  std::string base = kBase;
  return base.substr(0, base.find("replicas:")) + replicas;
}

TEST(ClusterConfigTest, ReplicaErrors) {
  EXPECT_EQ(ErrorOf(WithReplicas("replicas:\n  count: 3\n  tp: 1\n")),
            "t.yaml:11: replicas: 3 replicas of tp 1 need 3 devices; the nodes have 2");
  EXPECT_EQ(ErrorOf(WithReplicas("replicas:\n  - {tp: 1, devices: [n1:cpu:0]}\n")),
            "t.yaml:11: replicas[0].devices[0]: unknown node 'n1'");
  EXPECT_EQ(ErrorOf(WithReplicas("replicas:\n  - {tp: 1, devices: [n0:cuda:0]}\n")),
            "t.yaml:11: replicas[0].devices[0]: node 'n0' has no device cuda:0");
  EXPECT_EQ(ErrorOf(WithReplicas("replicas:\n  - {tp: 1, devices: [n0-cpu-0]}\n")),
            "t.yaml:11: replicas[0].devices[0]: device ref 'n0-cpu-0' is not node:kind:index (e.g. "
            "local:cpu:0)");
  EXPECT_EQ(ErrorOf(WithReplicas("replicas:\n  - name: r\n    tp: 2\n    devices: [n0:cpu:0]\n")),
            "t.yaml:12: replicas[0].tp: tp is 2 but the replica lists 1 devices");
  EXPECT_EQ(
      ErrorOf(WithReplicas(
          "replicas:\n  - {name: a, devices: [n0:cpu:0]}\n  - {name: b, devices: [n0:cpu:0]}\n")),
      "t.yaml:12: b: device n0:cpu:0 is already used by replica 'a'");
  EXPECT_EQ(
      ErrorOf(WithReplicas(
          "replicas:\n  - {name: a, devices: [n0:cpu:0]}\n  - {name: a, devices: [n0:cpu:1]}\n")),
      "t.yaml:12: replicas[1].name: duplicate replica name 'a'");
  EXPECT_EQ(ErrorOf(WithReplicas("replicas:\n  - {name: a, devices: [n0:cpu:0], tpp: 1}\n")),
            "t.yaml:11: replicas[0]: unknown key 'tpp'");
  EXPECT_EQ(ErrorOf(WithReplicas("replicas: 2\n")),
            "t.yaml:10: replicas: expected a list of replicas or {count, tp}");
  Result<ClusterConfig> ok = ParseClusterConfig(
      WithReplicas("replicas:\n  - {tp: 2, devices: [n0:cpu:1, n0:cpu:0]}\n"), "t.yaml");
  ASSERT_TRUE(ok.ok()) << ok.status().ToString();
  EXPECT_EQ(ok->replicas[0].name, "replica-0");
  EXPECT_EQ(ok->replicas[0].devices[0].index, 1u);
}

TEST(ClusterConfigTest, StatsLogInterval) {
  Result<ClusterConfig> c = ParseClusterConfig(kBase, "t.yaml");
  ASSERT_TRUE(c.ok()) << c.status().ToString();
  EXPECT_EQ(c->coordinator.stats_log_interval_s, 10);
  c = ParseClusterConfig(kBase, "t.yaml", {"coordinator.stats_log_interval_s=0"});
  ASSERT_TRUE(c.ok()) << c.status().ToString();
  EXPECT_EQ(c->coordinator.stats_log_interval_s, 0);
  EXPECT_NE(ErrorOf(kBase, {"coordinator.stats_log_interval_s=90000"}).find("up to 86400"),
            std::string::npos);
}

// replicas[].tp_comm names the CPU collectives; shm needs one node.
TEST(ClusterConfigTest, TensorParallelCommunicator) {
  const std::string two_nodes =
      "name: t\nnodes:\n"
      "  - {name: n0, host: 127.0.0.1, devices: [{kind: cpu, index: 0}]}\n"
      "  - {name: n1, host: 127.0.0.2, devices: [{kind: cpu, index: 0}]}\n"
      "model: {path: /m/tiny.gguf}\n";
  Result<ClusterConfig> c = ParseClusterConfig(
      two_nodes + "replicas:\n  - {tp: 2, devices: [n0:cpu:0, n1:cpu:0]}\n", "t.yaml");
  ASSERT_TRUE(c.ok()) << c.status().ToString();
  EXPECT_EQ(c->replicas[0].tp_comm, "auto");
  for (const char* comm : {"ring", "gloo", "tcp"}) {
    c = ParseClusterConfig(two_nodes + "replicas:\n  - {tp: 2, tp_comm: " + comm +
                               ", devices: [n0:cpu:0, n1:cpu:0]}\n",
                           "t.yaml");
    ASSERT_TRUE(c.ok()) << comm << ": " << c.status().ToString();
    EXPECT_EQ(c->replicas[0].tp_comm, comm);
  }
  EXPECT_EQ(
      ErrorOf(two_nodes + "replicas:\n  - {tp: 2, tp_comm: shm, devices: [n0:cpu:0, n1:cpu:0]}\n"),
      "t.yaml:7: replicas[0].tp_comm: shm needs every rank on one node; n1:cpu:0 is not on "
      "n0 (use auto or ring)");
  EXPECT_EQ(
      ErrorOf(two_nodes + "replicas:\n  - {tp: 2, tp_comm: mpi, devices: [n0:cpu:0, n1:cpu:0]}\n"),
      "t.yaml:7: replicas[0].tp_comm: unknown 'mpi' (expected auto, shm, ring, gloo or tcp)");
  c = ParseClusterConfig(WithReplicas("replicas:\n  count: 1\n  tp: 2\n  tp_comm: tcp\n"),
                         "t.yaml");
  ASSERT_TRUE(c.ok()) << c.status().ToString();
  EXPECT_EQ(c->replicas[0].tp_comm, "tcp");
}

TEST(ClusterConfigTest, TensorParallelRendezvousPortMustBeFree) {
  // A tp=2 replica meets its ranks on coordinator.worker_port + 1 + index.
  const std::string tp2 = WithReplicas("replicas:\n  - {tp: 2, devices: [n0:cpu:1, n0:cpu:0]}\n");
  Result<ClusterConfig> ok = ParseClusterConfig(tp2, "t.yaml");
  ASSERT_TRUE(ok.ok()) << ok.status().ToString();
  const std::string metrics_port = std::to_string(ok->metrics.coordinator_port);
  const std::string err =
      ErrorOf(tp2, {"coordinator.worker_port=" + std::to_string(ok->metrics.coordinator_port - 1)});
  EXPECT_NE(err.find("meets its ranks on port " + metrics_port), std::string::npos) << err;
  EXPECT_NE(err.find("metrics.coordinator_port"), std::string::npos) << err;
}

TEST(ClusterConfigTest, NodeAndModelErrors) {
  std::string dup_dev = kBase;
  dup_dev.replace(dup_dev.find("index: 1"), 8, "index: 0");
  EXPECT_EQ(ErrorOf(dup_dev), "t.yaml:7: nodes[0].devices[1]: duplicate device cpu:0");
  std::string bad_kind = kBase;
  bad_kind.replace(bad_kind.find("kind: cpu, index: 1"), 9, "kind: tpu");
  EXPECT_EQ(ErrorOf(bad_kind),
            "t.yaml:7: nodes[0].devices[1].kind: unknown device kind 'tpu' (expected cpu or cuda)");
  std::string no_path = kBase;
  no_path.replace(no_path.find("  path: /m/tiny.gguf"), 20, "  name: x");
  EXPECT_EQ(ErrorOf(no_path), "t.yaml:9: model: missing required key 'path'");
  std::string no_host = kBase;
  no_host.replace(no_host.find("    host: 127.0.0.1\n"), 20, "");
  EXPECT_EQ(ErrorOf(no_host), "t.yaml:3: nodes[0]: missing required key 'host'");
  EXPECT_EQ(ErrorOf("- a\n"), "t.yaml:1: the file must be a map of sections");
}

TEST(ClusterConfigTest, ModelAliasesAreDistinctIds) {
  Result<ClusterConfig> c = ParseClusterConfig(
      kBase, "t.yaml", {"model.name=smol", "model.aliases=[gpt-4o-mini, small]"});
  ASSERT_TRUE(c.ok()) << c.status().ToString();
  EXPECT_EQ(c->model.aliases, (std::vector<std::string>{"gpt-4o-mini", "small"}));
  EXPECT_EQ(
      ErrorOf(kBase, {"model.name=smol", "model.aliases=[a, smol]"}).find("model.aliases[1]") !=
          std::string::npos,
      true);
  EXPECT_NE(ErrorOf(kBase, {"model.aliases=[a, a]"}).find("'a' is already a name of the model"),
            std::string::npos);
  EXPECT_NE(ErrorOf(kBase, {"model.aliases=a"}).find("model.aliases: expected a list"),
            std::string::npos)
      << ErrorOf(kBase, {"model.aliases=a"});
  EXPECT_NE(ErrorOf(kBase, {"model.aliases=['']"}).find("must not be empty"), std::string::npos);
}

TEST(ClusterConfigTest, OverridesApplyBeforeValidation) {
  Result<ClusterConfig> c = ParseClusterConfig(
      kBase, "t.yaml",
      {"scheduler.policy=fcfs", "coordinator.http_port=9000", "nodes.0.host=10.1.2.3",
       "replicas.count=1", "kv.num_device_blocks=64", "scheduler.mlfq.levels=8",
       "model.max_context=2048", "scheduler.step_trace=/tmp/steps.jsonl"});
  ASSERT_TRUE(c.ok()) << c.status().ToString();
  EXPECT_EQ(c->scheduler.policy, SchedulerPolicy::kFcfs);
  EXPECT_EQ(c->coordinator.http_port, 9000);
  EXPECT_EQ(c->nodes[0].host, "10.1.2.3");
  EXPECT_EQ(c->coordinator.host, "10.1.2.3");
  EXPECT_EQ(c->replicas.size(), 1u);
  EXPECT_EQ(c->kv.num_device_blocks, 64u);
  EXPECT_EQ(c->scheduler.mlfq.levels, 8u);
  EXPECT_EQ(c->model.max_context, 2048u);
  EXPECT_EQ(c->scheduler.step_trace, "/tmp/steps.jsonl");
  // A whole list from the command line.
  c = ParseClusterConfig(WithReplicas("replicas:\n  count: 1\n"), "t.yaml",
                         {"replicas=[{tp: 2, devices: [n0:cpu:0, n0:cpu:1]}]"});
  ASSERT_TRUE(c.ok()) << c.status().ToString();
  EXPECT_EQ(c->replicas[0].tp, 2u);
}

TEST(ClusterConfigTest, OverrideErrorsAreClear) {
  EXPECT_EQ(ErrorOf(kBase, {"scheduler.policy=lifo"}),
            "command line: scheduler.policy: unknown policy 'lifo' (expected mlfq or fcfs)");
  EXPECT_EQ(ErrorOf(kBase, {"scheduler.polcy=fcfs"}),
            "command line: scheduler: unknown key 'polcy'");
  EXPECT_EQ(ErrorOf(kBase, {"coordinator.http_port=http"}),
            "command line: coordinator.http_port: expected a non-negative integer, got 'http'");
  EXPECT_EQ(ErrorOf(kBase, {"scheduler"}), "--set scheduler: expected key.path=value");
  EXPECT_EQ(ErrorOf(kBase, {"scheduler..policy=x"}),
            "--set scheduler..policy=x: empty key in 'scheduler..policy'");
  EXPECT_EQ(ErrorOf(kBase, {"nodes.5.host=x"}),
            "--set nodes.5.host=x: index 5 is past the end of 'nodes' (1 entries)");
  EXPECT_EQ(ErrorOf(kBase, {"nodes.first.host=x"}),
            "--set nodes.first.host=x: 'nodes' is a list; expected an index, got 'first'");
  EXPECT_EQ(ErrorOf(kBase, {"name.x=1"}),
            "--set name.x=1: 'name' is a single value, not a section");
  EXPECT_EQ(ErrorOf(kBase, {"name=[a"}).rfind("--set name=[a: value is not valid YAML", 0), 0u);
}

}  // namespace
}  // namespace skipjoin::config

namespace skipjoin::config {
namespace {

TEST(ClusterConfigTest, SecurityDefaultsToCurveWithAKeysDirPerCluster) {
  auto c = ParseClusterConfig(kBase, "t.yaml");
  ASSERT_TRUE(c.ok()) << c.status().ToString();
  EXPECT_EQ(c->security.auth, AuthMode::kCurve);
  EXPECT_EQ(KeysDirFor(*c), CacheRoot() + "/keys/" + c->name);
  auto set = ParseClusterConfig(std::string(kBase) + "security: {auth: none, keys_dir: /etc/sj}\n",
                                "t.yaml");
  ASSERT_TRUE(set.ok()) << set.status().ToString();
  EXPECT_EQ(set->security.auth, AuthMode::kNone);
  EXPECT_EQ(KeysDirFor(*set), "/etc/sj");
}

TEST(ClusterConfigTest, ClusterIdNamesTheClusterAndChangesWithItsTopology) {
  auto a = ParseClusterConfig(kBase, "t.yaml");
  auto same = ParseClusterConfig(kBase, "other.yaml", {"scheduler.policy=fcfs"});
  auto moved = ParseClusterConfig(kBase, "t.yaml", {"coordinator.worker_port=7000"});
  ASSERT_TRUE(a.ok() && same.ok() && moved.ok());
  const std::string id = ClusterId(*a);
  EXPECT_EQ(id.rfind(a->name + "/", 0), 0u) << id;
  EXPECT_EQ(id.size(), a->name.size() + 17);
  // Scheduling knobs may differ per launch; the topology may not.
  EXPECT_EQ(ClusterId(*same), id);
  EXPECT_NE(ClusterId(*moved), id);
}

}  // namespace
}  // namespace skipjoin::config
