#include "client/supervisor.h"

#include <algorithm>
#include <cstdio>
#include <thread>

namespace skipjoin::cli {
namespace {

using std::chrono::milliseconds;

double Seconds(milliseconds ms) { return static_cast<double>(ms.count()) / 1000.0; }

}  // namespace

std::optional<milliseconds> RestartBackoff::OnFailure(milliseconds uptime) {
  if (uptime >= milliseconds(policy_.stable_after_ms)) failures_in_a_row_ = 0;
  ++failures_in_a_row_;
  if (failures_in_a_row_ > policy_.max_restarts) return std::nullopt;
  // initial * 2^(failures - 1), capped; the shift stops before it overflows.
  uint64_t delay = policy_.backoff_initial_ms;
  for (uint32_t i = 1; i < failures_in_a_row_ && delay < policy_.backoff_max_ms; ++i) delay *= 2;
  return milliseconds(std::min<uint64_t>(delay, policy_.backoff_max_ms));
}

void ReportExit(const ExitedChild& e) {
  std::fprintf(stderr, "skipjoin launch: %s (pid %d) %s; log %s\n", e.name.c_str(), e.pid,
               e.how.c_str(), e.log_path.c_str());
  if (!e.clean) std::fprintf(stderr, "%s", TailOfFile(e.log_path, 8).c_str());
}

Supervisor::Supervisor(config::SupervisionConfig policy, std::function<bool()> coordinator_answers,
                       ProcessGroup* group)
    : policy_(policy), coordinator_answers_(std::move(coordinator_answers)), group_(group) {}

Result<pid_t> Supervisor::Start(const ChildSpec& spec, Role role) {
  SJ_ASSIGN_OR_RETURN(pid_t pid, group_->Spawn(spec));
  entries_.emplace_back(spec, role, policy_);
  if (role == Role::kCoordinator) coordinator_here_ = true;
  return pid;
}

Supervisor::Entry* Supervisor::Find(const std::string& name) {
  for (Entry& e : entries_) {
    if (e.spec.name == name) return &e;
  }
  return nullptr;
}

void Supervisor::PlanRestart(Entry& e, milliseconds uptime, bool clean) {
  const char* name = e.spec.name.c_str();
  if (!policy_.restart) {
    if (e.role == Role::kCoordinator) {
      std::fprintf(stderr,
                   "skipjoin launch: the coordinator is gone (supervision.restart is "
                   "false); stopping the workers\n");
      gave_up_ = true;
    } else {
      std::fprintf(stderr, "skipjoin launch: %s is not restarted (supervision.restart is false)\n",
                   name);
    }
    return;
  }
  const std::optional<milliseconds> delay = e.backoff.OnFailure(uptime);
  if (!delay) {
    std::fprintf(
        stderr,
        "skipjoin launch: giving up on %s: it ended %u times in a row, each within %.0f s "
        "of its start (supervision.max_restarts: %u); %s\n",
        name, e.backoff.failures_in_a_row(), Seconds(milliseconds(policy_.stable_after_ms)),
        policy_.max_restarts,
        e.role == Role::kCoordinator ? "stopping the node" : "the cluster runs on without it");
    if (e.role == Role::kCoordinator) gave_up_ = true;
    return;
  }
  e.restart_at = std::chrono::steady_clock::now() + *delay;
  e.await_coordinator = clean && e.role == Role::kWorker && coordinator_here_;
  if (e.await_coordinator) {
    std::fprintf(stderr,
                 "skipjoin launch: %s was told to stop by the coordinator; it is started again "
                 "(restart %u of at most %u in a row) once the coordinator answers, not if the "
                 "coordinator is stopping\n",
                 name, e.backoff.failures_in_a_row(), policy_.max_restarts);
  } else {
    std::fprintf(stderr,
                 "skipjoin launch: restarting %s in %.1f s (restart %u of at most %u in a row)\n",
                 name, Seconds(*delay), e.backoff.failures_in_a_row(), policy_.max_restarts);
  }
}

void Supervisor::StartDue(std::chrono::steady_clock::time_point now) {
  std::optional<bool> answers;  // the probe, at most once per call
  bool coordinator_alive = false;
  for (const Entry& e : entries_) coordinator_alive |= e.role == Role::kCoordinator && e.alive;
  for (Entry& e : entries_) {
    if (e.alive || !e.restart_at || now < *e.restart_at) continue;
    if (e.await_coordinator) {
      if (!coordinator_alive) continue;
      if (!answers) answers = coordinator_answers_();
      if (!*answers) continue;
    }
    e.restart_at.reset();
    e.await_coordinator = false;
    auto pid = group_->Spawn(e.spec);
    if (!pid.ok()) {
      std::fprintf(stderr, "skipjoin launch: cannot restart %s: %s\n", e.spec.name.c_str(),
                   pid.status().message().c_str());
      PlanRestart(e, milliseconds(0), /*clean=*/false);
      continue;
    }
    e.alive = true;
    std::fprintf(stderr, "skipjoin launch: restarted %s as pid %d (restart %u); log %s\n",
                 e.spec.name.c_str(), *pid, e.backoff.failures_in_a_row(), e.spec.log_path.c_str());
    if (e.role == Role::kCoordinator) coordinator_alive = true;
  }
}

Supervisor::Outcome Supervisor::Tick() {
  std::vector<ExitedChild> ended = group_->Reap();
  // A coordinator that exited cleanly was stopped on purpose: whatever else
  // ended with it is not restarted.
  const bool was_stopped = coordinator_stopped_;
  for (const ExitedChild& x : ended) {
    const Entry* e = Find(x.name);
    if (e != nullptr && e->role == Role::kCoordinator && x.clean) coordinator_stopped_ = true;
  }
  for (const ExitedChild& x : ended) {
    ReportExit(x);
    Entry* e = Find(x.name);
    if (e == nullptr) continue;
    e->alive = false;
    if (!coordinator_stopped_) PlanRestart(*e, x.uptime, x.clean);
  }
  if (coordinator_stopped_) {
    if (!was_stopped) {
      std::fprintf(stderr,
                   "skipjoin launch: the coordinator was stopped (exit status 0); restarting "
                   "nothing\n");
    }
    return Outcome::kCoordinatorStopped;
  }
  if (gave_up_) return Outcome::kGaveUp;
  StartDue(std::chrono::steady_clock::now());
  const bool pending = std::any_of(entries_.begin(), entries_.end(),
                                   [](const Entry& e) { return !e.alive && e.restart_at; });
  if (group_->num_alive() == 0 && !pending) return Outcome::kAllExited;
  return Outcome::kRunning;
}

void Supervisor::WaitForExits(milliseconds limit) {
  const auto deadline = std::chrono::steady_clock::now() + limit;
  while (group_->num_alive() > 0 && std::chrono::steady_clock::now() < deadline) {
    for (const ExitedChild& x : group_->Reap()) ReportExit(x);
    if (group_->num_alive() > 0) std::this_thread::sleep_for(milliseconds(50));
  }
}

}  // namespace skipjoin::cli
