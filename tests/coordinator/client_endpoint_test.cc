// The native client protocol end to end inside one process: CoordinatorCore +
// FakeWorker + ClientEndpoint, driven by DEALER sockets over loopback TCP the
// way `skipjoin submit` talks to a cluster.
#include "coordinator/frontend/client_endpoint.h"

#include <gtest/gtest.h>

#include <chrono>
#include <optional>
#include <string>
#include <vector>

#include "protocol/channel.h"
#include "protocol/codec.h"
#include "tests/coordinator/test_cluster.h"

namespace skipjoin::frontend {
namespace {

using namespace std::chrono_literals;
using protocol::FinishReason;
using protocol::TokenChunk;
using server::kFakeToken;

class ClientEndpointTest : public ::testing::Test {
 protected:
  void SetUp() override {
    ASSERT_NO_FATAL_FAILURE(cluster_.Start(&metrics_, "native"));
    ASSERT_NO_FATAL_FAILURE(StartEndpoint());
  }
  void StartEndpoint() {
    ClientEndpointOptions o;
    o.endpoint = "tcp://127.0.0.1:*";
    o.model_name = "tiny";
    o.max_context = server::TestCluster::kMaxContext;
    auto ep = ClientEndpoint::Start(o, &cluster_.context(), cluster_.core(), cluster_.tokenizer(),
                                    &metrics_);
    ASSERT_TRUE(ep.ok()) << ep.status().ToString();
    endpoint_ = std::move(*ep);
  }
  // A fresh core whose coordinator map has `coordinator_yaml`, a worker that
  // takes `step_delay` per step, and the endpoint.
  void Restart(const std::string& coordinator_yaml, std::chrono::milliseconds step_delay) {
    endpoint_->Stop();
    endpoint_.reset();
    cluster_.Stop();
    ASSERT_NO_FATAL_FAILURE(cluster_.StartCore(&metrics_, "native", coordinator_yaml));
    ASSERT_NO_FATAL_FAILURE(cluster_.StartWorker(step_delay));
    ASSERT_NO_FATAL_FAILURE(StartEndpoint());
  }
  void TearDown() override {
    if (endpoint_) endpoint_->Stop();
    cluster_.Stop();
  }

  protocol::DealerChannel Connect() {
    auto ch = protocol::DealerChannel::Connect(cluster_.context(), endpoint_->endpoint());
    EXPECT_TRUE(ch.ok()) << ch.status().ToString();
    return std::move(*ch);
  }

  static protocol::SubmitRequest Prompt(const std::string& id, uint32_t max_tokens, bool stream) {
    protocol::SubmitRequest r;
    r.client_request_id = id;
    r.prompt_text = "hello world";
    r.max_tokens = max_tokens;
    r.stream = stream;
    r.sampling.temperature = 0;
    return r;
  }

  // Receives until a chunk of `id` with a finish reason; fails on timeout or
  // an ErrorReply.
  static std::vector<TokenChunk> Collect(protocol::DealerChannel& ch, const std::string& id,
                                         std::chrono::milliseconds timeout = 5000ms) {
    std::vector<TokenChunk> chunks;
    const auto deadline = std::chrono::steady_clock::now() + timeout;
    while (std::chrono::steady_clock::now() < deadline) {
      auto m = ch.Recv(100ms);
      if (!m.ok()) continue;
      if (auto* e = std::get_if<protocol::ErrorReply>(&*m)) {
        ADD_FAILURE() << "ErrorReply: " << e->error.message;
        return chunks;
      }
      auto* c = std::get_if<TokenChunk>(&*m);
      if (c == nullptr || c->request_id != id) continue;
      chunks.push_back(*c);
      if (c->finish_reason != FinishReason::kNone) return chunks;
    }
    ADD_FAILURE() << "no final chunk for " << id;
    return chunks;
  }

  template <typename T>
  static std::optional<T> Await(protocol::DealerChannel& ch,
                                std::chrono::milliseconds timeout = 5000ms) {
    const auto deadline = std::chrono::steady_clock::now() + timeout;
    while (std::chrono::steady_clock::now() < deadline) {
      auto m = ch.Recv(100ms);
      if (!m.ok()) continue;
      if (auto* t = std::get_if<T>(&*m)) return *t;
    }
    return std::nullopt;
  }

  // Over the native protocol, like `skipjoin status`.
  protocol::StatusReply NativeStatus(protocol::DealerChannel& ch) {
    EXPECT_TRUE(ch.Send(protocol::StatusRequest{}, 1000ms).ok());
    auto reply = Await<protocol::StatusReply>(ch);
    EXPECT_TRUE(reply.has_value());
    return reply.value_or(protocol::StatusReply{});
  }

  bool WaitBlocksFreed(protocol::DealerChannel& ch) {
    for (int i = 0; i < 200; ++i) {
      auto s = NativeStatus(ch);
      if (!s.replicas.empty() && s.replicas[0].kv_device_blocks_used == 0) return true;
      std::this_thread::sleep_for(10ms);
    }
    return false;
  }

  server::NullMetrics metrics_;
  server::TestCluster cluster_;
  std::unique_ptr<ClientEndpoint> endpoint_;
};

TEST_F(ClientEndpointTest, StreamsOneChunkPerTokenThenFinishWithUsage) {
  auto ch = Connect();
  ASSERT_TRUE(ch.Send(Prompt("a", 4, /*stream=*/true), 1000ms).ok());
  auto chunks = Collect(ch, "a");
  ASSERT_EQ(chunks.size(), 5u);  // 4 tokens, then the finish chunk
  std::string text;
  for (int i = 0; i < 4; ++i) {
    ASSERT_EQ(chunks[i].token_ids, std::vector<int32_t>{kFakeToken});
    EXPECT_EQ(chunks[i].finish_reason, FinishReason::kNone);
    EXPECT_FALSE(chunks[i].usage.has_value());
    EXPECT_TRUE(chunks[i].logprobs.empty());  // not asked for
    text += chunks[i].text_delta;
  }
  const TokenChunk& last = chunks.back();
  text += last.text_delta;
  EXPECT_EQ(last.finish_reason, FinishReason::kLength);
  ASSERT_TRUE(last.usage.has_value());
  EXPECT_EQ(last.usage->completion_tokens, 4u);
  const auto prompt_ids =
      cluster_.tokenizer()->Encode("hello world", /*add_special=*/true, /*parse_special=*/false);
  EXPECT_EQ(last.usage->prompt_tokens, prompt_ids.size());
  EXPECT_EQ(text, cluster_.tokenizer()->Decode(std::vector<int32_t>(4, kFakeToken),
                                               /*skip_special=*/true));
}

TEST_F(ClientEndpointTest, NonStreamingSendsOneChunkWithEverything) {
  auto ch = Connect();
  protocol::SubmitRequest r = Prompt("b", 3, /*stream=*/false);
  r.sampling.logprobs = 2;
  ASSERT_TRUE(ch.Send(r, 1000ms).ok());
  auto chunks = Collect(ch, "b");
  ASSERT_EQ(chunks.size(), 1u);
  const TokenChunk& c = chunks[0];
  EXPECT_EQ(c.finish_reason, FinishReason::kLength);
  EXPECT_EQ(c.token_ids, std::vector<int32_t>(3, kFakeToken));
  ASSERT_EQ(c.logprobs.size(), 3u);
  for (const auto& lp : c.logprobs) {
    EXPECT_EQ(lp.token, kFakeToken);
    EXPECT_FLOAT_EQ(lp.logprob, -0.25f);
  }
  EXPECT_EQ(c.text_delta, cluster_.tokenizer()->Decode(std::vector<int32_t>(3, kFakeToken),
                                                       /*skip_special=*/true));
  ASSERT_TRUE(c.usage.has_value());
  EXPECT_EQ(c.usage->completion_tokens, 3u);
}

TEST_F(ClientEndpointTest, ChatMessagesAndTokenPromptsRun) {
  auto ch = Connect();
  protocol::SubmitRequest chat;
  chat.client_request_id = "chat";
  chat.messages = std::vector<protocol::ChatMessage>{{"system", "be brief"}, {"user", "hi"}};
  chat.max_tokens = 2;
  ASSERT_TRUE(ch.Send(chat, 1000ms).ok());
  auto chunks = Collect(ch, "chat");
  ASSERT_FALSE(chunks.empty());
  EXPECT_EQ(chunks.back().finish_reason, FinishReason::kLength);
  // The chat template makes the prompt longer than the two messages.
  EXPECT_GT(chunks.back().usage->prompt_tokens, 4u);

  protocol::SubmitRequest ids;
  ids.client_request_id = "ids";
  ids.prompt_tokens = std::vector<int32_t>{5, 6, 7};
  ids.max_tokens = 2;
  ids.stream = false;
  ASSERT_TRUE(ch.Send(ids, 1000ms).ok());
  chunks = Collect(ch, "ids");
  ASSERT_EQ(chunks.size(), 1u);
  EXPECT_EQ(chunks[0].usage->prompt_tokens, 3u);
}

TEST_F(ClientEndpointTest, StopStringEndsWithStopAndDropsIt) {
  const std::string piece =
      cluster_.tokenizer()->Decode(std::vector<int32_t>{kFakeToken}, /*skip_special=*/true);
  ASSERT_FALSE(piece.empty());
  auto ch = Connect();
  protocol::SubmitRequest r = Prompt("s", 50, /*stream=*/true);
  r.stop = {piece + piece};
  ASSERT_TRUE(ch.Send(r, 1000ms).ok());
  auto chunks = Collect(ch, "s");
  ASSERT_FALSE(chunks.empty());
  std::string text;
  for (const auto& c : chunks) text += c.text_delta;
  EXPECT_EQ(text, "");
  EXPECT_EQ(chunks.back().finish_reason, FinishReason::kStop);
  EXPECT_EQ(chunks.back().usage->completion_tokens, 2u);
  EXPECT_TRUE(WaitBlocksFreed(ch));  // Finish reached the core
}

TEST_F(ClientEndpointTest, InvalidRequestsGetErrorReplyNamingThem) {
  auto ch = Connect();
  struct Case {
    std::string name;
    protocol::SubmitRequest request;
    std::string expect;  // in the message
  };
  std::vector<Case> cases;
  cases.push_back({"temp", Prompt("temp", 4, true), "temperature"});
  cases.back().request.sampling.temperature = 5;
  cases.push_back({"long", Prompt("long", 100000, true), "max_tokens"});
  cases.push_back({"vocab", Prompt("vocab", 4, true), "vocabulary"});
  cases.back().request.prompt_text.reset();
  cases.back().request.prompt_tokens = std::vector<int32_t>{1, 1 << 20};
  cases.push_back({"empty", Prompt("empty", 4, true), "must not be empty"});
  cases.back().request.prompt_text = "";
  cases.push_back({"echo", Prompt("echo", 4, true), "echo"});
  cases.back().request.prompt_text.reset();
  cases.back().request.messages = std::vector<protocol::ChatMessage>{{"user", "hi"}};
  cases.back().request.echo = true;
  cases.push_back({"stop", Prompt("stop", 4, true), "stop"});
  cases.back().request.stop = {""};
  for (const Case& c : cases) {
    ASSERT_TRUE(ch.Send(c.request, 1000ms).ok());
    auto e = Await<protocol::ErrorReply>(ch);
    ASSERT_TRUE(e.has_value()) << c.name;
    EXPECT_EQ(e->request_id, c.name);
    EXPECT_EQ(e->error.ToStatus().code(), StatusCode::kInvalidArgument)
        << c.name << ": " << e->error.message;
    EXPECT_NE(e->error.message.find(c.expect), std::string::npos)
        << c.name << ": " << e->error.message;
  }
  // Still serving.
  ASSERT_TRUE(ch.Send(Prompt("ok", 1, false), 1000ms).ok());
  EXPECT_EQ(Collect(ch, "ok").size(), 1u);
}

TEST_F(ClientEndpointTest, DuplicateOpenIdIsRefused) {
  auto ch = Connect();
  ASSERT_TRUE(ch.Send(Prompt("dup", 300, true), 1000ms).ok());
  ASSERT_TRUE(ch.Send(Prompt("dup", 3, true), 1000ms).ok());
  auto e = Await<protocol::ErrorReply>(ch);
  ASSERT_TRUE(e.has_value());
  EXPECT_EQ(e->request_id, "dup");
  EXPECT_NE(e->error.message.find("still running"), std::string::npos);
  ASSERT_TRUE(ch.Send(protocol::CancelRequest{"dup"}, 1000ms).ok());
}

TEST_F(ClientEndpointTest, CancelEndsWithAbortAndFreesBlocks) {
  auto ch = Connect();
  protocol::SubmitRequest r = Prompt("c", 400, /*stream=*/true);
  r.prompt_text.reset();
  r.prompt_tokens = std::vector<int32_t>(30, 7);
  ASSERT_TRUE(ch.Send(r, 1000ms).ok());
  int seen = 0;
  for (int i = 0; i < 100 && seen < 3; ++i) {
    auto m = ch.Recv(100ms);
    if (m.ok() && std::holds_alternative<TokenChunk>(*m)) ++seen;
  }
  ASSERT_EQ(seen, 3);
  EXPECT_GT(NativeStatus(ch).replicas.at(0).kv_device_blocks_used, 0u);
  ASSERT_TRUE(ch.Send(protocol::CancelRequest{"c"}, 1000ms).ok());
  auto chunks = Collect(ch, "c");
  ASSERT_FALSE(chunks.empty());
  EXPECT_EQ(chunks.back().finish_reason, FinishReason::kAbort);
  ASSERT_TRUE(chunks.back().usage.has_value());
  EXPECT_GE(chunks.back().usage->completion_tokens, 3u);
  EXPECT_TRUE(WaitBlocksFreed(ch));
  // Cancelling it again: nothing open under that id any more.
  ASSERT_TRUE(ch.Send(protocol::CancelRequest{"c"}, 1000ms).ok());
  auto e = Await<protocol::ErrorReply>(ch);
  ASSERT_TRUE(e.has_value());
  EXPECT_EQ(e->error.ToStatus().code(), StatusCode::kNotFound);
}

TEST_F(ClientEndpointTest, StatusReplyDescribesReplicasAndQueues) {
  auto ch = Connect();
  auto s = NativeStatus(ch);
  ASSERT_EQ(s.replicas.size(), 1u);
  EXPECT_EQ(s.replicas[0].name, cluster_.config().replicas[0].name);
  EXPECT_TRUE(s.replicas[0].alive);
  EXPECT_EQ(s.replicas[0].workers, 1u);
  EXPECT_EQ(s.replicas[0].kv_device_blocks_free, server::TestCluster::kDeviceBlocks);
  EXPECT_EQ(s.replicas[0].kv_device_blocks_used, 0u);
  EXPECT_EQ(s.queue_levels.size(), cluster_.config().scheduler.mlfq.levels);
  // The one rank, where the config puts it, held by the ready worker.
  ASSERT_EQ(s.workers.size(), 1u);
  EXPECT_EQ(s.workers[0],
            (protocol::WorkerStatus{0, 0, "local", "127.0.0.1", "cpu:0", true, true}));

  // A running request shows up as running, with its blocks used.
  protocol::SubmitRequest r = Prompt("busy", 400, /*stream=*/true);
  ASSERT_TRUE(ch.Send(r, 1000ms).ok());
  ASSERT_TRUE(Await<TokenChunk>(ch).has_value());
  s = NativeStatus(ch);
  EXPECT_EQ(s.replicas[0].running + s.replicas[0].waiting, 1u);
  EXPECT_GT(s.replicas[0].kv_device_blocks_used, 0u);
  EXPECT_EQ(s.replicas[0].kv_device_blocks_used + s.replicas[0].kv_device_blocks_free,
            server::TestCluster::kDeviceBlocks);
  uint32_t queued = 0;
  for (uint32_t n : s.queue_levels) queued += n;
  EXPECT_EQ(queued, 1u);
  ASSERT_TRUE(ch.Send(protocol::CancelRequest{"busy"}, 1000ms).ok());
}

TEST_F(ClientEndpointTest, ModelsReplyNamesTheServedModel) {
  auto ch = Connect();
  ASSERT_TRUE(ch.Send(protocol::ModelsRequest{}, 1000ms).ok());
  auto reply = Await<protocol::ModelsReply>(ch);
  ASSERT_TRUE(reply.has_value());
  ASSERT_EQ(reply->models.size(), 1u);
  EXPECT_EQ(reply->models[0].id, "tiny");
  EXPECT_EQ(reply->models[0].max_context, static_cast<uint32_t>(server::TestCluster::kMaxContext));
}

TEST_F(ClientEndpointTest, MalformedAndUnexpectedFramesGetErrorReplyAndServingGoesOn) {
  zmq::socket_t raw(cluster_.context(), zmq::socket_type::dealer);
  raw.set(zmq::sockopt::linger, 0);
  raw.set(zmq::sockopt::rcvtimeo, 3000);
  raw.connect(endpoint_->endpoint());
  auto expect_error = [&raw](const std::string& what) {
    zmq::message_t reply;
    ASSERT_TRUE(raw.recv(reply).has_value()) << what;
    auto msg =
        protocol::Decode(std::string_view(static_cast<const char*>(reply.data()), reply.size()));
    ASSERT_TRUE(msg.ok()) << msg.status().ToString();
    ASSERT_TRUE(std::holds_alternative<protocol::ErrorReply>(*msg)) << what;
    EXPECT_FALSE(std::get<protocol::ErrorReply>(*msg).error.message.empty());
  };
  raw.send(zmq::str_buffer("\xc1garbage"), zmq::send_flags::none);
  expect_error("garbage");
  raw.send(zmq::buffer(std::string()), zmq::send_flags::none);
  expect_error("empty frame");
  // A worker's message on the client port.
  const std::string plan = protocol::Encode(protocol::StepPlan{});
  raw.send(zmq::buffer(plan), zmq::send_flags::none);
  expect_error("StepPlan");
  // Several parts.
  raw.send(zmq::str_buffer("a"), zmq::send_flags::sndmore);
  raw.send(zmq::str_buffer("b"), zmq::send_flags::none);
  expect_error("two parts");

  auto ch = Connect();
  ASSERT_TRUE(ch.Send(Prompt("after", 2, false), 1000ms).ok());
  auto chunks = Collect(ch, "after");
  ASSERT_EQ(chunks.size(), 1u);
  EXPECT_EQ(chunks[0].finish_reason, FinishReason::kLength);
}

TEST_F(ClientEndpointTest, VanishedClientsRequestIsCancelled) {
  auto observer = Connect();
  {
    auto ch = Connect();
    protocol::SubmitRequest r = Prompt("gone", 400, /*stream=*/true);
    r.prompt_text.reset();
    r.prompt_tokens = std::vector<int32_t>(40, 7);
    ASSERT_TRUE(ch.Send(r, 1000ms).ok());
    ASSERT_TRUE(Await<TokenChunk>(ch).has_value());
    EXPECT_GT(NativeStatus(observer).replicas.at(0).kv_device_blocks_used, 0u);
    ch.Close();  // the process went away without a CancelRequest
  }
  // The next chunk's send fails (unknown peer) and the request is cancelled:
  // long before its 400 tokens would have run.
  EXPECT_TRUE(WaitBlocksFreed(observer));
  auto s = NativeStatus(observer);
  EXPECT_EQ(s.replicas.at(0).running + s.replicas.at(0).waiting, 0u);
}

TEST_F(ClientEndpointTest, ConcurrentClientsGetTheirOwnStreams) {
  auto a = Connect();
  auto b = Connect();
  // Same client_request_id on two connections: they are different requests.
  ASSERT_TRUE(a.Send(Prompt("x", 3, true), 1000ms).ok());
  ASSERT_TRUE(b.Send(Prompt("x", 5, true), 1000ms).ok());
  auto ca = Collect(a, "x");
  auto cb = Collect(b, "x");
  ASSERT_FALSE(ca.empty());
  ASSERT_FALSE(cb.empty());
  EXPECT_EQ(ca.back().usage->completion_tokens, 3u);
  EXPECT_EQ(cb.back().usage->completion_tokens, 5u);
}

TEST_F(ClientEndpointTest, RequestOverTheBodyLimitGetsErrorNamingIt) {
  auto ch = Connect();
  protocol::SubmitRequest r = Prompt("big", 4, /*stream=*/false);
  r.prompt_text = std::string((1u << 20) + 1000, 'a');  // over limits.max_body_bytes (1 MiB)
  ASSERT_TRUE(ch.Send(r, 1000ms).ok());
  auto e = Await<protocol::ErrorReply>(ch);
  ASSERT_TRUE(e.has_value());
  EXPECT_EQ(e->error.ToStatus().code(), StatusCode::kInvalidArgument);
  EXPECT_NE(e->error.message.find("max_body_bytes"), std::string::npos) << e->error.message;
  // The connection still serves.
  ASSERT_TRUE(ch.Send(Prompt("small", 2, false), 1000ms).ok());
  EXPECT_EQ(Collect(ch, "small").size(), 1u);
}

TEST_F(ClientEndpointTest, VanishedClientsQueuedNonStreamingRequestIsCancelled) {
  // 50 ms a step: its 400 tokens would take 20 s.
  ASSERT_NO_FATAL_FAILURE(Restart("", 50ms));
  auto observer = Connect();
  {
    auto ch = Connect();
    ASSERT_TRUE(ch.Send(Prompt("quiet", 400, /*stream=*/false), 1000ms).ok());
    bool running = false;
    for (int i = 0; i < 200 && !running; ++i) {
      running = NativeStatus(observer).replicas.at(0).kv_device_blocks_used > 0;
      if (!running) std::this_thread::sleep_for(10ms);
    }
    ASSERT_TRUE(running);
    ch.Close();  // no chunk is due until the end: only the disconnect tells
  }
  const auto start = std::chrono::steady_clock::now();
  EXPECT_TRUE(WaitBlocksFreed(observer));
  EXPECT_LT(std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count(), 5.0);
  EXPECT_EQ(cluster_.core()->admission().pending_requests(), 0);
}

TEST_F(ClientEndpointTest, RequestsPastThePendingLimitGetResourceExhausted) {
  ASSERT_NO_FATAL_FAILURE(Restart("limits: {max_pending_requests: 1}", 50ms));
  auto ch = Connect();
  ASSERT_TRUE(ch.Send(Prompt("first", 400, /*stream=*/true), 1000ms).ok());
  ASSERT_TRUE(Await<TokenChunk>(ch).has_value());
  ASSERT_TRUE(ch.Send(Prompt("second", 2, /*stream=*/false), 1000ms).ok());
  auto e = Await<protocol::ErrorReply>(ch);
  ASSERT_TRUE(e.has_value());
  EXPECT_EQ(e->request_id, "second");
  EXPECT_EQ(e->error.ToStatus().code(), StatusCode::kResourceExhausted);
  EXPECT_NE(e->error.message.find("retry after"), std::string::npos) << e->error.message;
}

}  // namespace
}  // namespace skipjoin::frontend
