// The configs of docs/DEPLOYMENT.md load and match what is said around them:
// the two-node GPU examples in cluster_configs/, the ConfigMap of the
// Kubernetes manifest against its StatefulSet and Services, and the config
// the Slurm batch script writes for an allocation (the script runs here with
// SKIPJOIN_CONFIG_ONLY=1 and a stand-in for `scontrol`).
#include <gtest/gtest.h>
#include <stdlib.h>
#include <yaml-cpp/yaml.h>

#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <set>
#include <sstream>
#include <string>
#include <vector>

#include "common/config/cluster_config.h"

namespace skipjoin::config {
namespace {

namespace fs = std::filesystem;

std::string SourceDir() {
  const char* src = std::getenv("SKIPJOIN_SOURCE_DIR");
  return src != nullptr ? src : "";
}

std::string ReadFile(const fs::path& path) {
  std::ifstream in(path);
  std::stringstream ss;
  ss << in.rdbuf();
  return ss.str();
}

void WriteFile(const fs::path& path, const std::string& text) {
  std::ofstream out(path);
  out << text;
}

// Quotes for a POSIX shell: 'text' with ' written '\''.
std::string ShellQuote(const std::string& s) {
  std::string out = "'";
  for (char c : s) out += c == '\'' ? std::string("'\\''") : std::string(1, c);
  return out + "'";
}

bool HaveBash() { return std::system("command -v bash >/dev/null 2>&1") == 0; }

// The exit status of `bash -n` on the text: 0 when it parses.
int BashSyntaxCheck(const fs::path& file) {
  return std::system(("bash -n " + ShellQuote(file.string()) + " 2>&1").c_str());
}

class TempDir {
 public:
  TempDir() {
    std::string tmpl = (fs::temp_directory_path() / "sj-deploy-XXXXXX").string();
    if (mkdtemp(tmpl.data()) != nullptr) path_ = tmpl;
  }
  ~TempDir() {
    std::error_code ec;
    if (!path_.empty()) fs::remove_all(path_, ec);
  }
  const fs::path& path() const { return path_; }

 private:
  fs::path path_;
};

// Replica r is tp=8 over cuda:0..7 of node r, in rank order: one replica per node.
void ExpectOneTp8ReplicaPerNode(const ClusterConfig& c) {
  ASSERT_EQ(c.replicas.size(), c.nodes.size());
  for (size_t r = 0; r < c.replicas.size(); ++r) {
    EXPECT_EQ(c.replicas[r].tp, 8u);
    ASSERT_EQ(c.replicas[r].devices.size(), 8u);
    for (uint32_t k = 0; k < 8; ++k)
      EXPECT_EQ(c.replicas[r].devices[k], (DeviceRef{c.nodes[r].name, DeviceKind::kCuda, k}));
  }
}

// ---- cluster_configs/two-node-gpu-tp{8,1}.yaml ----

TEST(TwoNodeGpuExamples, OneTp8ReplicaPerNodeOrOneTp1ReplicaPerGpu) {
  ASSERT_FALSE(SourceDir().empty()) << "ctest sets SKIPJOIN_SOURCE_DIR";
  Result<ClusterConfig> tp8 =
      LoadClusterConfig(SourceDir() + "/cluster_configs/two-node-gpu-tp8.yaml");
  ASSERT_TRUE(tp8.ok()) << tp8.status().ToString();
  ASSERT_EQ(tp8->nodes.size(), 2u);
  ExpectOneTp8ReplicaPerNode(*tp8);
  EXPECT_EQ(tp8->coordinator.bind, "0.0.0.0");
  EXPECT_EQ(tp8->nodes[1].host, "gpu-b.example");
  EXPECT_EQ(tp8->nodes[1].bind, "0.0.0.0");

  Result<ClusterConfig> tp1 =
      LoadClusterConfig(SourceDir() + "/cluster_configs/two-node-gpu-tp1.yaml");
  ASSERT_TRUE(tp1.ok()) << tp1.status().ToString();
  ASSERT_EQ(tp1->replicas.size(), 16u);
  for (const ReplicaConfig& r : tp1->replicas) EXPECT_EQ(r.tp, 1u);
  EXPECT_EQ(tp1->replicas[7].devices[0].ToString(), "gpu-a:cuda:7");
  EXPECT_EQ(tp1->replicas[8].devices[0].ToString(), "gpu-b:cuda:0");
  // The same machines, so one can replace the other.
  ASSERT_EQ(tp1->nodes.size(), tp8->nodes.size());
  for (size_t i = 0; i < tp1->nodes.size(); ++i) {
    EXPECT_EQ(tp1->nodes[i].name, tp8->nodes[i].name);
    EXPECT_EQ(tp1->nodes[i].host, tp8->nodes[i].host);
    EXPECT_EQ(tp1->nodes[i].devices.size(), tp8->nodes[i].devices.size());
  }
}

// ---- Kubernetes: docs/deploy/k8s/skipjoin.yaml ----

class K8sManifest : public ::testing::Test {
 protected:
  void SetUp() override {
    ASSERT_FALSE(SourceDir().empty()) << "ctest sets SKIPJOIN_SOURCE_DIR";
    path_ = SourceDir() + "/docs/deploy/k8s/skipjoin.yaml";
    ASSERT_TRUE(fs::exists(path_)) << path_;
    docs_ = YAML::LoadAllFromFile(path_);
  }

  // The document of that kind and metadata.name; a null node when absent.
  YAML::Node Find(const std::string& kind, const std::string& name) const {
    for (const YAML::Node& d : docs_) {
      if (d.IsMap() && d["kind"] && d["kind"].as<std::string>() == kind &&
          d["metadata"]["name"].as<std::string>() == name)
        return d;
    }
    return YAML::Node();
  }

  // data[key] of the ConfigMap skipjoin-config.
  std::string ConfigMapEntry(const std::string& key) const {
    YAML::Node cm = Find("ConfigMap", "skipjoin-config");
    EXPECT_TRUE(cm) << "no ConfigMap skipjoin-config in " << path_;
    if (!cm || !cm["data"][key]) return "";
    return cm["data"][key].as<std::string>();
  }

  Result<ClusterConfig> Config(const std::vector<std::string>& overrides = {}) const {
    return ParseClusterConfig(ConfigMapEntry("cluster.yaml"), path_ + " (ConfigMap cluster.yaml)",
                              overrides);
  }

  std::string path_;
  std::vector<YAML::Node> docs_;
};

TEST_F(K8sManifest, ConfigMapClusterConfigLoads) {
  Result<ClusterConfig> c = Config();
  ASSERT_TRUE(c.ok()) << c.status().ToString();
  EXPECT_EQ(c->name, "skipjoin-k8s");
  EXPECT_EQ(c->coordinator.node, "gpu-0");
  EXPECT_EQ(c->coordinator.host, "skipjoin-0.skipjoin");
  EXPECT_EQ(c->coordinator.bind, "0.0.0.0");
  ASSERT_EQ(c->nodes.size(), 2u);
  for (size_t i = 0; i < c->nodes.size(); ++i) {
    const NodeConfig& n = c->nodes[i];
    EXPECT_EQ(n.name, "gpu-" + std::to_string(i));
    EXPECT_EQ(n.host, "skipjoin-" + std::to_string(i) + ".skipjoin");
    EXPECT_EQ(n.bind, "0.0.0.0");
    ASSERT_EQ(n.devices.size(), 8u);
    for (uint32_t d = 0; d < 8; ++d) {
      EXPECT_EQ(n.devices[d].kind, DeviceKind::kCuda);
      EXPECT_EQ(n.devices[d].index, d);
    }
  }
  // What runs today: one tp=1 replica per GPU, replica-0..7 on gpu-0.
  ASSERT_EQ(c->replicas.size(), 16u);
  for (size_t r = 0; r < c->replicas.size(); ++r) {
    EXPECT_EQ(c->replicas[r].tp, 1u);
    ASSERT_EQ(c->replicas[r].devices.size(), 1u);
    EXPECT_EQ(c->replicas[r].devices[0].ToString(),
              "gpu-" + std::to_string(r / 8) + ":cuda:" + std::to_string(r % 8));
  }
  EXPECT_EQ(c->security.auth, AuthMode::kCurve);
  EXPECT_EQ(c->security.keys_dir, "/var/lib/skipjoin/keys");
  EXPECT_EQ(c->monitoring.prometheus, PrometheusMode::kOff);
}

// The switch the comment in the ConfigMap names: one tp=8 replica per pod.
TEST_F(K8sManifest, TensorParallelLayoutIsOneReplicaPerPod) {
  Result<ClusterConfig> c = Config({"replicas={count: 2, tp: 8}"});
  ASSERT_TRUE(c.ok()) << c.status().ToString();
  ExpectOneTp8ReplicaPerNode(*c);
}

TEST_F(K8sManifest, StatefulSetAndServicesMatchTheConfig) {
  Result<ClusterConfig> c = Config();
  ASSERT_TRUE(c.ok()) << c.status().ToString();
  YAML::Node sts = Find("StatefulSet", "skipjoin");
  ASSERT_TRUE(sts) << "no StatefulSet skipjoin";
  const std::string set_name = sts["metadata"]["name"].as<std::string>();
  const std::string service = sts["spec"]["serviceName"].as<std::string>();

  // Pod <set>-<i> is node gpu-<i>, reached at its DNS name under the
  // headless Service, published before the pods are ready.
  EXPECT_EQ(sts["spec"]["replicas"].as<size_t>(), c->nodes.size());
  for (size_t i = 0; i < c->nodes.size(); ++i) {
    EXPECT_EQ(c->nodes[i].host, set_name + "-" + std::to_string(i) + "." + service);
  }
  YAML::Node headless = Find("Service", service);
  ASSERT_TRUE(headless) << "no Service " << service;
  EXPECT_EQ(headless["spec"]["clusterIP"].as<std::string>(), "None");
  EXPECT_TRUE(headless["spec"]["publishNotReadyAddresses"].as<bool>());

  // Clients reach the pod of the coordinator's node.
  YAML::Node api = Find("Service", "skipjoin-api");
  ASSERT_TRUE(api) << "no Service skipjoin-api";
  EXPECT_EQ(api["spec"]["selector"]["statefulset.kubernetes.io/pod-name"].as<std::string>(),
            set_name + "-0");
  EXPECT_EQ(c->coordinator.node, "gpu-0");
  std::set<int> api_ports;
  for (const YAML::Node& p : api["spec"]["ports"]) api_ports.insert(p["targetPort"].as<int>());
  EXPECT_EQ(api_ports, (std::set<int>{c->coordinator.http_port, c->coordinator.client_port}));

  YAML::Node pod = sts["spec"]["template"];
  YAML::Node container = pod["spec"]["containers"][0];
  ASSERT_TRUE(container);
  const size_t gpus = c->nodes[0].devices.size();
  for (const NodeConfig& n : c->nodes) EXPECT_EQ(n.devices.size(), gpus) << n.name;
  EXPECT_EQ(container["resources"]["limits"]["nvidia.com/gpu"].as<size_t>(), gpus);
  EXPECT_EQ(container["resources"]["requests"]["nvidia.com/gpu"].as<size_t>(), gpus);

  // The declared ports are the metrics ports, for annotation-based scraping.
  EXPECT_EQ(pod["metadata"]["annotations"]["prometheus.io/scrape"].as<std::string>(), "true");
  EXPECT_EQ(pod["metadata"]["annotations"]["prometheus.io/path"].as<std::string>(), "/metrics");
  std::set<int> declared, metrics = {c->metrics.coordinator_port};
  for (const YAML::Node& p : container["ports"]) declared.insert(p["containerPort"].as<int>());
  for (size_t k = 0; k < gpus; ++k) metrics.insert(c->metrics.worker_port_base + k);
  EXPECT_EQ(declared, metrics);

  EXPECT_TRUE(container["readinessProbe"]["exec"]) << "readiness: ready.sh";
  std::set<std::string> mounts;
  for (const YAML::Node& m : container["volumeMounts"])
    mounts.insert(m["mountPath"].as<std::string>());
  EXPECT_TRUE(mounts.count("/etc/skipjoin"));       // cluster.yaml, start.sh, ready.sh
  EXPECT_TRUE(mounts.count("/etc/skipjoin-keys"));  // the Secret, copied by start.sh
  EXPECT_TRUE(mounts.count("/var/lib/skipjoin"));   // keys_dir's volume
}

TEST_F(K8sManifest, ScriptsInTheConfigMapParse) {
  if (!HaveBash()) GTEST_SKIP() << "no bash";
  TempDir tmp;
  ASSERT_FALSE(tmp.path().empty());
  for (const char* name : {"start.sh", "ready.sh"}) {
    const std::string text = ConfigMapEntry(name);
    ASSERT_FALSE(text.empty()) << name;
    WriteFile(tmp.path() / name, text);
    EXPECT_EQ(BashSyntaxCheck(tmp.path() / name), 0) << name;
  }
  // start.sh launches the node its pod ordinal names, from the mounted config.
  const std::string start = ConfigMapEntry("start.sh");
  EXPECT_NE(start.find("node=gpu-${HOSTNAME##*-}"), std::string::npos);
  EXPECT_NE(start.find("skipjoin launch /etc/skipjoin/cluster.yaml --node \"$node\""),
            std::string::npos);
}

// ---- Slurm: docs/deploy/slurm/skipjoin.sbatch ----

class SlurmScript : public ::testing::Test {
 protected:
  void SetUp() override {
    ASSERT_FALSE(SourceDir().empty()) << "ctest sets SKIPJOIN_SOURCE_DIR";
    script_ = SourceDir() + "/docs/deploy/slurm/skipjoin.sbatch";
    ASSERT_TRUE(fs::exists(script_)) << script_;
    if (!HaveBash()) GTEST_SKIP() << "no bash";
    ASSERT_FALSE(tmp_.path().empty());
    // Stands in for Slurm's scontrol: the two nodes of this node list.
    WriteFile(tmp_.path() / "scontrol",
              "#!/bin/sh\n"
              "[ \"$1 $2 $3\" = 'show hostnames gpu-node-[017-018]' ] || exit 1\n"
              "printf 'gpu-node-017\\ngpu-node-018\\n'\n");
    fs::permissions(tmp_.path() / "scontrol", fs::perms::owner_all);
  }

  // Runs the script up to the config it writes; the exit status.
  int WriteConfig(const std::string& env, const fs::path& shared) {
    const std::string cmd =
        "env PATH=" + ShellQuote(tmp_.path().string()) +
        ":\"$PATH\" SLURM_JOB_ID=42 'SLURM_JOB_NODELIST=gpu-node-[017-018]' " +
        "SKIPJOIN_CONFIG_ONLY=1 SKIPJOIN_SHARED=" + ShellQuote(shared.string()) + " " + env +
        " bash " + ShellQuote(script_) + " >/dev/null 2>&1";
    return std::system(cmd.c_str());
  }

  std::string script_;
  TempDir tmp_;
};

TEST_F(SlurmScript, Parses) { EXPECT_EQ(BashSyntaxCheck(script_), 0); }

TEST_F(SlurmScript, WritesTheConfigOfTheAllocation) {
  const fs::path shared = tmp_.path() / "job 42";  // a space, to check the quoting
  ASSERT_EQ(WriteConfig("", shared), 0);
  Result<ClusterConfig> c = LoadClusterConfig((shared / "cluster.yaml").string());
  ASSERT_TRUE(c.ok()) << c.status().ToString() << "\n" << ReadFile(shared / "cluster.yaml");
  EXPECT_EQ(c->name, "skipjoin-slurm");
  EXPECT_EQ(c->coordinator.node, "gpu-0");
  EXPECT_EQ(c->coordinator.host, "gpu-node-017");
  EXPECT_EQ(c->coordinator.bind, "0.0.0.0");
  EXPECT_FALSE(c->coordinator.api_key.has_value());
  ASSERT_EQ(c->nodes.size(), 2u);
  EXPECT_EQ(c->nodes[0].name, "gpu-0");
  EXPECT_EQ(c->nodes[0].host, "gpu-node-017");
  EXPECT_EQ(c->nodes[1].name, "gpu-1");
  EXPECT_EQ(c->nodes[1].host, "gpu-node-018");
  for (const NodeConfig& n : c->nodes) {
    EXPECT_EQ(n.bind, "0.0.0.0");
    ASSERT_EQ(n.devices.size(), 8u);
    EXPECT_EQ(n.devices[7].kind, DeviceKind::kCuda);
    EXPECT_EQ(n.devices[7].index, 7u);
  }
  ASSERT_EQ(c->replicas.size(), 16u);  // tp=1 by default: one per GPU
  EXPECT_EQ(c->replicas[8].devices[0].ToString(), "gpu-1:cuda:0");
  EXPECT_EQ(c->model.path, "/models/Llama-3.1-8B-Instruct");
  EXPECT_EQ(c->security.keys_dir, (shared / "keys").string());
}

TEST_F(SlurmScript, SettingsReachTheConfig) {
  const fs::path shared = tmp_.path() / "s";
  ASSERT_EQ(WriteConfig("SKIPJOIN_TP=8 SKIPJOIN_HOST_SUFFIX=.ib SKIPJOIN_MODEL=/m/x.gguf "
                        "SKIPJOIN_KEYS=/shared/keys \"SKIPJOIN_API_KEY=it's: #secret\"",
                        shared),
            0);
  Result<ClusterConfig> c = LoadClusterConfig((shared / "cluster.yaml").string());
  ASSERT_TRUE(c.ok()) << c.status().ToString() << "\n" << ReadFile(shared / "cluster.yaml");
  ExpectOneTp8ReplicaPerNode(*c);
  EXPECT_EQ(c->coordinator.host, "gpu-node-017.ib");
  EXPECT_EQ(c->nodes[1].host, "gpu-node-018.ib");
  EXPECT_EQ(c->model.path, "/m/x.gguf");
  EXPECT_EQ(c->security.keys_dir, "/shared/keys");
  EXPECT_EQ(c->coordinator.api_key, "it's: #secret");
}

TEST_F(SlurmScript, RefusesATensorParallelSizeThatSplitsANode) {
  EXPECT_NE(WriteConfig("SKIPJOIN_TP=3", tmp_.path() / "bad"), 0);
  EXPECT_FALSE(fs::exists(tmp_.path() / "bad" / "cluster.yaml"));
}

}  // namespace
}  // namespace skipjoin::config
