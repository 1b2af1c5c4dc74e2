// CoordinatorCore: the coordinator's scheduling actor. One thread owns the
// Scheduler, the WorkerHub (worker ROUTER socket) and the request table; it
// polls the worker socket together with its mailbox, keeps up to
// scheduler.steps_in_flight steps in flight per live replica through its
// ReplicaDriver (with two, step N+1 is planned and sent while step N runs), and
// streams SequenceEvents to each request's EventSink.
//
// Frontends (HTTP sessions, the native client endpoint) talk to it only through
// the thread-safe methods below, which post to the mailbox and return at once.
// Tokenization, detokenization and stop strings happen on the frontends'
// threads; a frontend that sees a stop string calls Finish, a client that goes
// away calls Cancel, and the request leaves its replica's next plan.
#pragma once

#include <atomic>
#include <cstdint>
#include <functional>
#include <memory>
#include <string>
#include <thread>
#include <vector>
#include <zmq.hpp>

#include "common/config/cluster_config.h"
#include "common/mailbox.h"
#include "common/status.h"
#include "coordinator/hub/worker_hub.h"
#include "coordinator/server/admission.h"
#include "coordinator/server/metrics.h"
#include "coordinator/server/request_events.h"
#include "protocol/messages.h"

namespace skipjoin::server {

struct CoreOptions {
  config::ClusterConfig config;
  // Where the worker ROUTER binds ("tcp://0.0.0.0:5556"; "tcp://127.0.0.1:*" in tests).
  std::string worker_endpoint;
  // CURVE on the worker port (ZAP domain "workers"; the process's
  // ZapAuthenticator must be running). Off when empty.
  protocol::CurveOptions worker_curve;
  hub::KvGeometry geometry;
};

// One scheduler request (one choice of an API request).
struct SubmitItem {
  RequestId id = 0;  // from NewRequestId()
  std::vector<int32_t> prompt;
  int32_t max_new_tokens = 1;
  int32_t priority = 0;
  protocol::SamplingParams sampling;  // its stop_token_ids end the request
  bool echo = false;                  // ask the workers for prompt logprobs
};

class CoordinatorCore {
 public:
  // Binds the worker socket and starts the thread. `context` and `metrics`
  // must outlive the core.
  static Result<std::unique_ptr<CoordinatorCore>> Start(CoreOptions options,
                                                        zmq::context_t* context,
                                                        CoordinatorMetrics* metrics);
  ~CoordinatorCore();  // Stop()
  CoordinatorCore(const CoordinatorCore&) = delete;
  CoordinatorCore& operator=(const CoordinatorCore&) = delete;

  // --- any thread ---
  RequestId NewRequestId() { return next_id_.fetch_add(1); }
  // Admits the items; events (and an immediate kError for an item the
  // scheduler refuses) go to `sink` on the core thread. `reserved`: the
  // frontend took the room with admission().Reserve; otherwise Submit counts
  // the items itself, past the limits if need be.
  void Submit(std::vector<SubmitItem> items, std::shared_ptr<EventSink> sink,
              bool reserved = false);
  // coordinator.limits.max_pending_*: what the frontends check and reserve
  // before they submit. Created by Start.
  Admission& admission() { return *admission_; }
  const Admission& admission() const { return *admission_; }
  // Client gone: no more events; the request leaves its replica's next plan.
  void Cancel(std::vector<RequestId> ids);
  // Frontend-side end (stop string): same as Cancel, counted as finished.
  void Finish(std::vector<RequestId> ids);
  // `done` runs on the core thread with a snapshot.
  void GetStatus(std::function<void(protocol::StatusReply)> done);
  // At least one replica has all its workers ready.
  bool ready() const { return live_replicas_.load() > 0; }
  const std::string& worker_endpoint() const { return worker_endpoint_; }
  // config::ClusterId of the config: what a worker must register with.
  const std::string& cluster_id() const { return cluster_id_; }
  // Shuts the workers down and joins the thread. Idempotent.
  void Stop();

 private:
  class Impl;
  CoordinatorCore() = default;

  std::atomic<RequestId> next_id_{1};
  std::unique_ptr<Admission> admission_;
  std::atomic<int> live_replicas_{0};
  std::string worker_endpoint_;
  std::string cluster_id_;
  Mailbox<std::function<void(Impl&)>> mailbox_;
  std::unique_ptr<Impl> impl_;  // touched only by thread_
  std::thread thread_;
  std::atomic<bool> stopping_{false};
};

}  // namespace skipjoin::server
