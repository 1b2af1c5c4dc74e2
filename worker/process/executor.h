// Executor: the worker's compute actor. Owns the Engine (and its communicator)
// on one thread, loads the model when the assignment arrives and then executes
// step plans strictly in arrival order. Every result, ready notice or error is
// pushed to the Link's outbox, whose fd wakes the Link (which owns the ZeroMQ
// socket) to send it at once.
//
// Threading: the constructor, Start, Submit and Stop are called by the Link's
// thread; everything else runs on the executor thread. stats() is readable
// from any thread (atomics).
#pragma once

#include <atomic>
#include <chrono>
#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <thread>
#include <variant>

#include "common/mailbox.h"
#include "monitoring/worker_metrics.h"
#include "protocol/messages.h"
#include "worker/communicator.h"
#include "worker/engine.h"
#include "worker/process/plan_convert.h"

namespace skipjoin::worker {

struct ExecutorOptions {
  std::string node;    // for the metrics identity
  std::string device;  // "cpu:0"
  int threads = 0;     // CPU threads; 0: the assignment's engine.cpu_threads
  // Where rank 0 of a TP group listens for its peers (nodes[].bind, resolved
  // to an IPv4 address; 0.0.0.0 for every interface); empty: the assignment's
  // store_host, the node's advertised host.
  std::string tp_bind;
  std::chrono::milliseconds tp_connect_timeout{60000};
};

// One unit of work for the executor, stamped when the Link received it.
struct ExecutorWork {
  std::variant<protocol::ModelAssignment, protocol::StepPlan> message;
  std::chrono::steady_clock::time_point received;
};

// One message for the Link to send. fatal: the worker cannot go on; the Link
// sends it and exits with a failure status.
struct Outgoing {
  protocol::Message message;
  bool fatal = false;
};

// Counters for heartbeats, written by the executor thread only.
struct ExecutorStats {
  std::atomic<uint64_t> steps_executed{0};
  std::atomic<uint64_t> device_memory_used_bytes{0};
  std::atomic<uint64_t> busy_micros{0};
};

class Executor {
 public:
  // metrics and outbox must outlive the executor; the Link polls outbox->fd().
  Executor(ExecutorOptions options, monitoring::WorkerMetrics* metrics, Mailbox<Outgoing>* outbox);
  ~Executor();  // Stop()s

  Executor(const Executor&) = delete;
  Executor& operator=(const Executor&) = delete;

  void Start();
  // False once stopped.
  bool Submit(ExecutorWork work);
  // Lets the current step finish, drops queued work, joins the thread.
  void Stop();

  const ExecutorStats& stats() const { return stats_; }

 private:
  void Run();
  void Load(const protocol::ModelAssignment& assignment);
  void Execute(const protocol::StepPlan& plan, std::chrono::steady_clock::time_point received);
  void Send(protocol::Message message, bool fatal = false);

  const ExecutorOptions options_;
  monitoring::WorkerMetrics* const metrics_;
  Mailbox<Outgoing>* const outbox_;
  Mailbox<ExecutorWork> inbox_;
  std::atomic<bool> stopping_{false};
  std::thread thread_;
  ExecutorStats stats_;

  // Executor thread only.
  std::unique_ptr<Communicator> comm_;
  std::unique_ptr<Engine> engine_;
  protocol::ModelAssignment assignment_;
  std::optional<SequenceTable> table_;  // once loaded
  // When the previous step ended, for the idle time before the next (none yet: unset).
  std::optional<std::chrono::steady_clock::time_point> last_step_end_;
};

}  // namespace skipjoin::worker
