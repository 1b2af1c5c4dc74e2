// launch's supervision (client/supervisor.h): the backoff as a pure
// computation, then the Supervisor with real short-lived processes (/bin/sh)
// and millisecond backoffs, each case bounded to a few seconds.
#include "client/supervisor.h"

#include <gtest/gtest.h>
#include <unistd.h>

#include <chrono>
#include <filesystem>
#include <fstream>
#include <string>
#include <thread>

namespace skipjoin::cli {
namespace {

using std::chrono::milliseconds;
using Outcome = Supervisor::Outcome;
using Role = Supervisor::Role;

config::SupervisionConfig Policy(uint32_t initial, uint32_t max, uint32_t max_restarts) {
  config::SupervisionConfig p;
  p.backoff_initial_ms = initial;
  p.backoff_max_ms = max;
  p.max_restarts = max_restarts;
  return p;
}

TEST(RestartBackoffTest, DoublesUpToTheCapThenGivesUpAfterMaxRestarts) {
  RestartBackoff b(Policy(500, 3000, 5));
  const milliseconds ran(1000);  // well under stable_after_ms (60 s)
  EXPECT_EQ(b.OnFailure(ran), milliseconds(500));
  EXPECT_EQ(b.OnFailure(ran), milliseconds(1000));
  EXPECT_EQ(b.OnFailure(ran), milliseconds(2000));
  EXPECT_EQ(b.OnFailure(ran), milliseconds(3000));
  EXPECT_EQ(b.OnFailure(ran), milliseconds(3000));
  EXPECT_EQ(b.failures_in_a_row(), 5u);
  EXPECT_EQ(b.OnFailure(ran), std::nullopt);
  EXPECT_EQ(b.failures_in_a_row(), 6u);
}

TEST(RestartBackoffTest, AStableRunStartsANewRunOfFailures) {
  config::SupervisionConfig p = Policy(500, 30000, 3);
  p.stable_after_ms = 60000;
  RestartBackoff b(p);
  for (int i = 0; i < 3; ++i) ASSERT_TRUE(b.OnFailure(milliseconds(10)).has_value());
  // It ran for a minute: the next failure is the first of a new run.
  EXPECT_EQ(b.OnFailure(milliseconds(60000)), milliseconds(500));
  EXPECT_EQ(b.failures_in_a_row(), 1u);
  EXPECT_EQ(b.OnFailure(milliseconds(59999)), milliseconds(1000));
}

TEST(RestartBackoffTest, LargeCapsDoNotOverflow) {
  RestartBackoff b(Policy(3'600'000, 3'600'000, 1000));
  for (int i = 0; i < 1000; ++i) ASSERT_EQ(b.OnFailure(milliseconds(0)), milliseconds(3'600'000));
}

class SupervisorTest : public ::testing::Test {
 protected:
  void SetUp() override {
    dir_ = std::filesystem::temp_directory_path() /
           ("skipjoin_supervisor_" + std::to_string(getpid()) + "_" +
            ::testing::UnitTest::GetInstance()->current_test_info()->name());
    std::filesystem::create_directories(dir_);
  }
  void TearDown() override {
    group_.TerminateAll(milliseconds(500));
    std::filesystem::remove_all(dir_);
  }

  // A /bin/sh child that appends a line to its own file each time it starts.
  ChildSpec Shell(const std::string& name, const std::string& script) {
    const std::string runs = (dir_ / (name + ".runs")).string();
    return {name,
            {"/bin/sh", "-c", "echo run >> " + runs + "; " + script},
            (dir_ / (name + ".log")).string()};
  }
  int Runs(const std::string& name) {
    std::ifstream in(dir_ / (name + ".runs"));
    int n = 0;
    for (std::string line; std::getline(in, line);) ++n;
    return n;
  }
  // Ticks until the outcome is not kRunning or `limit` passes.
  Outcome TickUntilDone(Supervisor& s, milliseconds limit) {
    const auto deadline = std::chrono::steady_clock::now() + limit;
    Outcome o = Outcome::kRunning;
    while ((o = s.Tick()) == Outcome::kRunning && std::chrono::steady_clock::now() < deadline)
      std::this_thread::sleep_for(milliseconds(5));
    return o;
  }

  std::filesystem::path dir_;
  ProcessGroup group_;
};

TEST_F(SupervisorTest, RestartsACrashedWorkerUntilMaxRestartsThenLetsItGo) {
  Supervisor s(
      Policy(10, 40, 3), [] { return true; }, &group_);
  ASSERT_TRUE(s.Start(Shell("w", "kill -9 $$"), Role::kWorker).ok());
  // Started, restarted 3 times (10, 20, 40 ms), then given up: nothing left.
  EXPECT_EQ(TickUntilDone(s, milliseconds(5000)), Outcome::kAllExited);
  EXPECT_EQ(Runs("w"), 4);
}

TEST_F(SupervisorTest, AWorkerThatGivesUpLeavesTheOthersRunning) {
  Supervisor s(
      Policy(10, 10, 2), [] { return true; }, &group_);
  ASSERT_TRUE(s.Start(Shell("bad", "exit 1"), Role::kWorker).ok());
  ASSERT_TRUE(s.Start(Shell("good", "sleep 30"), Role::kWorker).ok());
  const auto deadline = std::chrono::steady_clock::now() + milliseconds(3000);
  while (Runs("bad") < 3 && std::chrono::steady_clock::now() < deadline) {
    EXPECT_EQ(s.Tick(), Outcome::kRunning);
    std::this_thread::sleep_for(milliseconds(5));
  }
  std::this_thread::sleep_for(milliseconds(100));
  EXPECT_EQ(s.Tick(), Outcome::kRunning);
  EXPECT_EQ(Runs("bad"), 3);  // the start and 2 restarts
  EXPECT_EQ(Runs("good"), 1);
  EXPECT_EQ(group_.num_alive(), 1);
}

TEST_F(SupervisorTest, ACrashedCoordinatorIsRestartedAndGivenUpOnAfterMaxRestarts) {
  Supervisor s(
      Policy(10, 10, 2), [] { return true; }, &group_);
  ASSERT_TRUE(s.Start(Shell("coordinator", "sleep 0.05; exit 1"), Role::kCoordinator).ok());
  ASSERT_TRUE(s.Start(Shell("w", "sleep 30"), Role::kWorker).ok());
  EXPECT_EQ(TickUntilDone(s, milliseconds(5000)), Outcome::kGaveUp);
  EXPECT_EQ(Runs("coordinator"), 3);
  EXPECT_EQ(Runs("w"), 1);  // its workers stay up while it restarts
}

TEST_F(SupervisorTest, ACoordinatorThatExitsCleanlyRestartsNothing) {
  // A stopping coordinator has closed its HTTP port: it does not answer.
  Supervisor s(
      Policy(10, 10, 5), [] { return false; }, &group_);
  // The coordinator stops on purpose; its worker, told to shut down, exits 0
  // with it and another one is killed at the same time: none comes back.
  ASSERT_TRUE(s.Start(Shell("coordinator", "sleep 0.1; exit 0"), Role::kCoordinator).ok());
  ASSERT_TRUE(s.Start(Shell("w0", "sleep 0.1; exit 0"), Role::kWorker).ok());
  ASSERT_TRUE(s.Start(Shell("w1", "sleep 30"), Role::kWorker).ok());
  EXPECT_EQ(TickUntilDone(s, milliseconds(3000)), Outcome::kCoordinatorStopped);
  std::this_thread::sleep_for(milliseconds(100));
  EXPECT_EQ(s.Tick(), Outcome::kCoordinatorStopped);
  EXPECT_EQ(Runs("coordinator"), 1);
  EXPECT_EQ(Runs("w0"), 1);
  // WaitForExits waits for what is left, restarting nothing.
  s.WaitForExits(milliseconds(50));
  EXPECT_EQ(group_.num_alive(), 1);
}

TEST_F(SupervisorTest, AWorkerToldToStopWaitsUntilTheCoordinatorAnswers) {
  int probes = 0;
  bool answering = false;
  Supervisor s(
      Policy(10, 10, 5), [&] { return ++probes, answering; }, &group_);
  ASSERT_TRUE(s.Start(Shell("coordinator", "sleep 30"), Role::kCoordinator).ok());
  ASSERT_TRUE(s.Start(Shell("w", "exit 0"), Role::kWorker).ok());
  for (int i = 0; i < 40; ++i) {  // 200 ms: many times the backoff
    ASSERT_EQ(s.Tick(), Outcome::kRunning);
    std::this_thread::sleep_for(milliseconds(5));
  }
  EXPECT_EQ(Runs("w"), 1);  // held while the coordinator does not answer
  EXPECT_GT(probes, 0);
  answering = true;  // its replica was taken down: it is started again
  const auto deadline = std::chrono::steady_clock::now() + milliseconds(2000);
  while (Runs("w") < 2 && std::chrono::steady_clock::now() < deadline) {
    ASSERT_EQ(s.Tick(), Outcome::kRunning);
    std::this_thread::sleep_for(milliseconds(5));
  }
  EXPECT_GE(Runs("w"), 2);
}

TEST_F(SupervisorTest, WithRestartOffAWorkerStaysDownAndACoordinatorStopsTheNode) {
  config::SupervisionConfig off = Policy(10, 10, 5);
  off.restart = false;
  Supervisor s(
      off, [] { return true; }, &group_);
  ASSERT_TRUE(s.Start(Shell("coordinator", "sleep 0.3; kill -9 $$"), Role::kCoordinator).ok());
  ASSERT_TRUE(s.Start(Shell("w", "kill -9 $$"), Role::kWorker).ok());
  EXPECT_EQ(TickUntilDone(s, milliseconds(3000)), Outcome::kGaveUp);
  EXPECT_EQ(Runs("w"), 1);
  EXPECT_EQ(Runs("coordinator"), 1);
}

}  // namespace
}  // namespace skipjoin::cli
