// ProcessGroup: the child processes `skipjoin launch` starts and supervises.
// Children stay in launch's process group (so a signal to the group reaches
// everyone) and get SIGTERM from the kernel if launch itself dies
// (PR_SET_PDEATHSIG), so no process outlives its launcher. Each child's stdout
// and stderr go to its own log file.
//
// Threading: one owner thread (launch's main thread) calls every method.
#pragma once

#include <sys/types.h>

#include <chrono>
#include <string>
#include <vector>

#include "common/status.h"

namespace skipjoin::cli {

struct ChildSpec {
  std::string name;               // "coordinator", "worker local/cpu:0"
  std::vector<std::string> argv;  // argv[0] is the executable path
  std::string log_path;           // stdout + stderr, appended
};

struct ExitedChild {
  std::string name;
  pid_t pid = 0;
  std::string how;     // "exited with status 1", "was killed by signal 9 (Killed)"
  bool clean = false;  // exit status 0
  std::string log_path;
  std::chrono::milliseconds uptime{0};  // from Spawn to when it was reaped
};

class ProcessGroup {
 public:
  ProcessGroup() = default;
  ~ProcessGroup();  // TerminateAll with a short grace period

  ProcessGroup(const ProcessGroup&) = delete;
  ProcessGroup& operator=(const ProcessGroup&) = delete;

  // Starts a child. kInternal when fork fails; an exec failure shows up as the
  // child exiting with status 127 (and a line in its log).
  Result<pid_t> Spawn(const ChildSpec& spec);

  // Children that ended since the last call (never blocks).
  std::vector<ExitedChild> Reap();

  // SIGTERM to every live child, up to `grace` for them to exit, then SIGKILL
  // for the rest; waits for all of them. Returns the ones that ended.
  std::vector<ExitedChild> TerminateAll(std::chrono::milliseconds grace);

  int num_alive() const { return static_cast<int>(children_.size()); }

 private:
  struct Child {
    ChildSpec spec;
    pid_t pid;
    std::chrono::steady_clock::time_point started;
  };
  static ExitedChild Ended(const Child& c, std::string how, bool clean);
  std::vector<Child> children_;
};

// The last `lines` lines of a file ("" when unreadable).
std::string TailOfFile(const std::string& path, int lines);

}  // namespace skipjoin::cli
