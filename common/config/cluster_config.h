// The cluster config: one YAML file that says which nodes and devices exist,
// which model they serve, how they form replicas, and how the coordinator
// schedules. docs/CONFIGURATION.md documents every key, its unit and default.
//
// Loading is strict: unknown keys (typos), wrong types, out-of-range values and
// inconsistent references are errors formatted "file:line: key.path: what is
// wrong" (line numbers are 1-based; values that came from a --set override say
// "command line" instead of file:line).
//
// Value types; thread-compatible. Loading reads the file and, for model.path
// "default", the environment (SKIPJOIN_CACHE, HOME).
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "common/config/monitoring_config.h"
#include "common/config/supervision_config.h"
#include "common/serving_types.h"
#include "common/status.h"

namespace skipjoin::config {

using skipjoin::DeviceKind;  // YAML: cpu, cuda
using skipjoin::DeviceKindName;

struct DeviceConfig {
  DeviceKind kind = DeviceKind::kCpu;
  uint32_t index = 0;    // CUDA ordinal, or the CPU worker slot (unique per node and kind)
  uint32_t threads = 0;  // CPU compute threads for this worker; 0 = the worker decides
};

struct NodeConfig {
  std::string name;  // referred to by coordinator.node and replica device refs
  std::string host;  // address other nodes reach this node at (an IPv4 address or host name)
  // Address this node's worker metrics servers bind; "0.0.0.0" = every
  // interface. Default: host.
  std::string bind;
  std::vector<DeviceConfig> devices;
};

// "node:kind:index", e.g. "gpu-a:cuda:3" or "local:cpu:0".
struct DeviceRef {
  std::string node;
  DeviceKind kind = DeviceKind::kCpu;
  uint32_t index = 0;
  std::string ToString() const;
  bool operator==(const DeviceRef&) const = default;
};

struct ReplicaConfig {
  std::string name;                // unique; default "replica-<i>"
  uint32_t tp = 1;                 // tensor-parallel size == devices.size()
  std::vector<DeviceRef> devices;  // device i runs TP rank i
  // CPU tensor-parallel collectives: "auto" (shared memory when every rank is
  // on one node, else the TCP ring), "shm", "ring", "gloo" or "tcp" (the star
  // through rank 0); worker/process/comm_connect.h.
  std::string tp_comm = "auto";
};

struct RequestLimits {
  uint64_t max_body_bytes = 1u << 20;  // HTTP request body, bytes
  uint32_t max_tokens_default = 256;   // when a request does not say
  uint32_t max_tokens_limit = 4096;    // largest max_tokens a request may ask for
  // Admission: requests (each choice of n counts) and their prompt tokens
  // accepted and not yet ended; past either, a request gets 429 (HTTP) or
  // kResourceExhausted (native) at once, before it is tokenized.
  uint32_t max_pending_requests = 1024;
  uint64_t max_pending_tokens = 1u << 20;
  // A request still waiting for its first step after this long fails with
  // 429 / kResourceExhausted; unset: no limit.
  std::optional<double> max_queue_seconds;
};

// `host` is what others dial; `bind` is where the HTTP, native, worker and
// metrics ports (and Prometheus, on that node) listen, by default the
// coordinator node's `bind` when the file sets one, else `host`.
struct CoordinatorConfig {
  std::string node;             // the node that runs the coordinator; default: the first node
  std::string host;             // address workers and clients connect to; default: that node's host
  std::string bind;             // address its ports bind ("0.0.0.0": every interface); see above
  uint16_t http_port = 8000;    // OpenAI-compatible HTTP API
  uint16_t client_port = 5555;  // native client protocol (ZeroMQ ROUTER)
  uint16_t worker_port = 5556;  // workers (ZeroMQ ROUTER)
  std::optional<std::string> api_key;  // required as "Authorization: Bearer <key>" when set
  // Browser origins the HTTP API allows (CORS): "http[s]://host[:port]" in
  // lower case, or just "*" for any. Empty: CORS off, no Access-Control-* headers.
  std::vector<std::string> cors_origins;
  // Seconds between the coordinator's throughput log lines (written only
  // when work was done since the last one); 0: none.
  double stats_log_interval_s = 10;
  RequestLimits limits;
};

struct ModelConfig {
  std::string path;  // .gguf file or HF directory; "default" resolves to DefaultModelPath()
  std::string name;  // served model id; default: file name without extension
  // More ids requests may name (served_model_name in vLLM); responses carry
  // the id the request used. Distinct, non-empty, none equal to name.
  std::vector<std::string> aliases;
  std::string dtype = "auto";           // compute dtype: auto, f32, f16, bf16
  std::optional<uint32_t> max_context;  // tokens; default: the model's own
};

enum class SchedulerPolicy { kMlfq, kFcfs };  // YAML: mlfq, fcfs
const char* SchedulerPolicyName(SchedulerPolicy policy);

struct MlfqConfig {
  uint32_t levels = 6;
  double quantum_base_ms = 50;   // quantum of the highest level, milliseconds
  double quantum_ratio = 4;      // quantum_i = base * ratio^i
  double starvation_ms = 20000;  // each wait this long moves a job up one level
};

struct SwapConfig {
  uint32_t reserve_blocks = 0;      // device blocks kept free for decode growth
  uint32_t no_ping_pong_steps = 8;  // a swapped-in job is not swapped out again for this many steps
  // Admission by swap-in debt (mlfq): a new job may evict by swap only while
  // the preempted KV it adds stays within this share of the stall bound's
  // copy time (docs/SCHEDULER.md); 0 = new jobs use free memory only.
  double debt_share = 0.05;
  // Which resident job is evicted first within a level: "mlfq" (latest
  // arrival) or "enst" (the furthest stall deadline).
  std::string victim_order = "mlfq";
};

struct SchedulerConfig {
  SchedulerPolicy policy = SchedulerPolicy::kMlfq;
  // Most tokens (decodes + prefill chunks) per step; 0 derives it from the step
  // cost model so that a full step stays under tbt_target_ms.
  uint32_t token_budget = 512;
  uint32_t max_running = 256;  // most sequences in one step
  double tbt_target_ms = 100;  // time-between-tokens target for the derived budget
  // Where the fitted step cost model is kept per model and device ("" = the
  // default, ${SKIPJOIN_CACHE:-$HOME/.cache/skipjoin}/cost_models; "none" = do
  // not load or save it).
  std::string cost_model_dir;
  // When set, the coordinator appends one JSON line per finished step to this
  // file (its shape, measured times, the model's prediction): the data behind
  // cost-model fits and simulator validation. "" = off.
  std::string step_trace;
  // Decode-stall bound: a request that has produced a token gets the next one
  // within this many ms, whatever arrives (mlfq). Unset: 1000 on CUDA devices,
  // 10000 on CPU ones (steps are ~10x longer); 0 turns the bound off.
  std::optional<double> max_stall_ms;
  // Steps a replica may have planned and not finished: with 2 the next step is
  // planned and sent while one runs, so the coordinator round trip overlaps
  // compute; 1 waits for each result before planning the next step.
  uint32_t steps_in_flight = 2;
  MlfqConfig mlfq;
  SwapConfig swap;
};

struct KvConfig {
  uint32_t block_size = 16;             // tokens per block; a power of two
  double device_memory_fraction = 0.9;  // of device memory for weights + KV
  uint64_t host_swap_bytes =
      4ull << 30;  // host swap pool per worker, bytes (YAML: host_swap_bytes or host_swap_gib)
  std::optional<uint32_t> num_device_blocks;  // fixed pool size (CPU workers, tests)
};

struct MetricsConfig {
  uint16_t coordinator_port = 9400;  // coordinator /metrics
  uint16_t worker_port_base = 9401;  // worker k on a node serves base + k
};

struct HeartbeatConfig {
  uint32_t interval_ms = 1000;
  uint32_t timeout_ms = 5000;  // a worker silent this long is declared dead
};

// Who may use the worker and native ports (docs/SECURITY.md).
enum class AuthMode { kCurve, kNone };  // YAML: curve, none
const char* AuthModeName(AuthMode mode);

struct SecurityConfig {
  // curve: both ZeroMQ ports use CurveZMQ with the cluster's keys, and only a
  // listed key gets in. none: plaintext, anyone who reaches a port may use it.
  AuthMode auth = AuthMode::kCurve;
  // The cluster's key directory ("" = KeysDirFor: ${SKIPJOIN_CACHE:-
  // $HOME/.cache/skipjoin}/keys/<name>). `skipjoin keygen` fills it;
  // `skipjoin launch` creates the keys on first use.
  std::string keys_dir;
};

struct ClusterConfig {
  std::string source;  // the file it came from (for messages)
  std::string name;
  CoordinatorConfig coordinator;
  std::vector<NodeConfig> nodes;
  ModelConfig model;
  std::vector<ReplicaConfig> replicas;  // shorthand {count, tp} already expanded
  SchedulerConfig scheduler;
  KvConfig kv;
  MetricsConfig metrics;
  HeartbeatConfig heartbeat;
  SecurityConfig security;
  MonitoringConfig monitoring;
  SupervisionConfig supervision;  // how launch restarts the processes it started

  const NodeConfig* FindNode(std::string_view name) const;
};

// ${SKIPJOIN_CACHE:-$HOME/.cache/skipjoin}/models/SmolLM2-135M-Instruct.Q4_1.gguf,
// where scripts/fetch_model.sh puts the default model.
std::string DefaultModelPath();
// ${SKIPJOIN_CACHE:-$HOME/.cache/skipjoin}, the root of both.
std::string CacheRoot();
// ${SKIPJOIN_CACHE:-$HOME/.cache/skipjoin}/cost_models.
std::string DefaultCostModelDir();
// security.keys_dir, or ${SKIPJOIN_CACHE:-$HOME/.cache/skipjoin}/keys/<name>.
std::string KeysDirFor(const ClusterConfig& config);
// "<name>/<16 hex digits>": the name and a hash of what every process of one
// cluster must agree on (nodes, devices, replicas, coordinator address and
// ports). Workers send it when they register; another cluster's is refused.
std::string ClusterId(const ClusterConfig& config);

// Loads, applies overrides, and validates. Each override is "key.path=value"
// (the argument of --set): dots separate map keys, a number indexes a list
// (replicas.0.tp=2), and the value is YAML ("fcfs", "9000", "[a, b]").
Result<ClusterConfig> LoadClusterConfig(const std::string& path,
                                        const std::vector<std::string>& overrides = {});

// Same for text already in memory; `source` names it in error messages.
Result<ClusterConfig> ParseClusterConfig(std::string_view yaml, const std::string& source,
                                         const std::vector<std::string>& overrides = {});

}  // namespace skipjoin::config
