// The worker's Link + Executor against a fake coordinator (a ROUTER in the
// test): registration, assignment, ready, steps equal to a direct Engine run,
// errors for malformed / unexpected frames and bad plans, heartbeats,
// Shutdown, and exiting when the coordinator goes away.
#include <gtest/gtest.h>
#include <prometheus/registry.h>
#include <unistd.h>

#include <filesystem>
#include <future>
#include <thread>

#include "monitoring/metrics_server.h"
#include "protocol/channel.h"
#include "tests/testutil/tiny_model.h"
#include "worker/engine.h"
#include "worker/process/link.h"

namespace skipjoin::worker {
namespace {

using std::chrono::milliseconds;

class WorkerLinkTest : public ::testing::Test {
 protected:
  void SetUp() override {
    model_path_ = (std::filesystem::temp_directory_path() /
                   ("skipjoin_worker_link_" + std::to_string(getpid()) + ".gguf"))
                      .string();
    ASSERT_TRUE(testutil::WriteTinyGguf({}, model_path_).ok());
    auto router = protocol::RouterChannel::Bind(context_, "tcp://127.0.0.1:*");
    ASSERT_TRUE(router.ok()) << router.status().ToString();
    router_.emplace(std::move(router).value());
    registry_ = std::make_shared<prometheus::Registry>();
    metrics_ = std::make_unique<monitoring::WorkerMetrics>(*registry_);
  }
  void TearDown() override {
    if (link_) link_->RequestStop();
    if (result_.valid()) result_.wait_for(std::chrono::seconds(10));
    std::filesystem::remove(model_path_);
  }

  void StartLink(milliseconds coordinator_timeout = milliseconds(1000)) {
    LinkOptions o;
    o.coordinator = router_->endpoint();
    o.registration.node = "test-node";
    o.registration.pid = getpid();
    o.executor.node = "test-node";
    o.executor.device = "cpu:0";
    o.executor.threads = 1;
    o.heartbeat_interval = milliseconds(100);
    o.coordinator_timeout = coordinator_timeout;
    o.register_timeout = milliseconds(20000);
    link_ = std::make_unique<Link>(o, metrics_.get());
    result_ = std::async(std::launch::async, [this] { return link_->Run(); });
  }

  // Next message that is not a heartbeat (those are counted).
  protocol::Message Next() {
    while (true) {
      auto in = router_->Recv(milliseconds(10000));
      EXPECT_TRUE(in.ok()) << in.status().ToString();
      if (!in.ok()) return protocol::Shutdown{"test: nothing received"};
      peer_ = in->peer;
      EXPECT_TRUE(in->message.ok()) << in->message.status().ToString();
      if (std::holds_alternative<protocol::Heartbeat>(*in->message)) {
        ++heartbeats_;
        continue;
      }
      return *in->message;
    }
  }
  template <typename T>
  T NextAs() {
    protocol::Message m = Next();
    EXPECT_TRUE(std::holds_alternative<T>(m))
        << "expected " << protocol::MessageTypeName(T::kType) << ", got "
        << protocol::MessageTypeName(protocol::TypeOf(m));
    return std::holds_alternative<T>(m) ? std::get<T>(m) : T{};
  }
  void Send(const protocol::Message& m) {
    ASSERT_TRUE(router_->Send(peer_, m, milliseconds(1000)).ok());
  }

  protocol::ModelAssignment Assignment() const {
    protocol::ModelAssignment a;
    a.worker_id = 7;
    a.replica_id = 1;
    a.model_path = model_path_;
    a.kv.block_size = 16;
    a.kv.num_device_blocks = 64;
    a.kv.num_host_blocks = 8;
    a.engine.max_batch_tokens = 256;
    return a;
  }

  // Registers and loads; returns once WorkerReady arrived.
  void Bringup() {
    StartLink();
    auto reg = NextAs<protocol::WorkerRegister>();
    EXPECT_EQ(reg.node, "test-node");
    EXPECT_EQ(reg.pid, getpid());
    Send(Assignment());
    auto ready = NextAs<protocol::WorkerReady>();
    EXPECT_EQ(ready.worker_id, 7u);
    EXPECT_EQ(ready.num_device_blocks, 64u);
    EXPECT_EQ(ready.num_host_blocks, 8u);
    EXPECT_GT(ready.load_seconds, 0.0);
  }

  zmq::context_t context_{1};
  std::optional<protocol::RouterChannel> router_;
  std::string peer_;
  std::string model_path_;
  std::shared_ptr<prometheus::Registry> registry_;
  std::unique_ptr<monitoring::WorkerMetrics> metrics_;
  std::unique_ptr<Link> link_;
  std::future<int> result_;
  int heartbeats_ = 0;
};

protocol::StepPlan Prefill(uint64_t step_id, std::vector<int32_t> prompt) {
  protocol::StepPlan plan;
  plan.replica_id = 1;
  plan.step_id = step_id;
  plan.epoch = 1;
  protocol::SequenceStart start;
  start.seq_id = 100;
  start.sampling.temperature = 0;
  plan.starts.push_back(start);
  plan.seq_ids = {100};
  plan.start_positions = {0};
  plan.num_tokens = {static_cast<uint32_t>(prompt.size())};
  plan.flags = {protocol::kSeqSample};
  plan.num_new_blocks = {2};
  plan.token_ids = std::move(prompt);
  plan.new_blocks = {0, 1};
  return plan;
}

// A decode of request 100 at `pos` feeding the token its previous step sampled.
protocol::StepPlan PendingDecode(uint64_t step_id, uint32_t pos) {
  protocol::StepPlan plan;
  plan.replica_id = 1;
  plan.step_id = step_id;
  plan.epoch = 1;
  plan.seq_ids = {100};
  plan.start_positions = {pos};
  plan.num_tokens = {1};
  plan.flags = {protocol::kSeqSample};
  plan.num_new_blocks = {0};
  plan.token_ids = {protocol::kPendingToken};
  return plan;
}

TEST_F(WorkerLinkTest, ExecutesStepsLikeTheEngineAndShutsDownCleanly) {
  Bringup();
  // The reference: the same model and steps on an Engine in this thread.
  EngineOptions eo;
  eo.model_path = model_path_;
  eo.num_threads = 1;
  eo.num_device_blocks = 64;
  eo.num_host_blocks = 8;
  auto engine = Engine::Create(eo, nullptr);
  ASSERT_TRUE(engine.ok()) << engine.status().ToString();

  const std::vector<int32_t> prompt = {5, 17, 33, 2, 9, 40};
  StepInput in;
  SeqInput s;
  s.seq_id = 100;
  s.tokens = prompt;
  s.block_table = {0, 1};
  s.sample = true;
  in.seqs.push_back(s);
  // Two steps in flight, as the coordinator runs them: each decode is sent
  // before the result of the step whose token it feeds has come back.
  Send(Prefill(1, prompt));
  uint32_t pos = static_cast<uint32_t>(prompt.size());
  Send(PendingDecode(2, pos));
  for (int step = 0; step < 4; ++step) {
    auto result = NextAs<protocol::StepResult>();
    ASSERT_FALSE(result.error.has_value()) << result.error->message;
    EXPECT_EQ(result.step_id, static_cast<uint64_t>(step + 1));
    EXPECT_EQ(result.worker_id, 7u);
    EXPECT_GT(result.timings.total_seconds, 0.0);
    ASSERT_EQ(result.sequences.size(), 1u);
    auto expected = (*engine)->Step(in);
    ASSERT_TRUE(expected.ok());
    EXPECT_EQ(result.sequences[0].sampled_token, expected->seqs[0].token) << "step " << step;
    const int32_t tok = result.sequences[0].sampled_token;
    in.seqs[0].start_pos += static_cast<int32_t>(in.seqs[0].tokens.size());
    in.seqs[0].tokens = {tok};
    if (step + 3 <= 4) Send(PendingDecode(step + 3, ++pos));
  }
  EXPECT_GE(heartbeats_, 0);
  std::this_thread::sleep_for(milliseconds(250));
  Send(protocol::StatusRequest{});  // gives heartbeats time to arrive before the reply
  auto err = NextAs<protocol::ErrorReply>();
  EXPECT_EQ(err.error.code, static_cast<int32_t>(StatusCode::kInvalidArgument));
  EXPECT_GE(heartbeats_, 1);

  const std::string text = monitoring::RenderText(*registry_);
  EXPECT_NE(text.find("skipjoin_worker_steps_total{outcome=\"ok\"} 4"), std::string::npos) << text;
  EXPECT_NE(text.find("skipjoin_worker_kv_blocks_allocated{pool=\"device\"} 64"),
            std::string::npos);
  EXPECT_NE(text.find("skipjoin_worker_ready 1"), std::string::npos);

  Send(protocol::Shutdown{"test over"});
  ASSERT_EQ(result_.wait_for(std::chrono::seconds(10)), std::future_status::ready);
  EXPECT_EQ(result_.get(), kExitClean);
}

TEST_F(WorkerLinkTest, MalformedFramesAndBadPlansGetErrorsNotCrashes) {
  Bringup();
  // Raw garbage and a truncated msgpack frame.
  for (std::string garbage : {std::string("not msgpack at all"), std::string("\x93\x01", 2)}) {
    router_->socket().send(zmq::buffer(peer_), zmq::send_flags::sndmore);
    router_->socket().send(zmq::buffer(garbage), zmq::send_flags::none);
    auto err = NextAs<protocol::ErrorReply>();
    EXPECT_NE(err.error.code, 0);
    EXPECT_FALSE(err.error.message.empty());
  }
  // A block outside the pool: an error result, and the worker keeps serving.
  protocol::StepPlan bad = Prefill(1, {1, 2, 3});
  bad.new_blocks = {0, 500};
  Send(bad);
  auto failed = NextAs<protocol::StepResult>();
  ASSERT_TRUE(failed.error.has_value());
  EXPECT_EQ(failed.step_id, 1u);
  EXPECT_TRUE(failed.sequences.empty());
  protocol::StepPlan good = Prefill(2, {1, 2, 3});
  good.epoch = 2;  // after a failed step the coordinator starts a new epoch
  Send(good);
  auto ok = NextAs<protocol::StepResult>();
  EXPECT_FALSE(ok.error.has_value());
  EXPECT_EQ(ok.sequences.size(), 1u);
  const std::string text = monitoring::RenderText(*registry_);
  EXPECT_NE(text.find("skipjoin_worker_malformed_frames_total 2"), std::string::npos) << text;
  EXPECT_NE(text.find("skipjoin_worker_steps_total{outcome=\"error\"} 1"), std::string::npos)
      << text;
}

TEST_F(WorkerLinkTest, BadModelPathIsReportedAndFatal) {
  StartLink();
  NextAs<protocol::WorkerRegister>();
  auto a = Assignment();
  a.model_path = "/nonexistent/model.gguf";
  Send(a);
  auto err = NextAs<protocol::ErrorReply>();
  EXPECT_NE(err.error.message.find("/nonexistent/model.gguf"), std::string::npos)
      << err.error.message;
  ASSERT_EQ(result_.wait_for(std::chrono::seconds(10)), std::future_status::ready);
  EXPECT_EQ(result_.get(), kExitFatal);
}

TEST_F(WorkerLinkTest, ExitsWhenTheCoordinatorGoesAway) {
  Bringup();
  router_->Close();
  const auto start = std::chrono::steady_clock::now();
  ASSERT_EQ(result_.wait_for(std::chrono::seconds(15)), std::future_status::ready);
  EXPECT_EQ(result_.get(), kExitCoordinatorGone);
  EXPECT_LT(std::chrono::steady_clock::now() - start, std::chrono::seconds(10));
}

}  // namespace
}  // namespace skipjoin::worker
