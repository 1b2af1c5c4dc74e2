#include "common/config/cluster_config.h"

#include <yaml-cpp/yaml.h>

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <fstream>
#include <map>
#include <set>
#include <sstream>

#include "common/config/overrides.h"
#include "common/config/sections.h"
#include "common/config/yaml_reader.h"

namespace skipjoin::config {

using internal::ErrorAt;
using internal::MapReader;

const char* SchedulerPolicyName(SchedulerPolicy policy) {
  switch (policy) {
    case SchedulerPolicy::kMlfq:
      return "mlfq";
    case SchedulerPolicy::kFcfs:
      return "fcfs";
  }
  return "unknown";
}

std::string DeviceRef::ToString() const {
  return node + ":" + DeviceKindName(kind) + ":" + std::to_string(index);
}

const NodeConfig* ClusterConfig::FindNode(std::string_view name) const {
  for (const NodeConfig& n : nodes) {
    if (n.name == name) return &n;
  }
  return nullptr;
}

std::string CacheRoot() {
  if (const char* cache = std::getenv("SKIPJOIN_CACHE"); cache != nullptr && *cache != '\0')
    return cache;
  const char* home = std::getenv("HOME");
  return std::string(home != nullptr ? home : ".") + "/.cache/skipjoin";
}

std::string DefaultModelPath() { return CacheRoot() + "/models/SmolLM2-135M-Instruct.Q4_1.gguf"; }

std::string DefaultCostModelDir() { return CacheRoot() + "/cost_models"; }

const char* AuthModeName(AuthMode mode) {
  switch (mode) {
    case AuthMode::kCurve:
      return "curve";
    case AuthMode::kNone:
      return "none";
  }
  return "?";
}

std::string KeysDirFor(const ClusterConfig& config) {
  if (!config.security.keys_dir.empty()) return config.security.keys_dir;
  return CacheRoot() + "/keys/" + config.name;
}

std::string ClusterId(const ClusterConfig& c) {
  // FNV-1a over a canonical text of the topology.
  std::string text = c.name + "|" + c.coordinator.host + "|" +
                     std::to_string(c.coordinator.worker_port) + "|" +
                     std::to_string(c.coordinator.client_port);
  for (const NodeConfig& n : c.nodes) {
    text += "|node " + n.name + "@" + n.host;
    for (const DeviceConfig& d : n.devices)
      text += " " + std::string(DeviceKindName(d.kind)) + ":" + std::to_string(d.index);
  }
  for (const ReplicaConfig& r : c.replicas) {
    text += "|replica " + r.name + " tp" + std::to_string(r.tp);
    for (const DeviceRef& d : r.devices) text += " " + d.ToString();
  }
  uint64_t h = 1469598103934665603ull;
  for (unsigned char ch : text) {
    h ^= ch;
    h *= 1099511628211ull;
  }
  char hex[17];
  std::snprintf(hex, sizeof(hex), "%016llx", static_cast<unsigned long long>(h));
  return c.name + "/" + hex;
}

namespace {

class Parser {
 public:
  explicit Parser(const std::string& source) : source_(source) {}

  Status Parse(const YAML::Node& root, ClusterConfig* c) {
    if (!root.IsMap()) return ErrorAt(source_, root, "", "the file must be a map of sections");
    MapReader top(source_, root, "");
    SJ_RETURN_IF_ERROR(top.status());
    SJ_RETURN_IF_ERROR(top.Required("name", &c->name));
    SJ_RETURN_IF_ERROR(ParseNodes(top, c));
    SJ_RETURN_IF_ERROR(ParseCoordinator(top, c));
    SJ_RETURN_IF_ERROR(ParseModel(top, c));
    SJ_RETURN_IF_ERROR(ParseScheduler(top, c));
    SJ_RETURN_IF_ERROR(ParseKv(top, c));
    SJ_RETURN_IF_ERROR(ParseMetrics(top, c));
    SJ_RETURN_IF_ERROR(ParseHeartbeat(top, c));
    SJ_RETURN_IF_ERROR(ParseSecurity(top, c));
    SJ_RETURN_IF_ERROR(ParseMonitoring(top, c));
    SJ_RETURN_IF_ERROR(
        internal::ParseSupervision(source_, top.Get("supervision"), &c->supervision));
    SJ_RETURN_IF_ERROR(ParseReplicas(top, c));
    SJ_RETURN_IF_ERROR(top.Finish());
    if (c->name.empty()) return ErrorAt(source_, top.Get("name"), "name", "must not be empty");
    return ValidatePorts(c);
  }

 private:
  Status Positive(MapReader& r, std::string_view key, double v) {
    if (v > 0) return Status::Ok();
    return ErrorAt(source_, r.Has(key) ? r.Get(key) : r.node(), r.Child(key),
                   "must be greater than 0");
  }

  Status ParseKind(const YAML::Node& n, const std::string& path, DeviceKind* out) {
    std::string s;
    SJ_RETURN_IF_ERROR(internal::ParseString(source_, n, path, &s));
    if (s == "cpu") return *out = DeviceKind::kCpu, Status::Ok();
    if (s == "cuda") return *out = DeviceKind::kCuda, Status::Ok();
    return ErrorAt(source_, n, path, "unknown device kind '" + s + "' (expected cpu or cuda)");
  }

  Status ParseNodes(MapReader& top, ClusterConfig* c) {
    YAML::Node nodes = top.Get("nodes");
    if (!nodes.IsDefined() || nodes.IsNull())
      return ErrorAt(source_, top.node(), "", "missing required key 'nodes'");
    if (!nodes.IsSequence() || nodes.size() == 0)
      return ErrorAt(source_, nodes, "nodes", "expected a non-empty list of nodes");
    for (size_t i = 0; i < nodes.size(); ++i) {
      MapReader r(source_, nodes[i], "nodes[" + std::to_string(i) + "]");
      SJ_RETURN_IF_ERROR(r.status());
      NodeConfig node;
      SJ_RETURN_IF_ERROR(r.Required("name", &node.name));
      SJ_RETURN_IF_ERROR(r.Required("host", &node.host));
      SJ_RETURN_IF_ERROR(
          internal::ReadHost(source_, r, "host", internal::HostRole::kAdvertise, &node.host));
      if (r.Has("bind")) nodes_with_bind_.insert(node.name);
      node.bind = node.host;
      SJ_RETURN_IF_ERROR(
          internal::ReadHost(source_, r, "bind", internal::HostRole::kBind, &node.bind));
      if (c->FindNode(node.name) != nullptr) {
        return ErrorAt(source_, r.Get("name"), r.Child("name"),
                       "duplicate node name '" + node.name + "'");
      }
      YAML::Node devices = r.Get("devices");
      if (!devices.IsSequence() || devices.size() == 0) {
        return ErrorAt(source_, devices.IsDefined() ? devices : nodes[i], r.Child("devices"),
                       "expected a non-empty list of devices");
      }
      for (size_t d = 0; d < devices.size(); ++d) {
        MapReader dr(source_, devices[d], r.Child("devices") + "[" + std::to_string(d) + "]");
        SJ_RETURN_IF_ERROR(dr.status());
        DeviceConfig dev;
        if (!dr.Has("kind"))
          return ErrorAt(source_, devices[d], dr.path(), "missing required key 'kind'");
        SJ_RETURN_IF_ERROR(ParseKind(dr.Get("kind"), dr.Child("kind"), &dev.kind));
        SJ_RETURN_IF_ERROR(dr.Optional("index", &dev.index));
        SJ_RETURN_IF_ERROR(dr.Optional("threads", &dev.threads));
        SJ_RETURN_IF_ERROR(dr.Finish());
        for (const DeviceConfig& other : node.devices) {
          if (other.kind == dev.kind && other.index == dev.index) {
            return ErrorAt(source_, devices[d], dr.path(),
                           std::string("duplicate device ") + DeviceKindName(dev.kind) + ":" +
                               std::to_string(dev.index));
          }
        }
        node.devices.push_back(dev);
      }
      SJ_RETURN_IF_ERROR(r.Finish());
      c->nodes.push_back(std::move(node));
    }
    return Status::Ok();
  }

  Status ParseCoordinator(MapReader& top, ClusterConfig* c) {
    MapReader r(source_, top.Get("coordinator"), "coordinator");
    SJ_RETURN_IF_ERROR(r.status());
    CoordinatorConfig& co = c->coordinator;
    co.node = c->nodes[0].name;
    SJ_RETURN_IF_ERROR(r.Optional("node", &co.node));
    const NodeConfig* node = c->FindNode(co.node);
    if (node == nullptr)
      return ErrorAt(source_, r.Get("node"), "coordinator.node", "unknown node '" + co.node + "'");
    co.host = node->host;
    SJ_RETURN_IF_ERROR(
        internal::ReadHost(source_, r, "host", internal::HostRole::kAdvertise, &co.host));
    co.bind = nodes_with_bind_.count(node->name) != 0 ? node->bind : co.host;
    SJ_RETURN_IF_ERROR(internal::ReadHost(source_, r, "bind", internal::HostRole::kBind, &co.bind));
    SJ_RETURN_IF_ERROR(r.Optional("http_port", &co.http_port));
    SJ_RETURN_IF_ERROR(r.Optional("client_port", &co.client_port));
    SJ_RETURN_IF_ERROR(r.Optional("worker_port", &co.worker_port));
    SJ_RETURN_IF_ERROR(r.Optional("api_key", &co.api_key));
    if (co.api_key && co.api_key->empty()) {
      return ErrorAt(source_, r.Get("api_key"), "coordinator.api_key",
                     "must not be empty (omit it to disable)");
    }
    SJ_RETURN_IF_ERROR(internal::ReadCorsOrigins(source_, r.Get("cors_origins"), &co.cors_origins));
    SJ_RETURN_IF_ERROR(r.Optional("stats_log_interval_s", &co.stats_log_interval_s));
    if (!(co.stats_log_interval_s >= 0) || co.stats_log_interval_s > 86400) {
      return ErrorAt(source_, r.Get("stats_log_interval_s"), "coordinator.stats_log_interval_s",
                     "must be 0 (off) or seconds up to 86400");
    }
    ports_.push_back({"coordinator.http_port", co.http_port, r.Get("http_port")});
    ports_.push_back({"coordinator.client_port", co.client_port, r.Get("client_port")});
    ports_.push_back({"coordinator.worker_port", co.worker_port, r.Get("worker_port")});
    MapReader lr(source_, r.Get("limits"), "coordinator.limits");
    SJ_RETURN_IF_ERROR(lr.status());
    SJ_RETURN_IF_ERROR(lr.Optional("max_body_bytes", &co.limits.max_body_bytes));
    SJ_RETURN_IF_ERROR(lr.Optional("max_tokens_default", &co.limits.max_tokens_default));
    SJ_RETURN_IF_ERROR(lr.Optional("max_tokens_limit", &co.limits.max_tokens_limit));
    SJ_RETURN_IF_ERROR(lr.Optional("max_pending_requests", &co.limits.max_pending_requests));
    SJ_RETURN_IF_ERROR(lr.Optional("max_pending_tokens", &co.limits.max_pending_tokens));
    SJ_RETURN_IF_ERROR(lr.Optional("max_queue_seconds", &co.limits.max_queue_seconds));
    SJ_RETURN_IF_ERROR(Positive(lr, "max_body_bytes", co.limits.max_body_bytes));
    SJ_RETURN_IF_ERROR(Positive(lr, "max_tokens_default", co.limits.max_tokens_default));
    SJ_RETURN_IF_ERROR(Positive(lr, "max_pending_requests", co.limits.max_pending_requests));
    SJ_RETURN_IF_ERROR(Positive(lr, "max_pending_tokens", co.limits.max_pending_tokens));
    if (co.limits.max_queue_seconds &&
        !(*co.limits.max_queue_seconds > 0 && std::isfinite(*co.limits.max_queue_seconds))) {
      return ErrorAt(
          source_, lr.Get("max_queue_seconds"), "coordinator.limits",
          "max_queue_seconds must be a positive number of seconds (omit it for no limit)");
    }
    if (co.limits.max_tokens_limit < co.limits.max_tokens_default) {
      return ErrorAt(source_,
                     lr.Get("max_tokens_limit").IsDefined() ? lr.Get("max_tokens_limit")
                                                            : lr.Get("max_tokens_default"),
                     "coordinator.limits", "max_tokens_limit must be at least max_tokens_default");
    }
    SJ_RETURN_IF_ERROR(lr.Finish());
    return r.Finish();
  }

  Status ParseModel(MapReader& top, ClusterConfig* c) {
    if (!top.Has("model")) return ErrorAt(source_, top.node(), "", "missing required key 'model'");
    MapReader r(source_, top.Get("model"), "model");
    SJ_RETURN_IF_ERROR(r.status());
    ModelConfig& m = c->model;
    SJ_RETURN_IF_ERROR(r.Required("path", &m.path));
    if (m.path.empty()) return ErrorAt(source_, r.Get("path"), "model.path", "must not be empty");
    if (m.path == "default") m.path = DefaultModelPath();
    std::string stem = m.path;
    while (!stem.empty() && stem.back() == '/') stem.pop_back();
    stem =
        stem.substr(stem.find_last_of('/') == std::string::npos ? 0 : stem.find_last_of('/') + 1);
    if (stem.size() > 5 && stem.ends_with(".gguf")) stem.resize(stem.size() - 5);
    m.name = stem;
    SJ_RETURN_IF_ERROR(r.Optional("name", &m.name));
    if (m.name.empty()) return ErrorAt(source_, r.Get("name"), "model.name", "must not be empty");
    if (YAML::Node aliases = r.Get("aliases"); aliases.IsDefined() && !aliases.IsNull()) {
      if (!aliases.IsSequence()) {
        return ErrorAt(source_, aliases, "model.aliases", "expected a list of model ids");
      }
      for (size_t i = 0; i < aliases.size(); ++i) {
        const std::string where = "model.aliases[" + std::to_string(i) + "]";
        std::string alias;
        SJ_RETURN_IF_ERROR(internal::ParseString(source_, aliases[i], where, &alias));
        if (alias.empty()) return ErrorAt(source_, aliases[i], where, "must not be empty");
        if (alias == m.name ||
            std::find(m.aliases.begin(), m.aliases.end(), alias) != m.aliases.end()) {
          return ErrorAt(source_, aliases[i], where,
                         "'" + alias + "' is already a name of the model");
        }
        m.aliases.push_back(alias);
      }
    }
    SJ_RETURN_IF_ERROR(r.Optional("dtype", &m.dtype));
    if (m.dtype != "auto" && m.dtype != "f32" && m.dtype != "f16" && m.dtype != "bf16") {
      return ErrorAt(source_, r.Get("dtype"), "model.dtype",
                     "unknown dtype '" + m.dtype + "' (expected auto, f32, f16 or bf16)");
    }
    SJ_RETURN_IF_ERROR(r.Optional("max_context", &m.max_context));
    if (m.max_context && *m.max_context == 0) return Positive(r, "max_context", 0);
    return r.Finish();
  }

  Status ParseScheduler(MapReader& top, ClusterConfig* c) {
    MapReader r(source_, top.Get("scheduler"), "scheduler");
    SJ_RETURN_IF_ERROR(r.status());
    SchedulerConfig& s = c->scheduler;
    std::string policy = SchedulerPolicyName(s.policy);
    SJ_RETURN_IF_ERROR(r.Optional("policy", &policy));
    if (policy == "mlfq") {
      s.policy = SchedulerPolicy::kMlfq;
    } else if (policy == "fcfs") {
      s.policy = SchedulerPolicy::kFcfs;
    } else {
      return ErrorAt(source_, r.Get("policy"), "scheduler.policy",
                     "unknown policy '" + policy + "' (expected mlfq or fcfs)");
    }
    SJ_RETURN_IF_ERROR(r.Optional("token_budget", &s.token_budget));
    if (s.token_budget > 1048576) {
      return ErrorAt(source_, r.Get("token_budget"), "scheduler.token_budget",
                     "must be at most 1048576 (0 derives it from the cost model)");
    }
    SJ_RETURN_IF_ERROR(r.Optional("max_running", &s.max_running));
    SJ_RETURN_IF_ERROR(Positive(r, "max_running", s.max_running));
    SJ_RETURN_IF_ERROR(r.Optional("tbt_target_ms", &s.tbt_target_ms));
    SJ_RETURN_IF_ERROR(Positive(r, "tbt_target_ms", s.tbt_target_ms));
    SJ_RETURN_IF_ERROR(r.Optional("cost_model_dir", &s.cost_model_dir));
    SJ_RETURN_IF_ERROR(r.Optional("step_trace", &s.step_trace));
    if (r.Has("max_stall_ms")) {
      double stall = 0;
      SJ_RETURN_IF_ERROR(r.Optional("max_stall_ms", &stall));
      if (!(stall >= 0) || stall > 3.6e6) {
        return ErrorAt(source_, r.Get("max_stall_ms"), "scheduler.max_stall_ms",
                       "must be between 0 (off) and 3600000 ms");
      }
      s.max_stall_ms = stall;
    }
    SJ_RETURN_IF_ERROR(r.Optional("steps_in_flight", &s.steps_in_flight));
    if (s.steps_in_flight < 1 || s.steps_in_flight > 2) {
      return ErrorAt(source_, r.Get("steps_in_flight"), "scheduler.steps_in_flight",
                     "must be 1 (wait for each step) or 2 (plan the next step while one runs)");
    }
    MapReader mr(source_, r.Get("mlfq"), "scheduler.mlfq");
    SJ_RETURN_IF_ERROR(mr.status());
    SJ_RETURN_IF_ERROR(mr.Optional("levels", &s.mlfq.levels));
    if (s.mlfq.levels < 1 || s.mlfq.levels > 32) {
      return ErrorAt(source_, mr.Get("levels"), "scheduler.mlfq.levels",
                     "must be between 1 and 32");
    }
    SJ_RETURN_IF_ERROR(mr.Optional("quantum_base_ms", &s.mlfq.quantum_base_ms));
    SJ_RETURN_IF_ERROR(Positive(mr, "quantum_base_ms", s.mlfq.quantum_base_ms));
    SJ_RETURN_IF_ERROR(mr.Optional("quantum_ratio", &s.mlfq.quantum_ratio));
    if (s.mlfq.quantum_ratio < 1) {
      return ErrorAt(source_, mr.Get("quantum_ratio"), "scheduler.mlfq.quantum_ratio",
                     "must be at least 1");
    }
    SJ_RETURN_IF_ERROR(mr.Optional("starvation_ms", &s.mlfq.starvation_ms));
    SJ_RETURN_IF_ERROR(Positive(mr, "starvation_ms", s.mlfq.starvation_ms));
    SJ_RETURN_IF_ERROR(mr.Finish());
    MapReader sr(source_, r.Get("swap"), "scheduler.swap");
    SJ_RETURN_IF_ERROR(sr.status());
    SJ_RETURN_IF_ERROR(sr.Optional("reserve_blocks", &s.swap.reserve_blocks));
    SJ_RETURN_IF_ERROR(sr.Optional("no_ping_pong_steps", &s.swap.no_ping_pong_steps));
    SJ_RETURN_IF_ERROR(sr.Optional("debt_share", &s.swap.debt_share));
    if (!(s.swap.debt_share >= 0 && s.swap.debt_share <= 1)) {
      return ErrorAt(source_, sr.Get("debt_share"), "scheduler.swap.debt_share",
                     "must be between 0 (new jobs use free memory only) and 1");
    }
    SJ_RETURN_IF_ERROR(sr.Optional("victim_order", &s.swap.victim_order));
    if (s.swap.victim_order != "mlfq" && s.swap.victim_order != "enst") {
      return ErrorAt(source_, sr.Get("victim_order"), "scheduler.swap.victim_order",
                     "unknown order '" + s.swap.victim_order + "' (expected mlfq or enst)");
    }
    SJ_RETURN_IF_ERROR(sr.Finish());
    return r.Finish();
  }

  Status ParseKv(MapReader& top, ClusterConfig* c) {
    MapReader r(source_, top.Get("kv"), "kv");
    SJ_RETURN_IF_ERROR(r.status());
    KvConfig& kv = c->kv;
    SJ_RETURN_IF_ERROR(r.Optional("block_size", &kv.block_size));
    if (kv.block_size == 0 || kv.block_size > 1024 || (kv.block_size & (kv.block_size - 1)) != 0) {
      return ErrorAt(source_, r.Get("block_size"), "kv.block_size",
                     "must be a power of two between 1 and 1024");
    }
    SJ_RETURN_IF_ERROR(r.Optional("device_memory_fraction", &kv.device_memory_fraction));
    if (!(kv.device_memory_fraction > 0 && kv.device_memory_fraction <= 1)) {
      return ErrorAt(source_, r.Get("device_memory_fraction"), "kv.device_memory_fraction",
                     "must be in (0, 1]");
    }
    if (r.Has("host_swap_bytes") && r.Has("host_swap_gib")) {
      return ErrorAt(source_, r.Get("host_swap_gib"), "kv",
                     "set host_swap_bytes or host_swap_gib, not both");
    }
    SJ_RETURN_IF_ERROR(r.Optional("host_swap_bytes", &kv.host_swap_bytes));
    if (r.Has("host_swap_gib")) {
      double gib = 0;
      SJ_RETURN_IF_ERROR(r.Optional("host_swap_gib", &gib));
      if (gib < 0 || gib > 1 << 20)
        return ErrorAt(source_, r.Get("host_swap_gib"), "kv.host_swap_gib",
                       "must be in [0, 1048576]");
      kv.host_swap_bytes = static_cast<uint64_t>(gib * double(1ull << 30));
    }
    SJ_RETURN_IF_ERROR(r.Optional("num_device_blocks", &kv.num_device_blocks));
    if (kv.num_device_blocks && *kv.num_device_blocks == 0)
      return Positive(r, "num_device_blocks", 0);
    return r.Finish();
  }

  Status ParseMetrics(MapReader& top, ClusterConfig* c) {
    MapReader r(source_, top.Get("metrics"), "metrics");
    SJ_RETURN_IF_ERROR(r.status());
    SJ_RETURN_IF_ERROR(r.Optional("coordinator_port", &c->metrics.coordinator_port));
    SJ_RETURN_IF_ERROR(r.Optional("worker_port_base", &c->metrics.worker_port_base));
    ports_.push_back(
        {"metrics.coordinator_port", c->metrics.coordinator_port, r.Get("coordinator_port")});
    worker_base_node_ = r.Get("worker_port_base");
    return r.Finish();
  }

  // Prometheus runs on the coordinator's node, so its port joins the
  // coordinator's in the clash checks when the file asks for Prometheus (on)
  // or sets the port. A config that says neither stays valid whatever its
  // ports: with auto and a clashing default, launch warns and runs without.
  Status ParseMonitoring(MapReader& top, ClusterConfig* c) {
    YAML::Node port;
    SJ_RETURN_IF_ERROR(
        internal::ParseMonitoring(source_, top.Get("monitoring"), &c->monitoring, &port));
    const PrometheusMode mode = c->monitoring.prometheus;
    if (mode == PrometheusMode::kOn || (mode == PrometheusMode::kAuto && port.IsDefined()))
      ports_.push_back({"monitoring.port", c->monitoring.port, port});
    return Status::Ok();
  }

  Status ParseHeartbeat(MapReader& top, ClusterConfig* c) {
    MapReader r(source_, top.Get("heartbeat"), "heartbeat");
    SJ_RETURN_IF_ERROR(r.status());
    SJ_RETURN_IF_ERROR(r.Optional("interval_ms", &c->heartbeat.interval_ms));
    SJ_RETURN_IF_ERROR(Positive(r, "interval_ms", c->heartbeat.interval_ms));
    SJ_RETURN_IF_ERROR(r.Optional("timeout_ms", &c->heartbeat.timeout_ms));
    if (c->heartbeat.timeout_ms <= c->heartbeat.interval_ms) {
      return ErrorAt(source_,
                     r.Get("timeout_ms").IsDefined() ? r.Get("timeout_ms") : r.Get("interval_ms"),
                     "heartbeat.timeout_ms", "must be greater than heartbeat.interval_ms");
    }
    return r.Finish();
  }

  Status ParseSecurity(MapReader& top, ClusterConfig* c) {
    MapReader r(source_, top.Get("security"), "security");
    SJ_RETURN_IF_ERROR(r.status());
    if (r.Has("auth")) {
      std::string mode;
      SJ_RETURN_IF_ERROR(internal::ParseString(source_, r.Get("auth"), "security.auth", &mode));
      if (mode == "curve") {
        c->security.auth = AuthMode::kCurve;
      } else if (mode == "none") {
        c->security.auth = AuthMode::kNone;
      } else {
        return ErrorAt(source_, r.Get("auth"), "security.auth",
                       "unknown mode '" + mode + "' (expected curve or none)");
      }
    }
    SJ_RETURN_IF_ERROR(r.Optional("keys_dir", &c->security.keys_dir));
    for (const NodeConfig& n : c->nodes) {
      if (n.name.empty() || n.name[0] == '.' || n.name.find('/') != std::string::npos) {
        return ErrorAt(
            source_, top.Get("nodes"), "nodes",
            "node name '" + n.name + "' cannot name its key file (no '/', no leading '.')");
      }
    }
    return r.Finish();
  }

  Result<DeviceRef> ParseRef(const YAML::Node& n, const std::string& path, const ClusterConfig& c) {
    std::string s;
    SJ_RETURN_IF_ERROR(internal::ParseString(source_, n, path, &s));
    size_t a = s.find(':');
    size_t b = a == std::string::npos ? a : s.find(':', a + 1);
    if (b == std::string::npos) {
      return ErrorAt(source_, n, path,
                     "device ref '" + s + "' is not node:kind:index (e.g. local:cpu:0)");
    }
    DeviceRef ref;
    ref.node = s.substr(0, a);
    std::string kind_s = s.substr(a + 1, b - a - 1);
    if (kind_s == "cpu")
      ref.kind = DeviceKind::kCpu;
    else if (kind_s == "cuda")
      ref.kind = DeviceKind::kCuda;
    else
      return ErrorAt(source_, n, path,
                     "unknown device kind '" + kind_s + "' in '" + s + "' (expected cpu or cuda)");
    const std::string idx = s.substr(b + 1);
    if (idx.empty() || idx.size() > 9 || idx.find_first_not_of("0123456789") != std::string::npos) {
      return ErrorAt(source_, n, path, "bad device index in '" + s + "'");
    }
    ref.index = static_cast<uint32_t>(std::stoul(idx));
    const NodeConfig* node = c.FindNode(ref.node);
    if (node == nullptr) return ErrorAt(source_, n, path, "unknown node '" + ref.node + "'");
    bool found = false;
    for (const DeviceConfig& d : node->devices) found |= d.kind == ref.kind && d.index == ref.index;
    if (!found)
      return ErrorAt(source_, n, path,
                     "node '" + ref.node + "' has no device " + kind_s + ":" + idx);
    return ref;
  }

  // replicas[].tp_comm: the CPU tensor-parallel collectives.
  Status ReadTpComm(MapReader& r, std::string* out) {
    SJ_RETURN_IF_ERROR(r.Optional("tp_comm", out));
    for (const char* ok : {"auto", "shm", "ring", "gloo", "tcp"}) {
      if (*out == ok) return Status::Ok();
    }
    return ErrorAt(source_, r.Get("tp_comm"), r.Child("tp_comm"),
                   "unknown '" + *out + "' (expected auto, shm, ring, gloo or tcp)");
  }

  Status ParseReplicas(MapReader& top, ClusterConfig* c) {
    YAML::Node rs = top.Get("replicas");
    if (!rs.IsDefined() || rs.IsNull())
      return ErrorAt(source_, top.node(), "", "missing required key 'replicas'");
    std::vector<YAML::Node> where;  // per replica, for the checks below
    if (rs.IsMap()) {
      MapReader r(source_, rs, "replicas");
      uint32_t count = 0, tp = 1;
      if (!r.Has("count")) return ErrorAt(source_, rs, "replicas", "missing required key 'count'");
      SJ_RETURN_IF_ERROR(r.Optional("count", &count));
      SJ_RETURN_IF_ERROR(Positive(r, "count", count));
      SJ_RETURN_IF_ERROR(r.Optional("tp", &tp));
      SJ_RETURN_IF_ERROR(Positive(r, "tp", tp));
      std::string tp_comm = "auto";
      SJ_RETURN_IF_ERROR(ReadTpComm(r, &tp_comm));
      SJ_RETURN_IF_ERROR(r.Finish());
      std::vector<DeviceRef> all;
      for (const NodeConfig& n : c->nodes) {
        for (const DeviceConfig& d : n.devices) all.push_back({n.name, d.kind, d.index});
      }
      if (uint64_t{count} * tp > all.size()) {
        return ErrorAt(source_, rs, "replicas",
                       std::to_string(count) + " replicas of tp " + std::to_string(tp) + " need " +
                           std::to_string(uint64_t{count} * tp) + " devices; the nodes have " +
                           std::to_string(all.size()));
      }
      for (uint32_t i = 0; i < count; ++i) {
        ReplicaConfig rep;
        rep.name = "replica-" + std::to_string(i);
        rep.tp = tp;
        rep.tp_comm = tp_comm;
        rep.devices.assign(all.begin() + i * tp, all.begin() + (i + 1) * tp);
        c->replicas.push_back(std::move(rep));
        where.push_back(rs);
      }
    } else if (rs.IsSequence() && rs.size() > 0) {
      for (size_t i = 0; i < rs.size(); ++i) {
        MapReader r(source_, rs[i], "replicas[" + std::to_string(i) + "]");
        SJ_RETURN_IF_ERROR(r.status());
        ReplicaConfig rep;
        rep.name = "replica-" + std::to_string(i);
        SJ_RETURN_IF_ERROR(r.Optional("name", &rep.name));
        SJ_RETURN_IF_ERROR(r.Optional("tp", &rep.tp));
        SJ_RETURN_IF_ERROR(Positive(r, "tp", rep.tp));
        SJ_RETURN_IF_ERROR(ReadTpComm(r, &rep.tp_comm));
        YAML::Node devs = r.Get("devices");
        if (!devs.IsSequence() || devs.size() == 0) {
          return ErrorAt(source_, devs.IsDefined() ? devs : rs[i], r.Child("devices"),
                         "expected a non-empty list of device refs (node:kind:index)");
        }
        for (size_t d = 0; d < devs.size(); ++d) {
          SJ_ASSIGN_OR_RETURN(
              DeviceRef ref,
              ParseRef(devs[d], r.Child("devices") + "[" + std::to_string(d) + "]", *c));
          rep.devices.push_back(std::move(ref));
        }
        if (rep.devices.size() != rep.tp) {
          return ErrorAt(source_, r.Has("tp") ? r.Get("tp") : devs, r.Child("tp"),
                         "tp is " + std::to_string(rep.tp) + " but the replica lists " +
                             std::to_string(rep.devices.size()) + " devices");
        }
        SJ_RETURN_IF_ERROR(r.Finish());
        for (const ReplicaConfig& other : c->replicas) {
          if (other.name == rep.name) {
            return ErrorAt(source_, r.Get("name"), r.Child("name"),
                           "duplicate replica name '" + rep.name + "'");
          }
        }
        c->replicas.push_back(std::move(rep));
        where.push_back(rs[i]);
      }
    } else {
      return ErrorAt(source_, rs, "replicas", "expected a list of replicas or {count, tp}");
    }
    // Each device serves one replica; one replica does not mix device kinds.
    std::map<std::string, std::string> owner;
    for (size_t i = 0; i < c->replicas.size(); ++i) {
      const ReplicaConfig& rep = c->replicas[i];
      if (rep.tp_comm == "shm") {
        for (const DeviceRef& d : rep.devices) {
          if (d.node != rep.devices[0].node) {
            return ErrorAt(source_, where[i], "replicas[" + std::to_string(i) + "].tp_comm",
                           "shm needs every rank on one node; " + d.ToString() + " is not on " +
                               rep.devices[0].node + " (use auto or ring)");
          }
        }
      }
      for (const DeviceRef& d : rep.devices) {
        if (d.kind != rep.devices[0].kind) {
          return ErrorAt(source_, where[i], rep.name, "a replica cannot mix cpu and cuda devices");
        }
        auto [it, inserted] = owner.emplace(d.ToString(), rep.name);
        if (!inserted) {
          return ErrorAt(
              source_, where[i], rep.name,
              "device " + d.ToString() + " is already used by replica '" + it->second + "'");
        }
      }
    }
    return Status::Ok();
  }

  // Coordinator ports are distinct, and worker metrics ports (base + k for the
  // k-th device of a node) stay in range and clear of them.
  Status ValidatePorts(const ClusterConfig* c) {
    for (const Port& p : ports_) {
      if (p.value == 0) return ErrorAt(source_, p.node, p.path, "port must be between 1 and 65535");
    }
    for (size_t i = 0; i < ports_.size(); ++i) {
      for (size_t j = 0; j < i; ++j) {
        if (ports_[i].value == ports_[j].value) {
          // Point at a port the file set, not at a default.
          const Port& at = ports_[i].node.IsDefined() ? ports_[i] : ports_[j];
          const Port& other = &at == &ports_[i] ? ports_[j] : ports_[i];
          return ErrorAt(source_, at.node, at.path,
                         "port " + std::to_string(at.value) + " is also " + other.path);
        }
      }
    }
    const std::string base_path = "metrics.worker_port_base";
    if (c->metrics.worker_port_base == 0)
      return ErrorAt(source_, worker_base_node_, base_path, "port must be between 1 and 65535");
    for (const NodeConfig& n : c->nodes) {
      const uint32_t last =
          uint32_t{c->metrics.worker_port_base} + static_cast<uint32_t>(n.devices.size()) - 1;
      if (last > 65535) {
        return ErrorAt(
            source_, worker_base_node_, base_path,
            "node '" + n.name + "' needs worker metrics ports up to " + std::to_string(last));
      }
      if (n.name != c->coordinator.node) continue;
      for (const Port& p : ports_) {
        if (p.value >= c->metrics.worker_port_base && p.value <= last) {
          return ErrorAt(source_, worker_base_node_, base_path,
                         "worker metrics ports " + std::to_string(c->metrics.worker_port_base) +
                             ".." + std::to_string(last) + " on node '" + n.name + "' overlap " +
                             p.path);
        }
      }
    }
    // A tensor-parallel replica's ranks meet at a TCP port on its rank-0 node:
    // coordinator.worker_port + 1 + the replica's index (WorkerHub). It must not
    // be a port something else on that node listens on.
    const Port* worker_port = nullptr;
    for (const Port& p : ports_) {
      if (p.path == "coordinator.worker_port") worker_port = &p;
    }
    for (size_t r = 0; r < c->replicas.size(); ++r) {
      const ReplicaConfig& rc = c->replicas[r];
      if (rc.tp <= 1 || rc.devices.empty() || worker_port == nullptr) continue;
      const uint32_t port = uint32_t{c->coordinator.worker_port} + 1 + static_cast<uint32_t>(r);
      const std::string& node = rc.devices[0].node;
      const NodeConfig* n = c->FindNode(node);
      std::string clash;
      if (port > 65535) clash = "beyond 65535";
      if (node == c->coordinator.node) {
        for (const Port& p : ports_) {
          if (p.value == port) clash = "also " + p.path;
        }
      }
      if (n != nullptr && port >= c->metrics.worker_port_base &&
          port < uint32_t{c->metrics.worker_port_base} + n->devices.size()) {
        clash = "also a worker metrics port (metrics.worker_port_base + k)";
      }
      if (!clash.empty()) {
        return ErrorAt(source_, worker_port->node, worker_port->path,
                       "replica '" + rc.name + "' (tp=" + std::to_string(rc.tp) +
                           ") meets its ranks on port " + std::to_string(port) + " of node '" +
                           node + "' (coordinator.worker_port + 1 + replica index), which is " +
                           clash);
      }
    }
    return Status::Ok();
  }

  struct Port {
    std::string path;
    uint16_t value;
    YAML::Node node;  // where it was set, or undefined for a default
  };

  const std::string& source_;
  std::vector<Port> ports_;
  YAML::Node worker_base_node_;
  std::set<std::string> nodes_with_bind_;  // nodes whose `bind` the file sets
};

}  // namespace

Result<ClusterConfig> ParseClusterConfig(std::string_view yaml, const std::string& source,
                                         const std::vector<std::string>& overrides) {
  YAML::Node root;
  try {
    root = YAML::Load(std::string(yaml));
  } catch (const YAML::Exception& e) {
    return InvalidArgument(source + ":" + std::to_string(e.mark.line + 1) +
                           ": invalid YAML: " + e.msg);
  }
  for (const std::string& o : overrides) SJ_RETURN_IF_ERROR(internal::ApplyOverride(&root, o));
  ClusterConfig config;
  config.source = source;
  Parser parser(source);
  SJ_RETURN_IF_ERROR(parser.Parse(root, &config));
  return config;
}

Result<ClusterConfig> LoadClusterConfig(const std::string& path,
                                        const std::vector<std::string>& overrides) {
  std::ifstream in(path, std::ios::binary);
  if (!in) return NotFound("cannot open cluster config '" + path + "'");
  std::ostringstream text;
  text << in.rdbuf();
  if (!in.good() && !in.eof()) return DataLoss("cannot read cluster config '" + path + "'");
  return ParseClusterConfig(text.str(), path, overrides);
}

}  // namespace skipjoin::config
