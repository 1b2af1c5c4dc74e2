// WorkerHub: the coordinator's side of the worker link (a ZeroMQ ROUTER).
// Registration (WorkerRegister -> the replica and TP rank the cluster config
// gives that device -> ModelAssignment with the KV pool sizes), replica
// formation (live once every rank sent WorkerReady), step plans to every rank,
// step results from rank 0, heartbeats and failure detection.
//
// A malformed or unexpected frame is answered with an ErrorReply and logged;
// it never crashes the hub, and never blocks it: replies are sent without
// waiting, and a peer that earns more than a few error replies in a window
// gets no more (it is ignored until the window passes). A worker whose
// connection drops (socket monitor, then a send probe: < 1 s), that is silent
// for heartbeat.timeout_ms, or that cannot take a step plan takes its whole
// replica down: the other ranks get a Shutdown and their slots are freed for
// re-registration.
//
// Registration is refused (ErrorReply, nothing else sent) when the worker
// names another cluster (WorkerRegister.cluster_id != config::ClusterId),
// when its device already has a live worker, and, with keys required, when
// the CURVE key of its connection is not its node's key.
//
// Threading: owned by the coordinator core's thread, which polls socket() and
// calls every method; nothing here blocks longer than a send timeout.
#pragma once

#include <cstdint>
#include <string>
#include <unordered_map>
#include <vector>
#include <zmq.hpp>

#include "common/config/cluster_config.h"
#include "common/status.h"
#include "coordinator/scheduler/kv_block_manager.h"
#include "protocol/channel.h"
#include "protocol/disconnect_watch.h"
#include "protocol/messages.h"

namespace skipjoin::hub {

// What the hub needs to size KV pools for a worker.
struct KvGeometry {
  int64_t bytes_per_block = 0;  // K and V of one block, all layers, f32, whole model (all TP ranks)
  int64_t weight_bytes = 0;     // model file size, whole model
  int64_t max_context = 0;      // served context window, tokens
};

struct WorkerHubOptions {
  // The channel uses CURVE: a registration must come on a connection whose
  // ZAP user id is the node it names.
  bool require_node_keys = false;
  // Error replies one peer may get per window before it is ignored.
  int error_budget = 16;
  double error_window_seconds = 10;
};

class WorkerHub {
 public:
  using Options = WorkerHubOptions;
  // Callbacks into the owner; called synchronously on the owner's thread from
  // HandleInbound / CheckLiveness / SendPlan.
  class Listener {
   public:
    virtual ~Listener() = default;
    // Every rank of `replica` (config index) is ready; `pool` is the smallest
    // pool any rank allocated.
    virtual void OnReplicaReady(int replica, const scheduler::KvPoolSpec& pool) = 0;
    virtual void OnReplicaLost(int replica, const std::string& reason) = 0;
    virtual void OnStepResult(int replica, protocol::StepResult result) = 0;
  };

  struct WorkerView {
    uint32_t worker_id = 0;
    int replica = 0;
    uint32_t rank = 0;
    bool ready = false;
    std::string device;  // "node:kind:index"
  };
  struct ReplicaView {
    std::string name;
    bool alive = false;
    uint32_t workers_ready = 0;
    uint32_t tp = 1;
  };

  WorkerHub(const config::ClusterConfig& config, const KvGeometry& geometry, protocol::RouterChannel channel,
            Listener* listener, Options options = {});

  // Connection events of the channel (RouterChannel::Monitor with
  // ZMQ_EVENT_DISCONNECTED), for prompt failure detection. Optional.
  void SetMonitor(zmq::socket_t monitor) { disconnects_ = protocol::DisconnectWatch(std::move(monitor)); }
  // The monitor socket for zmq::poll (null when none).
  void* monitor_handle() { return disconnects_.handle(); }

  zmq::socket_ref socket() { return channel_.socket(); }
  const std::string& endpoint() const { return channel_.endpoint(); }

  // Drains every message and connection event waiting (never blocks). `now`
  // is steady-clock seconds.
  void Poll(double now);
  // Declares silent and disconnected workers dead.
  void CheckLiveness(double now);
  // Sends a plan to every rank of a live replica, encoded once. On failure the
  // replica is declared lost (OnReplicaLost has been called when this returns
  // an error).
  Status SendPlan(int replica, const protocol::StepPlan& plan);

  // Wire counters since construction (tests, benchmarks).
  struct Stats {
    uint64_t plans_encoded = 0;
    uint64_t plans_sent = 0;  // one per rank
    uint64_t plan_bytes_sent = 0;
    uint64_t last_plan_bytes = 0;  // size of the latest encoded plan
    uint64_t registrations_refused = 0;
    uint64_t error_replies_dropped = 0;  // over a peer's error budget, or its queue was full
    uint64_t disconnects_detected = 0;   // workers lost by the connection probe
  };
  const Stats& stats() const { return stats_; }
  // Tells every registered worker to exit. For the coordinator's own stop:
  // the socket then lingers up to 1 s when it closes, so the messages leave
  // before the process ends (a worker that never hears them would stay up
  // and wait for a coordinator that is not coming back).
  void ShutdownAll(const std::string& reason);

  int num_replicas() const { return static_cast<int>(replicas_.size()); }
  std::vector<ReplicaView> Replicas() const;
  std::vector<WorkerView> Workers() const;

  // The assignment a worker on `reg`'s device gets (exposed for tests).
  Result<protocol::ModelAssignment> AssignmentFor(const protocol::WorkerRegister& reg, int replica,
                                                  uint32_t rank) const;

 private:
  struct Slot {
    std::string peer;  // empty: free
    uint32_t worker_id = 0;
    bool ready = false;
    double last_seen = 0;
    uint32_t device_blocks = 0;
    uint32_t host_blocks = 0;
  };
  struct Replica {
    std::vector<Slot> ranks;
    bool alive = false;
  };

  struct ErrorBudget {
    double window_start = 0;
    int used = 0;
  };

  void Handle(const std::string& peer, const std::string& user_id, protocol::Message message, double now);
  void OnRegister(const std::string& peer, const std::string& user_id, const protocol::WorkerRegister& reg,
                  double now);
  void Refuse(const std::string& peer, const std::string& device, const Status& why);
  // Sends a no-op to every registered worker; ROUTER_MANDATORY makes a send to
  // a departed peer fail at once, which marks it gone.
  void ProbeConnections();
  // "worker ID (device)" for the worker at `rank` of `replica`, in logs.
  std::string WorkerLabel(int replica, size_t rank) const;
  void OnReady(const std::string& peer, const protocol::WorkerReady& ready, double now);
  // An ErrorReply within the peer's error budget (logged as `log_what` when
  // given); dropped past it.
  void Reply(const std::string& peer, const Status& status, const char* log_what = nullptr);
  // "Register again" to a heartbeat from a peer that holds no slot (a worker
  // dropped as silent, or one that outlived a link outage): not an error of
  // the peer, so outside its error budget, and at most one per heartbeat
  // interval per peer so a flood of heartbeats gets few answers.
  void AskToRegister(const std::string& peer);
  // Frees every slot of the replica, shuts the surviving ranks down and, if it
  // was live, tells the listener.
  // `spare`: a peer not told to shut down (one that is registering again).
  void LoseReplica(int replica, const std::string& reason, const std::string& spare = "");
  Slot* FindByPeer(const std::string& peer, int* replica, uint32_t* rank);

  const config::ClusterConfig& config_;
  KvGeometry geometry_;
  // Before the channel, so it is destroyed after it (RouterChannel::Monitor).
  protocol::DisconnectWatch disconnects_;
  protocol::RouterChannel channel_;
  Listener* listener_;
  Options options_;
  std::string cluster_id_;  // config::ClusterId(config_)
  std::unordered_map<std::string, ErrorBudget> budgets_;
  std::unordered_map<std::string, double>
      register_asked_;  // peer -> when AskToRegister last answered
  double now_ = 0;  // of the latest Poll
  std::vector<Replica> replicas_;
  uint32_t next_worker_id_ = 1;
  std::string plan_frame_;  // reused encoding buffer
  Stats stats_;
};

}  // namespace skipjoin::hub
