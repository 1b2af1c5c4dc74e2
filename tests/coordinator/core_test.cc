// The coordinator core (Scheduler actor + WorkerHub) driven by a fake worker:
// a DEALER socket in the test that registers, reports ready and answers every
// step plan with fixed tokens. Tests the whole worker protocol without the
// worker binary.
#include "coordinator/server/core.h"

#include <gtest/gtest.h>

#include <atomic>
#include <chrono>
#include <condition_variable>
#include <mutex>
#include <future>
#include <thread>

#include "protocol/channel.h"
#include "tests/coordinator/fake_worker.h"

namespace skipjoin::server {
namespace {

using namespace std::chrono_literals;


config::ClusterConfig TestConfig(uint32_t timeout_ms = 60000, int tp = 1) {
  std::string devices;
  for (int i = 0; i < tp; ++i) devices += (i ? ", " : "") + ("{kind: cpu, index: " + std::to_string(i) + "}");
  std::string yaml = R"(
name: test
coordinator: {node: local}
nodes:
  - name: local
    host: 127.0.0.1
    devices: [)" + devices + R"(]
model: {path: /tmp/none.gguf, name: tiny}
replicas: {count: 1, tp: )" + std::to_string(tp) + R"(}
scheduler: {policy: mlfq, token_budget: 64, max_running: 8}
kv: {block_size: 16, num_device_blocks: 64, host_swap_bytes: 0}
heartbeat: {interval_ms: 100, timeout_ms: )" + std::to_string(timeout_ms) + "}\n";
  auto c = config::ParseClusterConfig(yaml, "test.yaml");
  EXPECT_TRUE(c.ok()) << c.status().ToString();
  return *c;
}

// Collects events from the core thread.
class CollectingSink : public EventSink {
 public:
  void Deliver(std::vector<SequenceEvent> events) override {
    std::lock_guard<std::mutex> lock(mu_);
    for (auto& e : events) events_.push_back(std::move(e));
    cv_.notify_all();
  }
  // Waits until `pred(events)` holds or the timeout passes.
  template <typename Pred>
  bool WaitFor(Pred pred, std::chrono::milliseconds timeout = 5000ms) {
    std::unique_lock<std::mutex> lock(mu_);
    return cv_.wait_for(lock, timeout, [&] { return pred(events_); });
  }
  std::vector<SequenceEvent> events() {
    std::lock_guard<std::mutex> lock(mu_);
    return events_;
  }

 private:
  std::mutex mu_;
  std::condition_variable cv_;
  std::vector<SequenceEvent> events_;
};

bool HasTerminal(const std::vector<SequenceEvent>& ev) {
  for (const auto& e : ev) {
    if (e.kind != SequenceEvent::Kind::kToken) return true;
  }
  return false;
}

std::unique_ptr<CoordinatorCore> StartCore(zmq::context_t& ctx, CoordinatorMetrics& metrics,
                                           uint32_t timeout_ms = 60000, int tp = 1) {
  CoreOptions o;
  o.config = TestConfig(timeout_ms, tp);
  o.worker_endpoint = "tcp://127.0.0.1:*";
  o.geometry.bytes_per_block = 1024;
  o.geometry.max_context = 512;
  auto core = CoordinatorCore::Start(std::move(o), &ctx, &metrics);
  EXPECT_TRUE(core.ok()) << core.status().ToString();
  return std::move(core).value();
}

bool WaitReady(CoordinatorCore& core) {
  for (int i = 0; i < 500 && !core.ready(); ++i) std::this_thread::sleep_for(10ms);
  return core.ready();
}

protocol::StatusReply GetStatus(CoordinatorCore& core) {
  std::promise<protocol::StatusReply> p;
  auto f = p.get_future();
  core.GetStatus([&p](protocol::StatusReply r) { p.set_value(std::move(r)); });
  EXPECT_EQ(f.wait_for(5s), std::future_status::ready);
  return f.get();
}

SubmitItem Item(CoordinatorCore& core, int32_t max_new, int32_t prompt_len = 5) {
  SubmitItem item;
  item.id = core.NewRequestId();
  item.prompt.assign(prompt_len, 7);
  item.max_new_tokens = max_new;
  return item;
}

// Counts the per-gap inter-token latencies the core reports.
class GapMetrics final : public CoordinatorMetrics {
 public:
  void InterTokenLatency(double seconds) override {
    EXPECT_GE(seconds, 0.0);
    ++gaps;
  }
  std::atomic<int> gaps{0};
};

TEST(CoordinatorCoreTest, GeneratesWithFakeWorker) {
  zmq::context_t ctx;
  GapMetrics metrics;
  auto core = StartCore(ctx, metrics);
  EXPECT_FALSE(core->ready());
  auto sink = std::make_shared<CollectingSink>();
  FakeWorker worker(ctx, *core);
  ASSERT_TRUE(WaitReady(*core));
  EXPECT_EQ(worker.assigned_blocks.load(), 64u);

  SubmitItem a = Item(*core, 3);
  SubmitItem b = Item(*core, 2, 40);  // a prompt longer than one block
  const RequestId ida = a.id, idb = b.id;
  core->Submit({a, b}, sink);
  ASSERT_TRUE(sink->WaitFor([&](const auto& ev) {
    int done = 0;
    for (const auto& e : ev) done += e.kind == SequenceEvent::Kind::kFinished;
    return done == 2;
  }));
  int tokens_a = 0, tokens_b = 0;
  for (const auto& e : sink->events()) {
    if (e.kind == SequenceEvent::Kind::kToken) {
      EXPECT_EQ(e.token, kFakeToken);
      EXPECT_FLOAT_EQ(e.logprob, -0.25f);
      ASSERT_TRUE(e.id == ida || e.id == idb) << e.id;
      (e.id == ida ? tokens_a : tokens_b)++;
    } else {
      EXPECT_EQ(e.finish, protocol::FinishReason::kLength);
    }
  }
  EXPECT_EQ(tokens_a, 3);
  EXPECT_EQ(tokens_b, 2);
  EXPECT_EQ(metrics.gaps.load(), (3 - 1) + (2 - 1));  // every gap, none before a first token
  auto status = GetStatus(*core);
  ASSERT_EQ(status.replicas.size(), 1u);
  EXPECT_TRUE(status.replicas[0].alive);
  EXPECT_EQ(status.replicas[0].workers, 1u);
  EXPECT_EQ(status.replicas[0].kv_device_blocks_used, 0u);
  EXPECT_EQ(status.replicas[0].kv_device_blocks_free, 64u);
}

// What the core reports about the plans it sends.
class PlanMetrics : public CoordinatorMetrics {
 public:
  void StepSent(const std::string&, int64_t plan_bytes, int64_t frames,
                double host_seconds) override {
    std::lock_guard<std::mutex> lock(mu);
    sent.push_back({plan_bytes, frames, host_seconds});
  }
  void StepsInFlight(const std::string&, int64_t steps) override {
    std::lock_guard<std::mutex> lock(mu);
    max_in_flight = std::max(max_in_flight, steps);
  }
  struct Sent {
    int64_t bytes, frames;
    double host_seconds;
  };
  std::mutex mu;
  std::vector<Sent> sent;
  int64_t max_in_flight = 0;
};

// A tp=3 replica: every step is encoded once and the three ranks get the same
// plan; only rank 0 answers. Two steps go out before the first comes back.
TEST(CoordinatorCoreTest, TensorParallelRanksGetOnePlanEncodedOnce) {
  zmq::context_t ctx;
  PlanMetrics metrics;
  auto core = StartCore(ctx, metrics, 60000, /*tp=*/3);
  auto sink = std::make_shared<CollectingSink>();
  FakeWorker w0(ctx, *core, true, 0);
  FakeWorker w1(ctx, *core, true, 1);
  FakeWorker w2(ctx, *core, true, 2);
  ASSERT_TRUE(WaitReady(*core));
  std::vector<SubmitItem> items;
  for (int i = 0; i < 4; ++i) items.push_back(Item(*core, 20, 10 + 9 * i));
  core->Submit(items, sink);
  ASSERT_TRUE(sink->WaitFor([&](const auto& ev) {
    int done = 0;
    for (const auto& e : ev) done += e.kind == SequenceEvent::Kind::kFinished;
    return done == 4;
  }));
  int tokens = 0;
  for (const auto& e : sink->events()) tokens += e.kind == SequenceEvent::Kind::kToken;
  EXPECT_EQ(tokens, 80);
  std::vector<std::string> p0 = w0.plans(), p1 = w1.plans(), p2 = w2.plans();
  std::lock_guard<std::mutex> lock(metrics.mu);
  ASSERT_GE(metrics.sent.size(), 20u);
  EXPECT_EQ(p0.size(), metrics.sent.size());
  EXPECT_EQ(p0, p1);
  EXPECT_EQ(p0, p2);
  for (size_t i = 0; i < metrics.sent.size(); ++i) {
    EXPECT_EQ(metrics.sent[i].frames, 3) << "step " << i;
    if (i < p0.size()) EXPECT_EQ(metrics.sent[i].bytes, static_cast<int64_t>(p0[i].size()));
  }
  EXPECT_EQ(metrics.max_in_flight, 2);
}

TEST(CoordinatorCoreTest, CancelFreesBlocksAndStopsEvents) {
  zmq::context_t ctx;
  NullMetrics metrics;
  auto core = StartCore(ctx, metrics);
  FakeWorker worker(ctx, *core);
  ASSERT_TRUE(WaitReady(*core));
  auto sink = std::make_shared<CollectingSink>();
  SubmitItem item = Item(*core, 400, 30);
  const RequestId id = item.id;
  core->Submit({item}, sink);
  ASSERT_TRUE(sink->WaitFor([](const auto& ev) { return ev.size() >= 3; }));
  EXPECT_GT(GetStatus(*core).replicas[0].kv_device_blocks_used, 0u);
  core->Cancel({id});
  // Blocks come back within one step.
  bool freed = false;
  for (int i = 0; i < 200 && !freed; ++i) {
    freed = GetStatus(*core).replicas[0].kv_device_blocks_used == 0;
    if (!freed) std::this_thread::sleep_for(5ms);
  }
  EXPECT_TRUE(freed);
  const size_t seen = sink->events().size();
  std::this_thread::sleep_for(50ms);
  EXPECT_LE(sink->events().size(), seen + 1);  // at most the step that was in flight
  EXPECT_FALSE(HasTerminal(sink->events()));
}

TEST(CoordinatorCoreTest, RequestBeforeAnyReplicaFailsUnavailable) {
  zmq::context_t ctx;
  NullMetrics metrics;
  auto core = StartCore(ctx, metrics);
  auto sink = std::make_shared<CollectingSink>();
  core->Submit({Item(*core, 3)}, sink);
  ASSERT_TRUE(sink->WaitFor(HasTerminal));
  auto ev = sink->events();
  ASSERT_EQ(ev.size(), 1u);
  EXPECT_EQ(ev[0].kind, SequenceEvent::Kind::kError);
  EXPECT_EQ(ev[0].error.code(), StatusCode::kUnavailable);
}

TEST(CoordinatorCoreTest, SilentWorkerFailsItsRequests) {
  zmq::context_t ctx;
  NullMetrics metrics;
  auto core = StartCore(ctx, metrics, /*timeout_ms=*/300);
  FakeWorker worker(ctx, *core);
  ASSERT_TRUE(WaitReady(*core));
  auto sink = std::make_shared<CollectingSink>();
  worker.StopHeartbeats();
  core->Submit({Item(*core, 400)}, sink);
  ASSERT_TRUE(sink->WaitFor(HasTerminal, 5000ms));
  auto ev = sink->events();
  EXPECT_EQ(ev.back().kind, SequenceEvent::Kind::kError);
  EXPECT_FALSE(core->ready());
}

// A bare DEALER on the worker port: a peer that speaks frames, not the protocol.
zmq::socket_t RawPeer(zmq::context_t& ctx, CoordinatorCore& core, int recv_timeout_ms) {
  zmq::socket_t dealer(ctx, zmq::socket_type::dealer);
  dealer.set(zmq::sockopt::linger, 0);
  dealer.set(zmq::sockopt::rcvtimeo, recv_timeout_ms);
  dealer.connect(core.worker_endpoint());
  return dealer;
}

TEST(CoordinatorCoreTest, MalformedFrameGetsErrorReply) {
  zmq::context_t ctx;
  NullMetrics metrics;
  auto core = StartCore(ctx, metrics);
  zmq::socket_t dealer = RawPeer(ctx, *core, 3000);
  dealer.send(zmq::str_buffer("\xc1garbage"), zmq::send_flags::none);
  zmq::message_t reply;
  auto got = dealer.recv(reply);
  ASSERT_TRUE(got.has_value());
  auto msg = protocol::Decode(std::string_view(static_cast<const char*>(reply.data()), reply.size()));
  ASSERT_TRUE(msg.ok()) << msg.status().ToString();
  EXPECT_TRUE(std::holds_alternative<protocol::ErrorReply>(*msg));
  // The core still works.
  EXPECT_EQ(GetStatus(*core).replicas.size(), 1u);
}

// A heartbeat from a peer without a slot is answered "register again" (the
// worker link's kNotFound), once per heartbeat interval, and outside the
// peer's error budget: after a burst of 40 such heartbeats (a worker that
// outlived a link outage) its malformed frame still gets its own error.
TEST(CoordinatorCoreTest, HeartbeatsFromUnknownPeersAskToRegisterOutsideTheErrorBudget) {
  zmq::context_t ctx;
  NullMetrics metrics;
  auto core = StartCore(ctx, metrics);
  zmq::socket_t dealer = RawPeer(ctx, *core, 500);
  protocol::Heartbeat hb;
  hb.worker_id = 77;
  const std::string frame = protocol::Encode(hb);
  for (int i = 0; i < 40; ++i) dealer.send(zmq::buffer(frame), zmq::send_flags::none);
  dealer.send(zmq::str_buffer("\xc1garbage"), zmq::send_flags::none);
  int register_again = 0, other_errors = 0;
  for (;;) {
    zmq::message_t reply;
    if (!dealer.recv(reply).has_value()) break;
    auto msg =
        protocol::Decode(std::string_view(static_cast<const char*>(reply.data()), reply.size()));
    ASSERT_TRUE(msg.ok()) << msg.status().ToString();
    auto* err = std::get_if<protocol::ErrorReply>(&*msg);
    ASSERT_NE(err, nullptr);
    if (err->error.ToStatus().code() == StatusCode::kNotFound) {
      ++register_again;
    } else {
      ++other_errors;
    }
  }
  EXPECT_GE(register_again, 1);
  EXPECT_LE(register_again, 3);  // one per 100 ms heartbeat interval
  EXPECT_EQ(other_errors, 1);    // the malformed frame's
}

}  // namespace
}  // namespace skipjoin::server
