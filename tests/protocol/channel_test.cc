#include "protocol/channel.h"

#include <gtest/gtest.h>

#include <chrono>
#include <string>
#include <thread>

namespace skipjoin::protocol {
namespace {

using std::chrono::milliseconds;
constexpr milliseconds kWait{5000};

// Worker registers, coordinator answers with the assignment on the same peer.
void ExchangeOver(const std::string& bind_endpoint, bool connect_to_bound) {
  zmq::context_t ctx;
  Result<RouterChannel> router = RouterChannel::Bind(ctx, bind_endpoint);
  ASSERT_TRUE(router.ok()) << router.status().ToString();
  const std::string endpoint = connect_to_bound ? router->endpoint() : bind_endpoint;
  ChannelOptions dealer_options;
  dealer_options.routing_id = "worker-0";
  Result<DealerChannel> dealer = DealerChannel::Connect(ctx, endpoint, dealer_options);
  ASSERT_TRUE(dealer.ok()) << dealer.status().ToString();

  WorkerRegister reg;
  reg.node = "local";
  reg.pid = 77;
  ASSERT_TRUE(dealer->Send(reg, kWait).ok());
  Result<Inbound> in = router->Recv(kWait);
  ASSERT_TRUE(in.ok()) << in.status().ToString();
  EXPECT_EQ(in->peer, "worker-0");
  ASSERT_TRUE(in->message.ok()) << in->message.status().ToString();
  EXPECT_EQ(std::get<WorkerRegister>(*in->message), reg);

  ModelAssignment assignment;
  assignment.worker_id = 3;
  assignment.model_path = "/m.gguf";
  ASSERT_TRUE(router->Send(in->peer, assignment, kWait).ok());
  Result<Message> back = dealer->Recv(kWait);
  ASSERT_TRUE(back.ok()) << back.status().ToString();
  EXPECT_EQ(std::get<ModelAssignment>(*back), assignment);
}

TEST(ChannelTest, RouterDealerExchangeOverInproc) { ExchangeOver("inproc://channel-test", false); }

TEST(ChannelTest, RouterDealerExchangeOverTcpLoopback) { ExchangeOver("tcp://127.0.0.1:*", true); }

TEST(ChannelTest, RecvTimesOut) {
  zmq::context_t ctx;
  Result<RouterChannel> router = RouterChannel::Bind(ctx, "inproc://timeout");
  ASSERT_TRUE(router.ok());
  auto start = std::chrono::steady_clock::now();
  Result<Inbound> in = router->Recv(milliseconds(50));
  ASSERT_FALSE(in.ok());
  EXPECT_EQ(in.status().code(), StatusCode::kDeadlineExceeded);
  EXPECT_GE(std::chrono::steady_clock::now() - start, milliseconds(45));
  Result<DealerChannel> dealer = DealerChannel::Connect(ctx, "inproc://timeout");
  ASSERT_TRUE(dealer.ok());
  EXPECT_EQ(dealer->Recv(milliseconds(0)).status().code(), StatusCode::kDeadlineExceeded);
}

TEST(ChannelTest, SendToUnknownPeerIsUnavailable) {
  zmq::context_t ctx;
  Result<RouterChannel> router = RouterChannel::Bind(ctx, "inproc://unknown-peer");
  ASSERT_TRUE(router.ok());
  Status s = router->Send("nobody", Shutdown{"x"}, milliseconds(100));
  EXPECT_EQ(s.code(), StatusCode::kUnavailable) << s.ToString();
}

TEST(ChannelTest, MalformedInputIsReportedWithItsPeer) {
  zmq::context_t ctx;
  Result<RouterChannel> router = RouterChannel::Bind(ctx, "inproc://garbage");
  ASSERT_TRUE(router.ok());
  zmq::socket_t raw(ctx, zmq::socket_type::dealer);
  raw.set(zmq::sockopt::routing_id, "evil");
  raw.set(zmq::sockopt::linger, 0);
  raw.connect("inproc://garbage");
  raw.send(zmq::str_buffer("\xc1 not msgpack"), zmq::send_flags::none);
  Result<Inbound> in = router->Recv(kWait);
  ASSERT_TRUE(in.ok()) << in.status().ToString();
  EXPECT_EQ(in->peer, "evil");
  ASSERT_FALSE(in->message.ok());
  EXPECT_EQ(in->message.status().code(), StatusCode::kDataLoss);

  // Three frames where one is expected: drained and reported, next message fine.
  raw.send(zmq::str_buffer("a"), zmq::send_flags::sndmore);
  raw.send(zmq::str_buffer("b"), zmq::send_flags::sndmore);
  raw.send(zmq::str_buffer("c"), zmq::send_flags::none);
  std::string ok_frame = Encode(CancelRequest{"r"});
  raw.send(zmq::buffer(ok_frame), zmq::send_flags::none);
  in = router->Recv(kWait);
  ASSERT_TRUE(in.ok());
  ASSERT_FALSE(in->message.ok());
  EXPECT_NE(in->message.status().message().find("got 3"), std::string::npos);
  in = router->Recv(kWait);
  ASSERT_TRUE(in.ok());
  ASSERT_TRUE(in->message.ok()) << in->message.status().ToString();
  EXPECT_EQ(std::get<CancelRequest>(*in->message).request_id, "r");
}

TEST(ChannelTest, OversizedSendIsRefusedLocally) {
  zmq::context_t ctx;
  ChannelOptions small;
  small.limits.max_frame_bytes = 64;
  Result<RouterChannel> router = RouterChannel::Bind(ctx, "inproc://big");
  ASSERT_TRUE(router.ok());
  Result<DealerChannel> dealer = DealerChannel::Connect(ctx, "inproc://big", small);
  ASSERT_TRUE(dealer.ok());
  Status s = dealer->Send(Shutdown{std::string(100, 'x')}, kWait);
  EXPECT_EQ(s.code(), StatusCode::kResourceExhausted) << s.ToString();
}

TEST(ChannelTest, OversizedTcpMessageIsNotDelivered) {
  zmq::context_t ctx;
  ChannelOptions small;
  small.limits.max_frame_bytes = 1024;
  Result<RouterChannel> router = RouterChannel::Bind(ctx, "tcp://127.0.0.1:*", small);
  ASSERT_TRUE(router.ok());
  Result<DealerChannel> dealer = DealerChannel::Connect(ctx, router->endpoint());
  ASSERT_TRUE(dealer.ok());
  ASSERT_TRUE(dealer->Send(Shutdown{std::string(4096, 'x')}, kWait).ok());
  // ZMQ_MAXMSGSIZE drops the connection instead of delivering the message.
  EXPECT_EQ(router->Recv(milliseconds(300)).status().code(), StatusCode::kDeadlineExceeded);
}

TEST(ChannelTest, BindErrorsAreStatuses) {
  zmq::context_t ctx;
  EXPECT_FALSE(RouterChannel::Bind(ctx, "bogus://x").ok());
  Result<RouterChannel> a = RouterChannel::Bind(ctx, "inproc://dup");
  ASSERT_TRUE(a.ok());
  EXPECT_FALSE(RouterChannel::Bind(ctx, "inproc://dup").ok());
  ChannelOptions bad;
  bad.routing_id = std::string(1, '\0') + "x";
  EXPECT_EQ(DealerChannel::Connect(ctx, "inproc://dup", bad).status().code(),
            StatusCode::kInvalidArgument);
}

TEST(ChannelTest, ChannelMovesToItsOwningThread) {
  zmq::context_t ctx;
  Result<RouterChannel> router = RouterChannel::Bind(ctx, "inproc://threads");
  ASSERT_TRUE(router.ok());
  Result<DealerChannel> dealer = DealerChannel::Connect(ctx, "inproc://threads");
  ASSERT_TRUE(dealer.ok());
  // The dealer is handed to a worker thread (thread start is a memory barrier)
  // and used only there from then on.
  bool got_shutdown = false;
  std::thread worker([d = std::move(*dealer), &got_shutdown]() mutable {
    if (!d.Send(Heartbeat{9, 1.0, {}}, kWait).ok()) return;
    Result<Message> m = d.Recv(kWait);
    got_shutdown = m.ok() && std::holds_alternative<Shutdown>(*m);
  });
  Result<Inbound> in = router->Recv(kWait);
  ASSERT_TRUE(in.ok());
  ASSERT_TRUE(in->message.ok());
  EXPECT_EQ(std::get<Heartbeat>(*in->message).worker_id, 9u);
  EXPECT_TRUE(router->Send(in->peer, Shutdown{"done"}, kWait).ok());
  worker.join();
  EXPECT_TRUE(got_shutdown);
}

}  // namespace
}  // namespace skipjoin::protocol
