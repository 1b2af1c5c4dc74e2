#include "tests/integration/cluster_harness.h"

#include <arpa/inet.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <poll.h>
#include <signal.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <regex>
#include <sstream>
#include <thread>

#include "tests/testutil/tiny_model.h"

namespace skipjoin::integration {
namespace {

using Clock = std::chrono::steady_clock;

std::string ReadFile(const std::string& path) {
  std::ifstream in(path);
  std::stringstream ss;
  ss << in.rdbuf();
  return ss.str();
}

}  // namespace

int FreePort() {
  int fd = socket(AF_INET, SOCK_STREAM, 0);
  sockaddr_in a{};
  a.sin_family = AF_INET;
  a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  bind(fd, reinterpret_cast<sockaddr*>(&a), sizeof(a));
  socklen_t len = sizeof(a);
  getsockname(fd, reinterpret_cast<sockaddr*>(&a), &len);
  close(fd);
  return ntohs(a.sin_port);
}

HttpResponse HttpRequest(int port, const std::string& method, const std::string& path,
                         const std::string& body, std::chrono::milliseconds timeout) {
  HttpResponse r;
  const auto deadline = Clock::now() + timeout;
  int fd = socket(AF_INET, SOCK_STREAM, 0);
  sockaddr_in a{};
  a.sin_family = AF_INET;
  a.sin_port = htons(static_cast<uint16_t>(port));
  a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  if (connect(fd, reinterpret_cast<sockaddr*>(&a), sizeof(a)) != 0) {
    r.body = std::string("(connect failed: ") + std::strerror(errno) + ")";
    close(fd);
    return r;
  }
  std::string req = method + " " + path + " HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\n";
  if (!body.empty()) {
    req +=
        "Content-Type: application/json\r\nContent-Length: " + std::to_string(body.size()) + "\r\n";
  }
  req += "\r\n" + body;
  (void)!send(fd, req.data(), req.size(), MSG_NOSIGNAL);
  std::string resp;
  char buf[8192];
  std::string why = "connection closed";
  while (true) {
    const auto left =
        std::chrono::duration_cast<std::chrono::milliseconds>(deadline - Clock::now());
    pollfd p{fd, POLLIN, 0};
    if (left.count() <= 0) {
      why = "timed out";
      break;
    }
    const int ready = poll(&p, 1, static_cast<int>(left.count()));
    if (ready < 0 && errno == EINTR) continue;
    if (ready <= 0) {
      why = ready == 0 ? "timed out" : std::string("poll: ") + std::strerror(errno);
      break;
    }
    ssize_t n = recv(fd, buf, sizeof(buf), 0);
    if (n < 0 && errno == EINTR) continue;
    if (n < 0) why = std::string("recv: ") + std::strerror(errno);
    if (n <= 0) break;
    resp.append(buf, static_cast<size_t>(n));
  }
  close(fd);
  if (resp.rfind("HTTP/", 0) != 0) {
    r.body = "(no HTTP response: " + why + " after " + std::to_string(resp.size()) + " bytes)";
    return r;
  }
  r.status = std::atoi(resp.c_str() + resp.find(' ') + 1);
  const auto b = resp.find("\r\n\r\n");
  r.body = b == std::string::npos ? "" : resp.substr(b + 4);
  return r;
}

CommandResult RunCommand(const std::vector<std::string>& argv, std::chrono::seconds timeout) {
  CommandResult result;
  const std::string base = (std::filesystem::temp_directory_path() /
                            ("skipjoin_cmd_" + std::to_string(getpid()) + "_" +
                             std::to_string(Clock::now().time_since_epoch().count())))
                               .string();
  const std::string out_path = base + ".out", err_path = base + ".err";
  std::vector<char*> args;
  for (const auto& s : argv) args.push_back(const_cast<char*>(s.c_str()));
  args.push_back(nullptr);
  pid_t pid = fork();
  if (pid == 0) {
    int out = open(out_path.c_str(), O_WRONLY | O_CREAT | O_TRUNC, 0644);
    int err = open(err_path.c_str(), O_WRONLY | O_CREAT | O_TRUNC, 0644);
    dup2(out, STDOUT_FILENO);
    dup2(err, STDERR_FILENO);
    execv(args[0], args.data());
    _exit(127);
  }
  const auto deadline = Clock::now() + timeout;
  int status = 0;
  while (waitpid(pid, &status, WNOHANG) == 0) {
    if (Clock::now() > deadline) {
      kill(pid, SIGKILL);
      waitpid(pid, &status, 0);
      result.err = "timed out\n";
      break;
    }
    std::this_thread::sleep_for(std::chrono::milliseconds(20));
  }
  result.exit_code = WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
  result.out = ReadFile(out_path);
  result.err += ReadFile(err_path);
  std::filesystem::remove(out_path);
  std::filesystem::remove(err_path);
  return result;
}

Cluster::Cluster(std::string cost_model_dir)
    : Cluster([&] {
        ClusterOptions options;
        options.cost_model_dir = std::move(cost_model_dir);
        return options;
      }()) {}

Cluster::Cluster(const ClusterOptions& options) : cost_model_dir_(options.cost_model_dir) {
  static int counter = 0;
  dir_ = (std::filesystem::temp_directory_path() /
          ("skipjoin_cluster_" + std::to_string(getpid()) + "_" + std::to_string(counter++)))
             .string();
  std::filesystem::create_directories(dir_);
  if (cost_model_dir_.empty()) cost_model_dir_ = dir_ + "/cost_models";
  cli_ = SKIPJOIN_CLI_PATH;
  model_path_ = options.model_path;
  if (model_path_.empty()) {
    model_path_ = dir_ + "/tiny.gguf";
    testutil::TinyModelSpec spec;
    spec.max_context = 512;
    (void)testutil::WriteTinyGguf(spec, model_path_);
  }
  http_port_ = FreePort();
  client_port_ = FreePort();
  worker_port_ = FreePort();
  metrics_port_ = FreePort();
  // Two consecutive free ports for the workers' metrics.
  for (int tries = 0; tries < 50; ++tries) {
    const int p = FreePort();
    int fd = socket(AF_INET, SOCK_STREAM, 0);
    sockaddr_in a{};
    a.sin_family = AF_INET;
    a.sin_port = htons(static_cast<uint16_t>(p + 1));
    a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    const bool free_next = bind(fd, reinterpret_cast<sockaddr*>(&a), sizeof(a)) == 0;
    close(fd);
    if (free_next && p + 1 < 65536) {
      worker_metrics_base_ = p;
      break;
    }
  }
  config_path_ = dir_ + "/cluster.yaml";
  std::ofstream(config_path_)
      << "name: itest\n"
      << "coordinator: {node: local, http_port: " << http_port_ << ", client_port: " << client_port_
      << ", worker_port: " << worker_port_ << "}\n"
      << "nodes:\n"
      << "  - name: local\n"
      << "    host: 127.0.0.1\n"
      << "    devices:\n"
      << "      - {kind: cpu, index: 0, threads: 1}\n"
      << "      - {kind: cpu, index: 1, threads: 1}\n"
      << "model: {path: " << model_path_ << ", name: tiny}\n"
      << "replicas: {count: 2, tp: 1}\n"
      << "scheduler: {cost_model_dir: " << cost_model_dir_ << ", step_trace: " << step_trace_path()
      << "}\n"
      << "kv: {block_size: 16, num_device_blocks: 256, host_swap_bytes: 4194304}\n"
      << "metrics: {coordinator_port: " << metrics_port_
      << ", worker_port_base: " << worker_metrics_base_ << "}\n"
      << "heartbeat: {interval_ms: 200, timeout_ms: 1500}\n"
      << "security: {keys_dir: " << keys_dir() << "}\n"
      << "monitoring: " << options.monitoring << "\n"
      << "supervision: " << options.supervision << "\n";
}

Cluster::~Cluster() {
  if (pgid_ > 0) {
    kill(-pgid_, SIGTERM);
    const auto deadline = Clock::now() + std::chrono::seconds(10);
    int status;
    while (waitpid(pgid_, &status, WNOHANG) == 0 && Clock::now() < deadline) {
      std::this_thread::sleep_for(std::chrono::milliseconds(50));
    }
    kill(-pgid_, SIGKILL);  // whatever is left of the group
    waitpid(pgid_, &status, WNOHANG);
  }
  std::error_code ec;
  std::filesystem::remove_all(dir_, ec);
}

bool Cluster::Start(std::chrono::seconds timeout) {
  const std::string out = dir_ + "/launch.out", err = dir_ + "/launch.err";
  const std::string run_dir = this->run_dir();
  pid_t pid = fork();
  if (pid == 0) {
    setpgid(0, 0);  // the test kills this whole group in teardown
    int o = open(out.c_str(), O_WRONLY | O_CREAT | O_TRUNC, 0644);
    int e = open(err.c_str(), O_WRONLY | O_CREAT | O_TRUNC, 0644);
    dup2(o, STDOUT_FILENO);
    dup2(e, STDERR_FILENO);
    execl(cli_.c_str(), cli_.c_str(), "launch", config_path_.c_str(), "--run-dir", run_dir.c_str(),
          "--grace-ms", "3000", "--health-timeout-s", "60", static_cast<char*>(nullptr));
    _exit(127);
  }
  setpgid(pid, pid);
  pgid_ = pid;
  const auto deadline = Clock::now() + timeout;
  while (Clock::now() < deadline) {
    if (ReadFile(out).find("cluster healthy") != std::string::npos) return true;
    int status;
    if (waitpid(pgid_, &status, WNOHANG) == pgid_) {
      pgid_ = -1;
      return false;
    }
    std::this_thread::sleep_for(std::chrono::milliseconds(100));
  }
  return false;
}

int Cluster::Stop() {
  if (pgid_ <= 0) return -1;
  kill(pgid_, SIGTERM);  // launch only: it must take its children down itself
  int status = 0;
  const auto deadline = Clock::now() + std::chrono::seconds(20);
  while (waitpid(pgid_, &status, WNOHANG) == 0) {
    if (Clock::now() > deadline) {
      kill(-pgid_, SIGKILL);
      waitpid(pgid_, &status, 0);
      break;
    }
    std::this_thread::sleep_for(std::chrono::milliseconds(50));
  }
  kill(-pgid_, SIGKILL);
  pgid_ = -1;
  return WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
}

pid_t Cluster::WorkerPid(int k) const {
  const std::string out = ReadFile(dir_ + "/launch.out");
  std::smatch m;
  std::regex re("started worker local/cpu:" + std::to_string(k) + " \\(pid ([0-9]+)\\)");
  if (std::regex_search(out, m, re)) return static_cast<pid_t>(std::stol(m[1]));
  return -1;
}

std::string Cluster::log() const {
  std::string s = "--- launch stdout\n" + ReadFile(dir_ + "/launch.out") + "--- launch stderr\n" +
                  ReadFile(dir_ + "/launch.err");
  for (const char* f : {"coordinator.log", "worker-local-cpu-0.log", "worker-local-cpu-1.log"}) {
    s += std::string("--- ") + f + "\n" + ReadFile(dir_ + "/run/" + f);
  }
  return s;
}

}  // namespace skipjoin::integration
