// Supervisor: what `skipjoin launch` does when a process of its node ends
// (the coordinator and the workers; Prometheus is not supervised). The
// cluster config's `supervision:` section sets the policy.
//
// A process that dies unexpectedly (killed by a signal, or a non-zero exit
// status) is started again with the same command after a backoff:
// backoff_initial_ms, doubling with each failure in a row up to
// backoff_max_ms; a process that ran stable_after_ms or longer starts a new
// run of failures. After max_restarts restarts in a row launch gives up on it:
// a worker stays down (the other replicas serve on), a coordinator stops the
// node. Workers rejoin a restarted coordinator by themselves.
//
// Exit status 0 means the process was asked to stop: the coordinator exits 0
// only after SIGINT or SIGTERM, a worker only after a signal or a Shutdown
// from the coordinator. So:
// - the coordinator exits 0: the cluster was stopped on purpose; nothing is
//   restarted and Tick says kCoordinatorStopped (its workers got a Shutdown
//   and exit by themselves).
// - a worker exits 0 while the coordinator runs on this node: either the
//   coordinator is stopping (it closes its HTTP port before it tells the
//   workers) or it took the worker's replica down because another rank was
//   lost. The restart waits until the coordinator answers HTTP again; if the
//   coordinator exits instead, nothing is restarted.
// - a worker exits 0 on a node without the coordinator: launch cannot tell
//   the two apart and restarts it like a failure; against a coordinator that
//   stays away it exits 3 after --coordinator-timeout-ms and counts toward
//   max_restarts.
//
// Threading: one owner thread (launch's main thread) calls every method.
#pragma once

#include <sys/types.h>

#include <chrono>
#include <cstdint>
#include <functional>
#include <optional>
#include <string>
#include <utility>
#include <vector>

#include "client/process_group.h"
#include "common/config/supervision_config.h"
#include "common/status.h"

namespace skipjoin::cli {

// The backoff of one process (pure: the caller says how long each run lasted).
class RestartBackoff {
 public:
  explicit RestartBackoff(const config::SupervisionConfig& policy) : policy_(policy) {}

  // The process failed after running `uptime`: how long to wait before
  // starting it again, or nullopt when that would be restart max_restarts + 1
  // in a row (give up).
  std::optional<std::chrono::milliseconds> OnFailure(std::chrono::milliseconds uptime);

  // Failures in a row, the last one included (1 after a first failure).
  uint32_t failures_in_a_row() const { return failures_in_a_row_; }

 private:
  config::SupervisionConfig policy_;
  uint32_t failures_in_a_row_ = 0;
};

// "name (pid N) how; log path" on stderr, with the end of the log when the
// process did not exit cleanly.
void ReportExit(const ExitedChild& e);

class Supervisor {
 public:
  enum class Role { kCoordinator, kWorker };
  enum class Outcome {
    kRunning,
    kCoordinatorStopped,  // the coordinator exited with status 0: stop the node, exit 0
    kGaveUp,              // the coordinator is gone for good: stop the node, exit 1
    kAllExited,           // no process left and none to restart
  };

  // `coordinator_answers`: whether the coordinator answers HTTP (any status);
  // asked at most once per Tick, only for a worker that exited cleanly while
  // the coordinator runs here. `group` must outlive the supervisor.
  Supervisor(config::SupervisionConfig policy, std::function<bool()> coordinator_answers,
             ProcessGroup* group);

  // Starts a process and supervises it from now on.
  Result<pid_t> Start(const ChildSpec& spec, Role role);

  // Reaps and reports ended processes, schedules their restarts and starts
  // the ones that are due. Returns at once (apart from the HTTP probe).
  Outcome Tick();

  // After kCoordinatorStopped: waits up to `limit` for the remaining
  // processes to exit by themselves, reporting each; restarts nothing.
  void WaitForExits(std::chrono::milliseconds limit);

 private:
  struct Entry {
    Entry(ChildSpec s, Role r, const config::SupervisionConfig& policy)
        : spec(std::move(s)), role(r), backoff(policy) {}
    ChildSpec spec;
    Role role;
    RestartBackoff backoff;
    bool alive = true;
    std::optional<std::chrono::steady_clock::time_point> restart_at;
    // A worker that exited cleanly on the coordinator's node: restarted only
    // once the coordinator answers (see the top of this file).
    bool await_coordinator = false;
  };

  Entry* Find(const std::string& name);
  // Schedules the restart of `e` after a run of `uptime`, or gives up on it.
  void PlanRestart(Entry& e, std::chrono::milliseconds uptime, bool clean);
  void StartDue(std::chrono::steady_clock::time_point now);

  config::SupervisionConfig policy_;
  std::function<bool()> coordinator_answers_;
  ProcessGroup* group_;
  std::vector<Entry> entries_;
  bool coordinator_here_ = false;
  bool coordinator_stopped_ = false;
  bool gave_up_ = false;
};

}  // namespace skipjoin::cli
