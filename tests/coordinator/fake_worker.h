// FakeWorker: a DEALER in the test process that speaks the worker protocol:
// registers as local:cpu:0, reports ready with the assigned pool, answers each
// step plan with kFakeToken (logprob -0.25) for every sampling sequence, and
// sends heartbeats until told to go silent. Owns one thread.
#pragma once

#include <gtest/gtest.h>

#include <atomic>
#include <chrono>
#include <memory>
#include <string>
#include <thread>

#include "protocol/channel.h"

namespace skipjoin::server {

using namespace std::chrono_literals;

inline constexpr int32_t kFakeToken = 42;

class FakeWorker {
 public:
  FakeWorker(zmq::context_t& ctx, const std::string& endpoint, bool heartbeat = true) : heartbeat_(heartbeat) {
    auto ch = protocol::DealerChannel::Connect(ctx, endpoint);
    EXPECT_TRUE(ch.ok());
    thread_ = std::thread([this, ch = std::make_shared<protocol::DealerChannel>(std::move(*ch))] { Run(*ch); });
  }
  ~FakeWorker() {
    stop_ = true;
    thread_.join();
  }
  void StopHeartbeats() { heartbeat_ = false; silent_ = true; }
  int steps() const { return steps_.load(); }
  std::atomic<uint32_t> assigned_blocks{0};

 private:
  void Run(protocol::DealerChannel& ch) {
    protocol::WorkerRegister reg;
    reg.node = "local";
    reg.device_kind = protocol::DeviceKind::kCpu;
    reg.device_index = 0;
    reg.device_memory_bytes = 1ull << 30;
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
        assigned_blocks = a->kv.num_device_blocks;
        protocol::WorkerReady ready;
        ready.worker_id = a->worker_id;
        ready.num_device_blocks = a->kv.num_device_blocks;
        ready.num_host_blocks = a->kv.num_host_blocks;
        EXPECT_TRUE(ch.Send(ready, 1000ms).ok());
      } else if (auto* plan = std::get_if<protocol::StepPlan>(&*m)) {
        protocol::StepResult result;
        result.replica_id = plan->replica_id;
        result.step_id = plan->step_id;
        result.worker_id = worker_id_;
        for (const auto& s : plan->sequences) {
          protocol::SequenceOutput o;
          o.seq_id = s.seq_id;
          o.sampled_token = s.sample ? kFakeToken : -1;
          o.logprob = -0.25f;
          result.sequences.push_back(o);
        }
        std::this_thread::sleep_for(2ms);
        ++steps_;
        EXPECT_TRUE(ch.Send(result, 1000ms).ok());
      }
    }
  }

  std::thread thread_;
  std::atomic<bool> stop_{false};
  std::atomic<bool> heartbeat_;
  std::atomic<bool> silent_{false};
  std::atomic<int> steps_{0};
  uint32_t worker_id_ = 0;
};

}  // namespace skipjoin::server
