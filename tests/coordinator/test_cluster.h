// TestCluster: what the coordinator tests that talk to a frontend share: the
// tiny model's tokenizer (written to a temporary GGUF), a CoordinatorCore on
// an ephemeral worker port with the given metrics, and a FakeWorker that
// makes it ready. One per test; owned by the test's thread.
#pragma once

#include <gtest/gtest.h>
#include <unistd.h>

#include <filesystem>
#include <future>
#include <memory>
#include <string>
#include <thread>

#include "common/config/cluster_config.h"
#include "common/model_file.h"
#include "coordinator/server/core.h"
#include "coordinator/tokenizer/tokenizer.h"
#include "tests/coordinator/fake_worker.h"
#include "tests/testutil/tiny_model.h"

namespace skipjoin::server {

class TestCluster {
 public:
  static constexpr int64_t kMaxContext = 512;
  static constexpr uint32_t kDeviceBlocks = 64;

  // Call ASSERT_NO_FATAL_FAILURE(Start(...)) from SetUp: the core, then a
  // worker that makes it ready.
  // `coordinator_yaml`: more keys of the config's coordinator map
  // ("limits: {max_pending_requests: 2}").
  void Start(CoordinatorMetrics* metrics, const std::string& tag,
             const std::string& coordinator_yaml = "") {
    ASSERT_NO_FATAL_FAILURE(StartCore(metrics, tag, coordinator_yaml));
    ASSERT_NO_FATAL_FAILURE(StartWorker());
  }

  // The core alone: not ready until StartWorker().
  // `scheduler_yaml`: the config's scheduler map.
  void StartCore(CoordinatorMetrics* metrics, const std::string& tag,
                 const std::string& coordinator_yaml = "",
                 const std::string& scheduler_yaml =
                     "token_budget: 64, max_running: 8, cost_model_dir: none") {
    path_ = (std::filesystem::temp_directory_path() /
             ("sj_" + tag + "_" + std::to_string(getpid()) + ".gguf"))
                .string();
    ASSERT_TRUE(testutil::WriteTinyGguf({}, path_).ok());
    auto file = ModelFile::Open(path_);
    ASSERT_TRUE(file.ok());
    auto tok = Tokenizer::FromModelFile(**file);
    ASSERT_TRUE(tok.ok()) << tok.status().ToString();
    tokenizer_ = std::move(*tok);
    auto cfg = config::ParseClusterConfig(R"(
name: t
coordinator: {node: local)" + (coordinator_yaml.empty() ? "" : ", " + coordinator_yaml) +
                                              R"(}
nodes: [{name: local, host: 127.0.0.1, devices: [{kind: cpu, index: 0}]}]
model: {path: /tmp/none.gguf, name: tiny}
replicas: {count: 1, tp: 1}
scheduler: {)" + scheduler_yaml + R"(}
kv: {block_size: 16, num_device_blocks: 64, host_swap_bytes: 0}
)",
                                          "t.yaml");
    ASSERT_TRUE(cfg.ok()) << cfg.status().ToString();
    config_ = *cfg;
    CoreOptions o;
    o.config = *cfg;
    o.worker_endpoint = "tcp://127.0.0.1:*";
    o.geometry.bytes_per_block = 1024;
    o.geometry.max_context = kMaxContext;
    auto core = CoordinatorCore::Start(std::move(o), &ctx_, metrics);
    ASSERT_TRUE(core.ok()) << core.status().ToString();
    core_ = std::move(*core);
  }

  // `step_delay`: how long the fake worker takes per step.
  void StartWorker(std::chrono::milliseconds step_delay = 2ms) {
    worker_ = std::make_unique<FakeWorker>(ctx_, *core_);
    worker_->step_delay_ms = static_cast<int>(step_delay.count());
    for (int i = 0; i < 500 && !core_->ready(); ++i) std::this_thread::sleep_for(10ms);
    ASSERT_TRUE(core_->ready());
  }

  // Stop the frontends first.
  void Stop() {
    worker_.reset();
    if (core_) core_->Stop();
    if (!path_.empty()) std::filesystem::remove(path_);
  }

  protocol::StatusReply Status() {
    std::promise<protocol::StatusReply> p;
    auto f = p.get_future();
    core_->GetStatus([&p](protocol::StatusReply r) { p.set_value(std::move(r)); });
    EXPECT_EQ(f.wait_for(5s), std::future_status::ready);
    return f.get();
  }

  zmq::context_t& context() { return ctx_; }
  CoordinatorCore* core() { return core_.get(); }
  const Tokenizer* tokenizer() { return tokenizer_.get(); }
  const config::ClusterConfig& config() const { return config_; }

 private:
  zmq::context_t ctx_;
  std::string path_;
  std::unique_ptr<Tokenizer> tokenizer_;
  config::ClusterConfig config_;
  std::unique_ptr<CoordinatorCore> core_;
  std::unique_ptr<FakeWorker> worker_;
};

}  // namespace skipjoin::server
