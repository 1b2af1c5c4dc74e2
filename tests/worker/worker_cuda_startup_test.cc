// `skipjoin worker --device cuda:N` as a real process on a machine where that
// device cannot be used (no module, driver or GPU): it must exit at startup
// with status 1 and a message naming the device and the CUDA reason, never
// crash, hang until a timeout, or register with the coordinator first.
#include <gtest/gtest.h>
#include <fcntl.h>
#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <chrono>
#include <fstream>
#include <string>
#include <thread>
#include <vector>

#include "worker/engine.h"

namespace skipjoin::worker {
namespace {

struct ProcessResult {
  bool exited = false;   // exited normally (not by a signal or our watchdog)
  int status = -1;       // exit status when exited
  int signal = 0;        // the terminating signal otherwise
  bool timed_out = false;
  double seconds = 0;
  std::string err;       // stderr
};

// Runs argv with stderr captured; kills it after `limit`.
ProcessResult RunProcess(const std::vector<std::string>& argv, std::chrono::seconds limit) {
  ProcessResult r;
  int pipefd[2];
  if (pipe(pipefd) != 0) return r;
  const auto start = std::chrono::steady_clock::now();
  const pid_t pid = fork();
  if (pid == 0) {
    dup2(pipefd[1], STDERR_FILENO);
    const int devnull = open("/dev/null", O_WRONLY);
    if (devnull >= 0) dup2(devnull, STDOUT_FILENO);
    close(pipefd[0]);
    std::vector<char*> args;
    for (const std::string& a : argv) args.push_back(const_cast<char*>(a.c_str()));
    args.push_back(nullptr);
    execv(args[0], args.data());
    _exit(127);
  }
  close(pipefd[1]);
  fcntl(pipefd[0], F_SETFL, O_NONBLOCK);
  char buf[4096];
  int wstatus = 0;
  for (;;) {
    ssize_t n;
    while ((n = read(pipefd[0], buf, sizeof(buf))) > 0) r.err.append(buf, static_cast<size_t>(n));
    if (waitpid(pid, &wstatus, WNOHANG) == pid) break;
    if (std::chrono::steady_clock::now() - start > limit) {
      r.timed_out = true;
      kill(pid, SIGKILL);
      waitpid(pid, &wstatus, 0);
      break;
    }
    std::this_thread::sleep_for(std::chrono::milliseconds(20));
  }
  ssize_t n;
  while ((n = read(pipefd[0], buf, sizeof(buf))) > 0) r.err.append(buf, static_cast<size_t>(n));
  close(pipefd[0]);
  r.seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
  if (!r.timed_out && WIFEXITED(wstatus)) {
    r.exited = true;
    r.status = WEXITSTATUS(wstatus);
  } else if (WIFSIGNALED(wstatus)) {
    r.signal = WTERMSIG(wstatus);
  }
  return r;
}

// A one-node config for the worker (plaintext, so no keys are needed).
std::string ConfigFile() {
  static const std::string path = [] {
    std::string p = "/tmp/sj-cuda-startup-" + std::to_string(getpid()) + ".yaml";
    std::ofstream(p) << "name: cuda-startup\n"
                        "nodes: [{name: local, host: 127.0.0.1, devices: [{kind: cuda, index: 0}]}]\n"
                        "model: {path: /tmp/none.gguf}\n"
                        "replicas: [{devices: [local:cuda:0]}]\n"
                        "security: {auth: none}\n";
    return p;
  }();
  return path;
}

std::vector<std::string> WorkerArgs(const std::string& device) {
  // Nothing listens on the discard port; long timeouts, so only a startup
  // check can end the process within the test's limit.
  return {SKIPJOIN_CLI_PATH, "worker", "--config", ConfigFile(), "--coordinator", "tcp://127.0.0.1:9",
          "--device", device, "--coordinator-timeout-ms", "120000", "--register-timeout-ms", "120000"};
}

TEST(WorkerCudaStartupTest, UnusableDeviceFailsAtStartupNamingDeviceAndReason) {
  auto probe = ProbeDevice("cuda:0");
  if (probe.ok()) GTEST_SKIP() << "cuda:0 is usable here; the GPU checklist (docs/GPU.md) covers it";
  const ProcessResult r = RunProcess(WorkerArgs("cuda:0"), std::chrono::seconds(60));
  ASSERT_FALSE(r.timed_out) << "the worker did not fail at startup; stderr:\n" << r.err;
  ASSERT_TRUE(r.exited) << "the worker died from signal " << r.signal << "; stderr:\n" << r.err;
  EXPECT_EQ(r.status, 1) << r.err;
  EXPECT_NE(r.err.find("--device cuda:0"), std::string::npos) << r.err;
  // The reason the engine gives in-process (the module's or the driver's error)
  // reaches the user unchanged.
  EXPECT_NE(r.err.find(probe.status().message()), std::string::npos)
      << "expected the reason '" << probe.status().message() << "' in:\n" << r.err;
  EXPECT_TRUE(r.err.find("CUDA") != std::string::npos || r.err.find("cuda") != std::string::npos) << r.err;
  std::printf("worker stderr (%.2f s): %s", r.seconds, r.err.c_str());
}

TEST(WorkerCudaStartupTest, MalformedCudaDeviceIsAUsageError) {
  const ProcessResult r = RunProcess(WorkerArgs("cuda:x"), std::chrono::seconds(30));
  ASSERT_TRUE(r.exited) << r.err;
  EXPECT_EQ(r.status, 2) << r.err;
  EXPECT_NE(r.err.find("cuda:x"), std::string::npos) << r.err;
}

}  // namespace
}  // namespace skipjoin::worker
