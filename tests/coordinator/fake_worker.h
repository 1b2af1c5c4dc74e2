// FakeWorker: a DEALER in the test process that speaks the worker protocol:
// registers as local:cpu:<device_index>, reports ready with the assigned pool,
// answers each step plan with kFakeToken (logprob -0.25) for every sampling
// sequence (rank 0 only, as real workers do), and sends heartbeats until told
// to go silent. Keeps the plans it got, re-encoded. Owns one thread.
#pragma once

#include <gtest/gtest.h>

#include <atomic>
#include <chrono>
#include <memory>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

#include "protocol/channel.h"
#include "coordinator/server/core.h"
#include "protocol/codec.h"

namespace skipjoin::server {

using namespace std::chrono_literals;

inline constexpr int32_t kFakeToken = 42;

class FakeWorker {
 public:
  FakeWorker(zmq::context_t& ctx, const CoordinatorCore& core, bool heartbeat = true,
             uint32_t device_index = 0)
      : heartbeat_(heartbeat), device_index_(device_index), cluster_id_(core.cluster_id()) {
    auto ch = protocol::DealerChannel::Connect(ctx, core.worker_endpoint());
    EXPECT_TRUE(ch.ok());
    thread_ = std::thread([this, ch = std::make_shared<protocol::DealerChannel>(std::move(*ch))] { Run(*ch); });
  }
  ~FakeWorker() {
    stop_ = true;
    thread_.join();
  }
  void StopHeartbeats() { heartbeat_ = false; silent_ = true; }
  int steps() const { return steps_.load(); }
  std::vector<std::string> plans() {
    std::lock_guard<std::mutex> lock(mu_);
    return plans_;
  }
  std::atomic<uint32_t> assigned_blocks{0};
  std::atomic<int> step_delay_ms{2};  // time taken per step

 private:
  void Run(protocol::DealerChannel& ch) {
    protocol::WorkerRegister reg;
    reg.node = "local";
    reg.device_kind = protocol::DeviceKind::kCpu;
    reg.device_index = device_index_;
    reg.device_memory_bytes = 1ull << 30;
    reg.cluster_id = cluster_id_;
    EXPECT_TRUE(ch.Send(reg, 1000ms).ok());
    auto last_hb = std::chrono::steady_clock::now();
    while (!stop_) {
      auto m = ch.Recv(20ms);
      if (silent_) continue;
      if (heartbeat_ && std::chrono::steady_clock::now() - last_hb > 100ms) {
        protocol::Heartbeat hb;
        hb.worker_id = worker_id_;
        (void)ch.Send(hb, 100ms);
        last_hb = std::chrono::steady_clock::now();
      }
      if (!m.ok()) continue;
      if (auto* a = std::get_if<protocol::ModelAssignment>(&*m)) {
        worker_id_ = a->worker_id;
        rank_ = a->tp_rank;
        assigned_blocks = a->kv.num_device_blocks;
        protocol::WorkerReady ready;
        ready.worker_id = a->worker_id;
        ready.num_device_blocks = a->kv.num_device_blocks;
        ready.num_host_blocks = a->kv.num_host_blocks;
        EXPECT_TRUE(ch.Send(ready, 1000ms).ok());
      } else if (auto* plan = std::get_if<protocol::StepPlan>(&*m)) {
        {
          std::lock_guard<std::mutex> lock(mu_);
          std::string frame;
          protocol::EncodeInto(*plan, &frame);
          plans_.push_back(std::move(frame));
        }
        ++steps_;
        if (rank_ != 0) continue;
        protocol::StepResult result;
        result.replica_id = plan->replica_id;
        result.step_id = plan->step_id;
        result.worker_id = worker_id_;
        for (size_t i = 0; i < plan->num_sequences(); ++i) {
          protocol::SequenceOutput o;
          o.seq_id = plan->seq_ids[i];
          o.sampled_token = (plan->flags[i] & protocol::kSeqSample) ? kFakeToken : -1;
          o.logprob = -0.25f;
          result.sequences.push_back(o);
        }
        std::this_thread::sleep_for(std::chrono::milliseconds(step_delay_ms.load()));
        EXPECT_TRUE(ch.Send(result, 1000ms).ok());
      }
    }
  }

  std::thread thread_;
  std::atomic<bool> stop_{false};
  std::atomic<bool> heartbeat_;
  std::atomic<bool> silent_{false};
  std::atomic<int> steps_{0};
  uint32_t device_index_;
  std::string cluster_id_;
  uint32_t worker_id_ = 0;
  uint32_t rank_ = 0;
  std::mutex mu_;
  std::vector<std::string> plans_;
};

}  // namespace skipjoin::server
