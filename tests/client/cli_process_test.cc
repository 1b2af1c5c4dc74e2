// The cluster commands as a user runs them: real `skipjoin` processes on
// loopback, bounded in time. Without a coordinator, submit and status fail in
// about --connect-timeout-ms and name the address they tried; submit --config
// applies --set; launch --help lists its key flags; against a real cluster
// (tests/integration/cluster_harness.h), submit --logprobs prints a table and
// a running request outlives --timeout-ms while the coordinator answers.
#include <gtest/gtest.h>
#include <signal.h>
#include <unistd.h>

#include <chrono>
#include <filesystem>
#include <fstream>
#include <regex>
#include <sstream>
#include <thread>

#include "tests/integration/cluster_harness.h"

namespace skipjoin::integration {
namespace {

using Clock = std::chrono::steady_clock;
using std::chrono::seconds;

double SecondsSince(Clock::time_point t) {
  return std::chrono::duration<double>(Clock::now() - t).count();
}

std::vector<std::string> Lines(const std::string& text) {
  std::vector<std::string> out;
  std::istringstream in(text);
  for (std::string line; std::getline(in, line);) out.push_back(line);
  return out;
}

// A config whose coordinator nobody runs (security off, so no keys are read).
class UnservedConfig {
 public:
  explicit UnservedConfig(int client_port)
      : path_(std::filesystem::temp_directory_path() /
              ("cli_process_test_" + std::to_string(getpid()) + ".yaml")) {
    std::ofstream(path_) << "name: t\n"
                         << "coordinator: {node: local, client_port: " << client_port << "}\n"
                         << "nodes:\n"
                         << "  - {name: local, host: 127.0.0.1, devices: [{kind: cpu, index: 0}]}\n"
                         << "model: {path: /nonexistent.gguf}\n"
                         << "replicas: {count: 1, tp: 1}\n"
                         << "security: {auth: none}\n";
  }
  ~UnservedConfig() { std::filesystem::remove(path_); }
  std::string path() const { return path_.string(); }

 private:
  std::filesystem::path path_;
};

TEST(CliProcessTest, LaunchHelpListsTheKeyFlags) {
  auto r = RunCommand({SKIPJOIN_CLI_PATH, "launch", "--help"}, seconds(10));
  ASSERT_EQ(r.exit_code, 0) << r.err;
  for (const char* flag : {"--model", "--http-port", "--api-key", "--set key=value"}) {
    EXPECT_NE(r.out.find(flag), std::string::npos) << flag << "\n" << r.out;
  }
  EXPECT_NE(r.out.find("= --set coordinator.http_port=N"), std::string::npos) << r.out;
  // Supervision: what is restarted, and the config keys that tune it.
  for (const char* text : {"Supervision:", "supervision:", "max_restarts", "backoff_initial_ms"}) {
    EXPECT_NE(r.out.find(text), std::string::npos) << text << "\n" << r.out;
  }
}

TEST(CliProcessTest, SubmitWithNoCoordinatorFailsFastNamingTheAddress) {
  const int port = FreePort();  // bound and released: nobody listens there
  const std::string endpoint = "tcp://127.0.0.1:" + std::to_string(port);
  const auto start = Clock::now();
  auto r = RunCommand({SKIPJOIN_CLI_PATH, "submit", "--coordinator", endpoint, "--prompt", "hi"},
                      seconds(30));
  const double took = SecondsSince(start);
  EXPECT_EQ(r.exit_code, 1) << r.err;
  EXPECT_LT(took, 5.0);
  EXPECT_GE(took, 1.5);  // it did give the coordinator the 2 s
  EXPECT_NE(r.err.find("no coordinator answered at " + endpoint + " within 2 s"), std::string::npos)
      << r.err;
  EXPECT_NE(r.err.find("skipjoin launch CONFIG"), std::string::npos) << r.err;
}

TEST(CliProcessTest, StatusWithNoCoordinatorFailsFast) {
  const std::string endpoint = "tcp://127.0.0.1:" + std::to_string(FreePort());
  const auto start = Clock::now();
  auto r = RunCommand(
      {SKIPJOIN_CLI_PATH, "status", "--coordinator", endpoint, "--connect-timeout-ms", "1000"},
      seconds(30));
  EXPECT_LT(SecondsSince(start), 4.0);
  EXPECT_EQ(r.exit_code, 1) << r.err;
  EXPECT_NE(r.err.find("no coordinator answered at " + endpoint + " within 1 s"), std::string::npos)
      << r.err;
}

TEST(CliProcessTest, SubmitConfigAppliesSetOverrides) {
  UnservedConfig config(FreePort());
  const int port = FreePort();
  auto r = RunCommand({SKIPJOIN_CLI_PATH, "submit", "--config", config.path(), "--set",
                       "coordinator.client_port=" + std::to_string(port), "--prompt", "hi",
                       "--connect-timeout-ms", "500"},
                      seconds(30));
  EXPECT_EQ(r.exit_code, 1) << r.err;
  EXPECT_NE(r.err.find("at tcp://127.0.0.1:" + std::to_string(port) + " within"), std::string::npos)
      << r.err;
  // A --set the config rejects is an error that names it.
  auto bad = RunCommand({SKIPJOIN_CLI_PATH, "submit", "--config", config.path(),
                         "--set=coordinator.client_port=99999", "--prompt", "hi"},
                        seconds(30));
  EXPECT_EQ(bad.exit_code, 2) << bad.err;
  EXPECT_NE(bad.err.find("client_port"), std::string::npos) << bad.err;
}

class CliClusterTest : public ::testing::Test {
 protected:
  void SetUp() override { ASSERT_TRUE(cluster_.Start()) << cluster_.log(); }
  pid_t CoordinatorPid() const {
    std::smatch m;
    const std::string log = cluster_.log();
    if (std::regex_search(log, m, std::regex("started coordinator \\(pid ([0-9]+)\\)"))) {
      return static_cast<pid_t>(std::stol(m[1]));
    }
    return -1;
  }
  Cluster cluster_;
};

// One row per rank: replica, rank, node, host, device, state.
TEST_F(CliClusterTest, StatusShowsWhereEveryWorkerRuns) {
  auto r = RunCommand({cluster_.cli(), "status", "--config", cluster_.config_path()}, seconds(30));
  ASSERT_EQ(r.exit_code, 0) << r.err << cluster_.log();
  const std::regex header(R"(\nreplica\s+rank\s+node\s+host\s+device\s+state\n)");
  EXPECT_TRUE(std::regex_search(r.out, header)) << r.out;
  for (int k = 0; k < 2; ++k) {
    const std::regex row("\nreplica-" + std::to_string(k) +
                         R"(\s+0\s+local\s+127\.0\.0\.1\s+cpu:)" + std::to_string(k) +
                         R"(\s+ready\n)");
    EXPECT_TRUE(std::regex_search(r.out, row)) << "replica-" << k << ":\n" << r.out;
  }
}

// Greedy: each token is its own most likely alternative, so its logprob is
// the first alternative's; token texts come from the config's model file.
TEST_F(CliClusterTest, SubmitLogprobsPrintsTokensLogprobsAndAlternatives) {
  for (const char* stream : {"--stream", "--stream=false"}) {
    auto r = RunCommand({cluster_.cli(), "submit", "--config", cluster_.config_path(), "--prompt",
                         "hello world", "--max-tokens", "6", "--logprobs", "3", stream},
                        seconds(60));
    ASSERT_EQ(r.exit_code, 0) << r.err << cluster_.log();
    const auto at = r.out.find("logprobs (3 alternatives per token):\n");
    ASSERT_NE(at, std::string::npos) << r.out;
    const auto lines = Lines(r.out.substr(at));
    ASSERT_GE(lines.size(), 3u) << r.out;
    EXPECT_NE(lines[1].find("token"), std::string::npos) << lines[1];
    // "K  "text"  -L.LLLL  "a" -x.xxxx | "b" -y.yyyy | "c" -z.zzzz"
    const std::regex row(
        R"(^(\d+)  (".*")\s+(-?\d+\.\d{4})  (".*") (-?\d+\.\d{4}) \| ".*" -?\d+\.\d{4} \| ".*" -?\d+\.\d{4}$)");
    int rows = 0;
    for (size_t i = 2; i < lines.size(); ++i) {
      std::smatch m;
      ASSERT_TRUE(std::regex_match(lines[i], m, row)) << "line: " << lines[i] << "\n" << r.out;
      EXPECT_EQ(std::stoi(m[1]), rows);
      EXPECT_EQ(m[3], m[5]) << lines[i];  // the chosen token's logprob is the best one's
      EXPECT_EQ(m[2].str(), m[4].str() + std::string(m[2].length() - m[4].length(), ' '))
          << lines[i];
      ++rows;
    }
    EXPECT_EQ(rows, 6) << r.out;
    EXPECT_EQ(r.err.find("tokens show as ids"), std::string::npos) << r.err;
  }
}

// Workers stopped for a while: nothing comes for longer than --timeout-ms, but
// the coordinator answers the probes, so the request is not cut off.
TEST_F(CliClusterTest, SubmitWaitsForASilentRequestWhileTheCoordinatorAnswers) {
  const pid_t w0 = cluster_.WorkerPid(0), w1 = cluster_.WorkerPid(1);
  ASSERT_GT(w0, 0);
  ASSERT_GT(w1, 0);
  ASSERT_EQ(kill(w0, SIGSTOP), 0);
  ASSERT_EQ(kill(w1, SIGSTOP), 0);
  CommandResult r;
  const auto start = Clock::now();
  std::thread submit([&] {
    r = RunCommand({cluster_.cli(), "submit", "--config", cluster_.config_path(), "--prompt",
                    "hello world", "--max-tokens", "4", "--stream=false", "--timeout-ms", "300"},
                   seconds(60));
  });
  // Below the cluster's heartbeat timeout (1.5 s), so the workers stay members.
  std::this_thread::sleep_for(std::chrono::milliseconds(1000));
  kill(w0, SIGCONT);
  kill(w1, SIGCONT);
  submit.join();
  EXPECT_EQ(r.exit_code, 0) << r.err << cluster_.log();
  EXPECT_GT(SecondsSince(start), 0.9);
  EXPECT_NE(r.err.find("finish_reason="), std::string::npos) << r.err;
}

// A stopped coordinator (its port still open, nothing answers) ends the wait
// after --timeout-ms with a message that says so.
TEST_F(CliClusterTest, SubmitGivesUpOnAStoppedCoordinator) {
  const pid_t coordinator = CoordinatorPid();
  ASSERT_GT(coordinator, 0) << cluster_.log();
  ASSERT_EQ(kill(coordinator, SIGSTOP), 0);
  const auto start = Clock::now();
  auto r = RunCommand({cluster_.cli(), "submit", "--config", cluster_.config_path(), "--prompt",
                       "hello world", "--max-tokens", "4", "--connect-timeout-ms", "1000"},
                      seconds(30));
  const double took = SecondsSince(start);
  kill(coordinator, SIGCONT);
  EXPECT_EQ(r.exit_code, 1) << r.err;
  EXPECT_LT(took, 5.0);
  EXPECT_NE(r.err.find("no coordinator answered at " + cluster_.client_endpoint()),
            std::string::npos)
      << r.err;
}

}  // namespace
}  // namespace skipjoin::integration
