#include "coordinator/hub/worker_hub.h"

#include <algorithm>
#include <chrono>
#include <cmath>
#include <cstring>

#include "common/logging.h"

namespace skipjoin::hub {

namespace {

// The longest the core thread waits on one worker's full send queue.
constexpr auto kSendTimeout = std::chrono::milliseconds(100);
// A worker loading its model may be silent for this long before it is given up.
constexpr double kLoadTimeoutSeconds = 600;

}  // namespace

WorkerHub::WorkerHub(const config::ClusterConfig& config, const KvGeometry& geometry,
                     protocol::RouterChannel channel, Listener* listener, Options options)
    : config_(config),
      geometry_(geometry),
      channel_(std::move(channel)),
      listener_(listener),
      options_(options),
      cluster_id_(config::ClusterId(config)) {
  replicas_.resize(config_.replicas.size());
  for (size_t r = 0; r < replicas_.size(); ++r) replicas_[r].ranks.resize(config_.replicas[r].devices.size());
}

void WorkerHub::Poll(double now) {
  now_ = now;
  disconnects_.Drain(now);
  for (int i = 0; i < 10000; ++i) {  // bounded so one flood cannot starve the loop
    auto in = channel_.Recv(std::chrono::milliseconds(0));
    if (!in.ok()) {
      if (in.status().code() != StatusCode::kDeadlineExceeded) {
        SJ_LOG(Warn) << "worker link: " << in.status().ToString();
      }
      return;
    }
    if (!in->message.ok()) {
      // Logged and answered within the peer's error budget only, so a flood
      // costs a decode per frame and nothing more.
      Reply(in->peer, in->message.status(), "malformed frame");
      continue;
    }
    Handle(in->peer, in->user_id, std::move(in->message).value(), now);
  }
}

void WorkerHub::ProbeConnections() {
  for (size_t r = 0; r < replicas_.size(); ++r) {
    for (size_t k = 0; k < replicas_[r].ranks.size(); ++k) {
      const Slot& s = replicas_[r].ranks[k];
      if (s.peer.empty()) continue;
      Status st = channel_.Send(s.peer, protocol::Heartbeat{}, std::chrono::milliseconds(0));
      if (st.code() == StatusCode::kUnavailable) {
        ++stats_.disconnects_detected;
        LoseReplica(static_cast<int>(r), WorkerLabel(static_cast<int>(r), k) + " disconnected");
        break;
      }
    }
  }
}

std::string WorkerHub::WorkerLabel(int replica, size_t rank) const {
  return "worker " + std::to_string(replicas_[replica].ranks[rank].worker_id) + " (" +
         config_.replicas[replica].devices[rank].ToString() + ")";
}

void WorkerHub::Reply(const std::string& peer, const Status& status, const char* log_what) {
  ErrorBudget& b = budgets_[peer];
  if (now_ - b.window_start > options_.error_window_seconds) b = ErrorBudget{now_, 0};
  if (++b.used > options_.error_budget) {
    ++stats_.error_replies_dropped;
    if (b.used == options_.error_budget + 1) {
      SJ_LOG(Warn) << "worker link: a peer keeps sending bad frames; ignoring its errors for "
                   << options_.error_window_seconds << " s";
    }
    return;
  }
  if (log_what != nullptr) SJ_LOG(Warn) << "worker link: " << log_what << ": " << status.ToString();
  protocol::ErrorReply reply;
  reply.error = protocol::ErrorInfo::FromStatus(status);
  // Never waits: a peer that does not read its replies loses them.
  Status s = channel_.Send(peer, reply, std::chrono::milliseconds(0));
  if (!s.ok()) {
    ++stats_.error_replies_dropped;
    SJ_LOG(Debug) << "worker link: cannot answer a peer: " << s.ToString();
  }
}

void WorkerHub::AskToRegister(const std::string& peer) {
  const double spacing = config_.heartbeat.interval_ms / 1000.0;
  auto [it, fresh] = register_asked_.try_emplace(peer, now_);
  if (!fresh && now_ - it->second < spacing) return;
  it->second = now_;
  protocol::ErrorReply reply;
  reply.error = protocol::ErrorInfo::FromStatus(
      NotFound("heartbeat from an unregistered worker; send WorkerRegister"));
  Status s = channel_.Send(peer, reply, std::chrono::milliseconds(0));
  if (!s.ok()) SJ_LOG(Debug) << "worker link: cannot ask a peer to register: " << s.ToString();
}

void WorkerHub::Refuse(const std::string& peer, const std::string& device, const Status& why) {
  ++stats_.registrations_refused;
  Reply(peer, why, ("refused a worker registering for " + device).c_str());
}

WorkerHub::Slot* WorkerHub::FindByPeer(const std::string& peer, int* replica, uint32_t* rank) {
  for (size_t r = 0; r < replicas_.size(); ++r) {
    for (size_t k = 0; k < replicas_[r].ranks.size(); ++k) {
      if (replicas_[r].ranks[k].peer == peer) {
        *replica = static_cast<int>(r);
        *rank = static_cast<uint32_t>(k);
        return &replicas_[r].ranks[k];
      }
    }
  }
  return nullptr;
}

void WorkerHub::Handle(const std::string& peer, const std::string& user_id, protocol::Message message,
                       double now) {
  int replica = -1;
  uint32_t rank = 0;
  if (Slot* slot = FindByPeer(peer, &replica, &rank)) slot->last_seen = now;

  if (auto* reg = std::get_if<protocol::WorkerRegister>(&message)) return OnRegister(peer, user_id, *reg, now);
  if (auto* ready = std::get_if<protocol::WorkerReady>(&message)) return OnReady(peer, *ready, now);
  if (std::holds_alternative<protocol::Heartbeat>(message)) {
    // kNotFound is the worker link's "register again" (worker/process/link.h):
    // a worker dropped as silent that was only slow rejoins this way.
    if (replica < 0) AskToRegister(peer);
    return;
  }
  if (auto* result = std::get_if<protocol::StepResult>(&message)) {
    if (replica < 0 || rank != 0 || !replicas_[replica].alive) {
      SJ_LOG(Warn) << "worker link: StepResult from a worker that is not rank 0 of a live replica; dropped";
      return;
    }
    listener_->OnStepResult(replica, std::move(*result));
    return;
  }
  if (auto* err = std::get_if<protocol::ErrorReply>(&message)) {
    SJ_LOG(Warn) << "worker " << (replica >= 0 ? replicas_[replica].ranks[rank].worker_id : 0)
                 << " reported: " << err->error.ToStatus().ToString();
    return;
  }
  Reply(peer,
        InvalidArgument(std::string("unexpected ") + protocol::MessageTypeName(protocol::TypeOf(message)) +
                        " on the worker link"),
        "unexpected message");
}

Result<protocol::ModelAssignment> WorkerHub::AssignmentFor(const protocol::WorkerRegister& reg, int replica,
                                                           uint32_t rank) const {
  const config::ReplicaConfig& rc = config_.replicas[replica];
  protocol::ModelAssignment a;
  a.replica_id = static_cast<uint32_t>(replica);
  a.tp_rank = rank;
  a.tp_size = rc.tp;
  a.model_path = config_.model.path;
  a.kv.block_size = config_.kv.block_size;
  a.kv.device_memory_fraction = config_.kv.device_memory_fraction;
  const int64_t tp = std::max<uint32_t>(rc.tp, 1);
  const int64_t per_rank_block = std::max<int64_t>(geometry_.bytes_per_block / tp, 1);
  // More blocks than max_running full contexts can never be used.
  const int64_t useful = (int64_t{config_.scheduler.max_running} * std::max<int64_t>(geometry_.max_context, 1) +
                          config_.kv.block_size - 1) /
                         config_.kv.block_size;
  if (config_.kv.num_device_blocks) {
    a.kv.num_device_blocks = *config_.kv.num_device_blocks;
  } else if (reg.device_kind == protocol::DeviceKind::kCpu) {
    const double budget = static_cast<double>(reg.device_memory_bytes) * config_.kv.device_memory_fraction -
                          static_cast<double>(geometry_.weight_bytes) / static_cast<double>(tp);
    if (budget < static_cast<double>(per_rank_block)) {
      return ResourceExhausted("worker memory (" + std::to_string(reg.device_memory_bytes) +
                               " bytes) leaves no room for KV blocks after the weights; set kv.num_device_blocks");
    }
    a.kv.num_device_blocks =
        static_cast<uint32_t>(std::min<int64_t>(static_cast<int64_t>(budget) / per_rank_block, useful));
  } else {
    a.kv.num_device_blocks = 0;  // the GPU worker sizes its pool from device_memory_fraction
  }
  int64_t host_bytes = static_cast<int64_t>(config_.kv.host_swap_bytes);
  if (reg.host_memory_bytes > 0) host_bytes = std::min<int64_t>(host_bytes, reg.host_memory_bytes / 2);
  a.kv.num_host_blocks = static_cast<uint32_t>(std::min<int64_t>(host_bytes / per_rank_block, useful));

  if (rc.tp <= 1) {
    a.rendezvous.backend = "none";
  } else {
    // replicas[].tp_comm; auto: ranks on one node reduce through shared
    // memory, a group spread over nodes runs the TCP ring
    // (worker/process/comm_connect.h, docs/DISTRIBUTED.md).
    bool one_node = true;
    for (const config::DeviceRef& d : rc.devices) one_node = one_node && d.node == rc.devices[0].node;
    a.rendezvous.backend = rc.tp_comm != "auto" ? rc.tp_comm : one_node ? "shm" : "ring";
    const config::NodeConfig* node = config_.FindNode(rc.devices[0].node);
    a.rendezvous.store_host = node != nullptr ? node->host : config_.coordinator.host;
    // One TCP store port per replica, next to the worker port.
    a.rendezvous.store_port = config_.coordinator.worker_port + 1 + static_cast<uint32_t>(replica);
  }
  if (config_.model.max_context) a.engine.max_context = *config_.model.max_context;
  a.engine.max_batch_tokens = config_.scheduler.token_budget;
  a.engine.max_sequences = config_.scheduler.max_running;
  a.engine.dtype = config_.model.dtype;
  if (const config::NodeConfig* node = config_.FindNode(rc.devices[rank].node)) {
    for (const config::DeviceConfig& d : node->devices) {
      if (d.kind == rc.devices[rank].kind && d.index == rc.devices[rank].index) a.engine.cpu_threads = d.threads;
    }
  }
  return a;
}

void WorkerHub::OnRegister(const std::string& peer, const std::string& user_id, const protocol::WorkerRegister& reg,
                           double now) {
  const std::string device =
      reg.node + ":" + protocol::DeviceKindName(reg.device_kind) + ":" + std::to_string(reg.device_index);
  if (reg.cluster_id != cluster_id_) {
    return Refuse(peer, device,
                  FailedPrecondition("this coordinator serves cluster " + cluster_id_ + ", the worker was started for " +
                                     (reg.cluster_id.empty() ? "no cluster" : reg.cluster_id) +
                                     "; start it from the same cluster config"));
  }
  if (options_.require_node_keys && user_id != reg.node) {
    return Refuse(peer, device,
                  FailedPrecondition("a worker of node " + reg.node + " must connect with that node's key; this " +
                                     "connection holds " + (user_id.empty() ? "no node key" : "node " + user_id + "'s key")));
  }
  int found = -1;
  uint32_t found_rank = 0;
  for (size_t r = 0; r < config_.replicas.size() && found < 0; ++r) {
    const auto& devices = config_.replicas[r].devices;
    for (size_t k = 0; k < devices.size(); ++k) {
      if (devices[k].node == reg.node && devices[k].kind == reg.device_kind &&
          devices[k].index == reg.device_index) {
        found = static_cast<int>(r);
        found_rank = static_cast<uint32_t>(k);
        break;
      }
    }
  }
  if (found < 0) {
    return Refuse(peer, device, InvalidArgument("no replica in the cluster config uses device " + device));
  }
  Replica& replica = replicas_[found];
  Slot& slot = replica.ranks[found_rank];
  if (!slot.peer.empty() && slot.peer != peer) {
    // Never replaced: the live worker keeps the device. A worker that died is
    // noticed by the connection probe or its missing heartbeats, and then the
    // device is free again.
    return Refuse(peer, device,
                  FailedPrecondition("device " + device + " already has a live worker (id " +
                                     std::to_string(slot.worker_id) + "); stop it first, or wait " +
                                     std::to_string(config_.heartbeat.timeout_ms) + " ms if it died"));
  } else if (slot.peer == peer) {
    // The same worker again (it reconnected, e.g. after a network blip): its
    // old incarnation's state is gone, so is the replica's; it is not told
    // to shut down, it is about to get its new assignment.
    LoseReplica(found, "worker on " + device + " registered again", peer);
  }
  if (replica.alive) LoseReplica(found, "replica re-forming", peer);
  auto assignment = AssignmentFor(reg, found, found_rank);
  if (!assignment.ok()) {
    SJ_LOG(Error) << "worker on " << device << ": " << assignment.status().ToString();
    return Reply(peer, assignment.status());
  }
  Slot& s = replicas_[found].ranks[found_rank];
  s = Slot{};
  s.peer = peer;
  s.worker_id = next_worker_id_++;
  s.last_seen = now;
  assignment->worker_id = s.worker_id;
  Status st = channel_.Send(peer, *assignment, kSendTimeout);
  if (!st.ok()) {
    SJ_LOG(Warn) << "cannot send ModelAssignment to " << device << ": " << st.ToString();
    s = Slot{};
    return;
  }
  SJ_LOG(Info) << "worker " << s.worker_id << " (" << device << ", pid " << reg.pid << ") is rank " << found_rank
               << " of replica " << config_.replicas[found].name << "; " << assignment->kv.num_device_blocks
               << " device / " << assignment->kv.num_host_blocks << " host KV blocks";
}

void WorkerHub::OnReady(const std::string& peer, const protocol::WorkerReady& ready, double now) {
  int replica = -1;
  uint32_t rank = 0;
  Slot* slot = FindByPeer(peer, &replica, &rank);
  if (slot == nullptr || slot->worker_id != ready.worker_id) {
    return Reply(peer, FailedPrecondition("WorkerReady from an unregistered worker (id " +
                                          std::to_string(ready.worker_id) + ")"));
  }
  if (ready.num_device_blocks == 0) {
    Reply(peer, InvalidArgument("WorkerReady with 0 device KV blocks"));
    return LoseReplica(replica, "worker " + std::to_string(ready.worker_id) + " has no KV blocks");
  }
  slot->ready = true;
  slot->device_blocks = ready.num_device_blocks;
  slot->host_blocks = ready.num_host_blocks;
  SJ_LOG(Info) << "worker " << ready.worker_id << " ready in " << ready.load_seconds << " s ("
               << ready.num_device_blocks << " device / " << ready.num_host_blocks << " host blocks)";
  Replica& r = replicas_[replica];
  scheduler::KvPoolSpec pool;
  pool.block_size = static_cast<int32_t>(config_.kv.block_size);
  pool.device_blocks = INT32_MAX;
  pool.host_blocks = INT32_MAX;
  for (const Slot& s : r.ranks) {
    if (!s.ready) return;
    pool.device_blocks = std::min<int64_t>(pool.device_blocks, s.device_blocks);
    pool.host_blocks = std::min<int64_t>(pool.host_blocks, s.host_blocks);
  }
  r.alive = true;
  SJ_LOG(Info) << "replica " << config_.replicas[replica].name << " is live";
  listener_->OnReplicaReady(replica, pool);
}

void WorkerHub::LoseReplica(int replica, const std::string& reason, const std::string& spare) {
  Replica& r = replicas_[replica];
  const bool was_alive = r.alive;
  r.alive = false;
  for (Slot& s : r.ranks) {
    if (!s.peer.empty() && s.peer != spare) {
      protocol::Shutdown shutdown;
      shutdown.reason = reason;
      (void)channel_.Send(s.peer, shutdown, std::chrono::milliseconds(0));
    }
    s = Slot{};
  }
  SJ_LOG(Warn) << "replica " << config_.replicas[replica].name << " down: " << reason;
  if (was_alive) listener_->OnReplicaLost(replica, reason);
}

void WorkerHub::CheckLiveness(double now) {
  if (disconnects_.ProbeDue(now)) ProbeConnections();
  if (budgets_.size() > 4096) budgets_.clear();  // bounded, whatever peers come and go
  if (register_asked_.size() > 4096) register_asked_.clear();
  const double timeout = config_.heartbeat.timeout_ms / 1000.0;
  for (size_t r = 0; r < replicas_.size(); ++r) {
    for (const Slot& s : replicas_[r].ranks) {
      if (s.peer.empty()) continue;
      const double limit = s.ready ? timeout : std::max(timeout, kLoadTimeoutSeconds);
      if (now - s.last_seen > limit) {
        // The silent worker is not told to shut down: if it was only slow
        // (stopped, swapping), it registers again when it hears back.
        LoseReplica(static_cast<int>(r),
                    "worker " + std::to_string(s.worker_id) + " silent for " +
                        std::to_string(static_cast<int>((now - s.last_seen) * 1000)) + " ms",
                    s.peer);
        break;
      }
    }
  }
}

Status WorkerHub::SendPlan(int replica, const protocol::StepPlan& plan) {
  Replica& r = replicas_[replica];
  if (!r.alive) return Unavailable("replica " + config_.replicas[replica].name + " is not live");
  // Encoded once; every rank gets the same bytes.
  protocol::EncodeInto(plan, &plan_frame_);
  ++stats_.plans_encoded;
  stats_.last_plan_bytes = plan_frame_.size();
  for (const Slot& s : r.ranks) {
    Status st = channel_.SendEncoded(s.peer, plan_frame_, kSendTimeout);
    if (!st.ok()) {
      const std::string who = WorkerLabel(replica, static_cast<size_t>(&s - r.ranks.data()));
      if (st.code() == StatusCode::kUnavailable) ++stats_.disconnects_detected;
      LoseReplica(replica, st.code() == StatusCode::kUnavailable
                               ? who + " disconnected"
                               : "cannot send a step plan to " + who + ": " + st.message());
      return st;
    }
    ++stats_.plans_sent;
    stats_.plan_bytes_sent += plan_frame_.size();
  }
  return Status::Ok();
}

void WorkerHub::ShutdownAll(const std::string& reason) {
  for (Replica& r : replicas_) {
    for (Slot& s : r.ranks) {
      if (s.peer.empty()) continue;
      protocol::Shutdown shutdown;
      shutdown.reason = reason;
      (void)channel_.Send(s.peer, shutdown, std::chrono::milliseconds(100));
    }
  }
  // Channels close with linger 0 (channel.h), which would drop what is
  // still queued; the context's end waits for these instead, bounded.
  channel_.socket().set(zmq::sockopt::linger, 1000);
}

std::vector<WorkerHub::ReplicaView> WorkerHub::Replicas() const {
  std::vector<ReplicaView> out;
  for (size_t r = 0; r < replicas_.size(); ++r) {
    ReplicaView v;
    v.name = config_.replicas[r].name;
    v.alive = replicas_[r].alive;
    v.tp = config_.replicas[r].tp;
    for (const Slot& s : replicas_[r].ranks) v.workers_ready += s.ready ? 1 : 0;
    out.push_back(v);
  }
  return out;
}

std::vector<WorkerHub::WorkerView> WorkerHub::Workers() const {
  std::vector<WorkerView> out;
  for (size_t r = 0; r < replicas_.size(); ++r) {
    for (size_t k = 0; k < replicas_[r].ranks.size(); ++k) {
      const Slot& s = replicas_[r].ranks[k];
      if (s.peer.empty()) continue;
      out.push_back({s.worker_id, static_cast<int>(r), static_cast<uint32_t>(k), s.ready,
                     config_.replicas[r].devices[k].ToString()});
    }
  }
  return out;
}

}  // namespace skipjoin::hub
