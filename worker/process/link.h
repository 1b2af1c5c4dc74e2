// Link: the worker's connection to the coordinator (a ZeroMQ DEALER to the
// coordinator's WorkerHub). Registers the worker, forwards the assignment and
// step plans to the Executor in arrival order, sends what the Executor
// produces (ready notice, step results, errors), sends heartbeats, answers
// malformed or unexpected frames with an ErrorReply, and decides when to stop:
// a Shutdown message, a stop request (signal), a fatal executor error, or a
// coordinator that stays unreachable past the timeout.
//
// Registering again: after a reconnect that follows an assignment (the
// coordinator may have restarted), and on an ErrorReply with kNotFound (the
// coordinator dropped this worker as silent, or does not know it); the model
// is reloaded with the new assignment. Errors while registering again are
// not fatal; register_timeout bounds the wait.
//
// Threading: Run() executes on the calling thread, which owns the socket for
// the Link's whole life; RequestStop() may be called from any thread or a
// signal handler (it only sets an atomic flag).
#pragma once

#include <atomic>
#include <chrono>
#include <cstdint>
#include <string>

#include "monitoring/worker_metrics.h"
#include "protocol/channel.h"
#include "protocol/messages.h"
#include "worker/process/executor.h"

namespace skipjoin::worker {

struct LinkOptions {
  std::string coordinator;  // "tcp://host:port" of the coordinator's worker port
  protocol::WorkerRegister registration;
  protocol::CurveOptions curve;  // the node's key and the coordinator's; off when empty
  ExecutorOptions executor;
  std::chrono::milliseconds heartbeat_interval{1000};
  // Disconnected (or never connected) from the coordinator this long: exit.
  std::chrono::milliseconds coordinator_timeout{10000};
  // No ModelAssignment this long after start: exit.
  std::chrono::milliseconds register_timeout{120000};
};

// Exit statuses of Run (and of `skipjoin worker`).
inline constexpr int kExitClean = 0;            // Shutdown message or a signal
inline constexpr int kExitFatal = 1;            // load failed, registration refused
inline constexpr int kExitCoordinatorGone = 3;  // coordinator unreachable past the timeout

class Link {
 public:
  Link(LinkOptions options, monitoring::WorkerMetrics* metrics);

  // Runs until the worker should exit; returns the exit status.
  int Run();

  // Async-signal-safe.
  void RequestStop() { stop_requested_.store(true, std::memory_order_relaxed); }

 private:
  LinkOptions options_;
  monitoring::WorkerMetrics* metrics_;
  std::atomic<bool> stop_requested_{false};
};

}  // namespace skipjoin::worker
