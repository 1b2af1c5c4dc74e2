#include "client/process_group.h"

#include <fcntl.h>
#include <signal.h>
#include <sys/prctl.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <fstream>
#include <thread>

namespace skipjoin::cli {
namespace {

std::string DescribeStatus(int status) {
  if (WIFEXITED(status)) return "exited with status " + std::to_string(WEXITSTATUS(status));
  if (WIFSIGNALED(status)) {
    const int sig = WTERMSIG(status);
    return "was killed by signal " + std::to_string(sig) + " (" + strsignal(sig) + ")";
  }
  return "ended (status " + std::to_string(status) + ")";
}

}  // namespace

ProcessGroup::~ProcessGroup() { TerminateAll(std::chrono::milliseconds(2000)); }

Result<pid_t> ProcessGroup::Spawn(const ChildSpec& spec) {
  // Everything the child needs is prepared before fork (no allocation after it).
  std::vector<char*> argv;
  for (const auto& a : spec.argv) argv.push_back(const_cast<char*>(a.c_str()));
  argv.push_back(nullptr);
  const int log_fd = open(spec.log_path.c_str(), O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0644);
  if (log_fd < 0) return Internal("cannot open " + spec.log_path + ": " + std::strerror(errno));
  const pid_t parent = getpid();
  const pid_t pid = fork();
  if (pid < 0) {
    close(log_fd);
    return Internal(std::string("fork: ") + std::strerror(errno));
  }
  if (pid == 0) {
    // Child: die with the launcher, log to the file, become the role.
    prctl(PR_SET_PDEATHSIG, SIGTERM);
    if (getppid() != parent) _exit(1);  // the launcher died before prctl
    signal(SIGINT, SIG_DFL);
    signal(SIGTERM, SIG_DFL);
    sigset_t none;
    sigemptyset(&none);
    sigprocmask(SIG_SETMASK, &none, nullptr);
    dup2(log_fd, STDOUT_FILENO);
    dup2(log_fd, STDERR_FILENO);
    const int devnull = open("/dev/null", O_RDONLY);
    if (devnull >= 0) dup2(devnull, STDIN_FILENO);
    execv(argv[0], argv.data());
    const char msg[] = "skipjoin launch: exec failed\n";
    (void)!write(STDERR_FILENO, msg, sizeof(msg) - 1);
    _exit(127);
  }
  close(log_fd);
  children_.push_back({spec, pid, std::chrono::steady_clock::now()});
  return pid;
}

ExitedChild ProcessGroup::Ended(const Child& c, std::string how, bool clean) {
  const auto uptime = std::chrono::duration_cast<std::chrono::milliseconds>(
      std::chrono::steady_clock::now() - c.started);
  return {c.spec.name, c.pid, std::move(how), clean, c.spec.log_path, uptime};
}

std::vector<ExitedChild> ProcessGroup::Reap() {
  std::vector<ExitedChild> out;
  for (auto it = children_.begin(); it != children_.end();) {
    int status = 0;
    const pid_t r = waitpid(it->pid, &status, WNOHANG);
    if (r == it->pid || (r < 0 && errno == ECHILD)) {
      const bool clean = r == it->pid && WIFEXITED(status) && WEXITSTATUS(status) == 0;
      out.push_back(Ended(*it, r == it->pid ? DescribeStatus(status) : "is gone", clean));
      it = children_.erase(it);
    } else {
      ++it;
    }
  }
  return out;
}

std::vector<ExitedChild> ProcessGroup::TerminateAll(std::chrono::milliseconds grace) {
  std::vector<ExitedChild> out = Reap();
  for (const auto& c : children_) kill(c.pid, SIGTERM);
  const auto deadline = std::chrono::steady_clock::now() + grace;
  while (!children_.empty() && std::chrono::steady_clock::now() < deadline) {
    std::this_thread::sleep_for(std::chrono::milliseconds(50));
    for (auto& e : Reap()) out.push_back(std::move(e));
  }
  for (const auto& c : children_) kill(c.pid, SIGKILL);
  for (const auto& c : children_) {
    int status = 0;
    waitpid(c.pid, &status, 0);
    out.push_back(Ended(c, DescribeStatus(status) + " after the grace period", false));
  }
  children_.clear();
  return out;
}

std::string TailOfFile(const std::string& path, int lines) {
  std::ifstream in(path);
  if (!in) return "";
  std::vector<std::string> ring;
  std::string line;
  while (std::getline(in, line)) {
    ring.push_back(line);
    if (static_cast<int>(ring.size()) > lines) ring.erase(ring.begin());
  }
  std::string out;
  for (const auto& l : ring) out += "    | " + l + "\n";
  return out;
}

}  // namespace skipjoin::cli
