#include "protocol/codec.h"

#include <gtest/gtest.h>

#include <msgpack.hpp>
#include <random>
#include <set>
#include <string>
#include <vector>

#include "tests/protocol/sample_messages.h"

namespace skipjoin::protocol {
namespace {

// Packs [version, type, body] with an arbitrary body built by `body`.
template <typename F>
std::string Frame(uint64_t version, uint64_t type, F body) {
  msgpack::sbuffer buf;
  msgpack::packer<msgpack::sbuffer> pk(&buf);
  pk.pack_array(3);
  pk.pack(version);
  pk.pack(type);
  body(pk);
  return std::string(buf.data(), buf.size());
}

TEST(CodecTest, RoundTripsEveryMessageType) {
  std::vector<Message> all = OneOfEveryMessage();
  std::set<MessageType> types;
  for (const Message& m : all) {
    std::string frame = Encode(m);
    Result<Message> back = Decode(frame);
    ASSERT_TRUE(back.ok()) << MessageTypeName(TypeOf(m)) << ": " << back.status().ToString();
    EXPECT_EQ(*back, m) << MessageTypeName(TypeOf(m));
    types.insert(TypeOf(m));
  }
  EXPECT_EQ(types.size(), std::variant_size_v<Message>);
}

TEST(CodecTest, DecodeAsChecksTheType) {
  std::string frame = Encode(CancelRequest{"x"});
  Result<CancelRequest> ok = DecodeAs<CancelRequest>(frame);
  ASSERT_TRUE(ok.ok());
  EXPECT_EQ(ok->request_id, "x");
  Result<StepPlan> wrong = DecodeAs<StepPlan>(frame);
  ASSERT_FALSE(wrong.ok());
  EXPECT_EQ(wrong.status().code(), StatusCode::kInvalidArgument);
  EXPECT_NE(wrong.status().message().find("expected a StepPlan message, got CancelRequest"),
            std::string::npos);
}

TEST(CodecTest, RejectsOtherProtocolVersion) {
  std::string frame = Frame(kProtocolVersion + 1, 22, [](auto& pk) {
    pk.pack_map(1);
    pk.pack(std::string("request_id"));
    pk.pack(std::string("x"));
  });
  Result<Message> r = Decode(frame);
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.status().code(), StatusCode::kFailedPrecondition);
  EXPECT_NE(r.status().message().find("protocol version " + std::to_string(kProtocolVersion + 1)),
            std::string::npos)
      << r.status().message();
  // A version-1 peer (before delta plans) is told which version to run.
  r = Decode(Frame(1, 22, [](auto& pk) {
    pk.pack_map(1);
    pk.pack(std::string("request_id"));
    pk.pack(std::string("x"));
  }));
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.status().code(), StatusCode::kFailedPrecondition);
  EXPECT_NE(r.status().message().find("version 1"), std::string::npos) << r.status().message();
  EXPECT_NE(r.status().message().find(std::to_string(kProtocolVersion)), std::string::npos)
      << r.status().message();
}

TEST(CodecTest, RejectsUnknownMessageType) {
  std::string frame = Frame(kProtocolVersion, 999, [](auto& pk) { pk.pack_map(0); });
  Result<Message> r = Decode(frame);
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.status().code(), StatusCode::kUnimplemented);
  EXPECT_NE(r.status().message().find("unknown message type 999"), std::string::npos);
}

TEST(CodecTest, ReportsIllTypedFieldWithItsPath) {
  // A plan whose starts[0].sampling.top_k is a string.
  std::string frame =
      Frame(kProtocolVersion, static_cast<uint64_t>(MessageType::kStepPlan), [](auto& pk) {
        pk.pack_map(7);
        pk.pack(std::string("replica"));
        pk.pack(0);
        pk.pack(std::string("step"));
        pk.pack(0);
        pk.pack(std::string("epoch"));
        pk.pack(0);
        pk.pack(std::string("swap_out"));
        pk.pack_array(0);
        pk.pack(std::string("swap_in"));
        pk.pack_array(0);
        pk.pack(std::string("blocking_in"));
        pk.pack(0);
        pk.pack(std::string("starts"));
        pk.pack_array(1);
        pk.pack_map(2);
        pk.pack(std::string("seq_id"));
        pk.pack(1);
        pk.pack(std::string("sampling"));
        pk.pack_map(6);
        pk.pack(std::string("temperature"));
        pk.pack(1.0);
        pk.pack(std::string("top_p"));
        pk.pack(1);  // an integer is a valid float
        pk.pack(std::string("top_k"));
        pk.pack(std::string("forty"));
        pk.pack(std::string("min_p"));
        pk.pack(0.0);
        pk.pack(std::string("seed"));
        pk.pack_nil();
        pk.pack(std::string("logprobs"));
        pk.pack(0);
      });
  Result<Message> r = Decode(frame);
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.status().code(), StatusCode::kDataLoss);
  EXPECT_EQ(r.status().message(),
            "StepPlan: starts[0].sampling.top_k: expected an integer, got a string");
}

TEST(CodecTest, RejectsMissingUnknownAndDuplicateFields) {
  const uint64_t cancel = static_cast<uint64_t>(MessageType::kCancelRequest);
  Result<Message> missing =
      Decode(Frame(kProtocolVersion, cancel, [](auto& pk) { pk.pack_map(0); }));
  ASSERT_FALSE(missing.ok());
  EXPECT_EQ(missing.status().message(), "CancelRequest: missing field 'request_id'");

  Result<Message> unknown = Decode(Frame(kProtocolVersion, cancel, [](auto& pk) {
    pk.pack_map(2);
    pk.pack(std::string("request_id"));
    pk.pack(std::string("a"));
    pk.pack(std::string("request_idd"));
    pk.pack(std::string("b"));
  }));
  ASSERT_FALSE(unknown.ok());
  EXPECT_EQ(unknown.status().message(), "CancelRequest: unknown field 'request_idd'");

  Result<Message> dup = Decode(Frame(kProtocolVersion, cancel, [](auto& pk) {
    pk.pack_map(2);
    pk.pack(std::string("request_id"));
    pk.pack(std::string("a"));
    pk.pack(std::string("request_id"));
    pk.pack(std::string("b"));
  }));
  ASSERT_FALSE(dup.ok());
  EXPECT_EQ(dup.status().message(), "CancelRequest: duplicate field 'request_id'");

  Result<Message> int_key = Decode(Frame(kProtocolVersion, cancel, [](auto& pk) {
    pk.pack_map(2);
    pk.pack(std::string("request_id"));
    pk.pack(std::string("a"));
    pk.pack(5);
    pk.pack(std::string("b"));
  }));
  ASSERT_FALSE(int_key.ok());
  EXPECT_NE(int_key.status().message().find("map key is an integer"), std::string::npos);
}

TEST(CodecTest, RejectsOutOfRangeIntegersAndBadEnums) {
  const uint64_t ready = static_cast<uint64_t>(MessageType::kWorkerReady);
  Result<Message> big = Decode(Frame(kProtocolVersion, ready, [](auto& pk) {
    pk.pack_map(4);
    pk.pack(std::string("worker_id"));
    pk.pack(uint64_t{1} << 33);
    pk.pack(std::string("num_device_blocks"));
    pk.pack(1);
    pk.pack(std::string("num_host_blocks"));
    pk.pack(1);
    pk.pack(std::string("load_seconds"));
    pk.pack(1.0);
  }));
  ASSERT_FALSE(big.ok());
  EXPECT_EQ(big.status().message(), "WorkerReady: worker_id: integer 8589934592 out of range");

  Result<Message> neg = Decode(Frame(kProtocolVersion, ready, [](auto& pk) {
    pk.pack_map(4);
    pk.pack(std::string("worker_id"));
    pk.pack(-1);
    pk.pack(std::string("num_device_blocks"));
    pk.pack(1);
    pk.pack(std::string("num_host_blocks"));
    pk.pack(1);
    pk.pack(std::string("load_seconds"));
    pk.pack(1.0);
  }));
  ASSERT_FALSE(neg.ok());
  EXPECT_NE(neg.status().message().find("worker_id: negative integer -1"), std::string::npos);

  TokenChunk c;
  std::string frame = Encode(c);
  size_t at = frame.find("none");
  ASSERT_NE(at, std::string::npos);
  frame.replace(at, 4, "nope");
  Result<Message> bad_enum = Decode(frame);
  ASSERT_FALSE(bad_enum.ok());
  EXPECT_EQ(bad_enum.status().message(), "TokenChunk: finish_reason: unknown value 'nope'");
}

TEST(CodecTest, SubmitRequestNeedsExactlyOnePrompt) {
  SubmitRequest none;
  none.client_request_id = "a";
  Result<Message> r = Decode(Encode(none));
  ASSERT_FALSE(r.ok());
  EXPECT_NE(r.status().message().find("exactly one of prompt_text"), std::string::npos);
  SubmitRequest two = none;
  two.prompt_text = "hi";
  two.prompt_tokens = std::vector<int32_t>{1};
  EXPECT_FALSE(Decode(Encode(two)).ok());
}

TEST(CodecTest, RejectsTrailingGarbageAndBadEnvelopes) {
  std::string frame = Encode(Shutdown{"x"}) + "\x01";
  Result<Message> r = Decode(frame);
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.status().message(), "1 trailing bytes after the message");

  EXPECT_EQ(Decode("").status().message(), "empty frame");

  msgpack::sbuffer buf;
  msgpack::pack(buf, std::vector<int>{1, 2});
  Result<Message> short_array = Decode(std::string_view(buf.data(), buf.size()));
  EXPECT_EQ(short_array.status().message(),
            "frame is not a [version, type, body] array (got an array of 2)");

  Result<Message> str_version =
      Decode(Frame(0, 0, [](auto& pk) { pk.pack_nil(); }).replace(1, 1, "\xa1v"));
  EXPECT_EQ(str_version.status().message(), "protocol version is a string, not an integer");
}

TEST(CodecTest, RejectsOversizedFramesAndHugeCounts) {
  CodecLimits limits;
  limits.max_frame_bytes = 100;
  Shutdown big{std::string(200, 'x')};
  Result<Message> r = Decode(Encode(big), limits);
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.status().code(), StatusCode::kResourceExhausted);
  EXPECT_NE(r.status().message().find("exceeds the limit of 100 bytes"), std::string::npos);

  // An array header claiming 4 billion elements in a 5-byte frame must not allocate them.
  const std::string huge_array("\xdd\xff\xff\xff\xff", 5);
  r = Decode(huge_array);
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.status().code(), StatusCode::kDataLoss) << r.status().ToString();
  EXPECT_EQ(r.status().message(),
            "frame declares an array with more entries than it has bytes for");
  const std::string huge_map("\xdf\xff\xff\xff\xff", 5);
  EXPECT_FALSE(Decode(huge_map).ok());
  const std::string huge_str("\xdb\xff\xff\xff\xff", 5);
  EXPECT_FALSE(Decode(huge_str).ok());

  // Element cap below the frame size.
  limits = CodecLimits{};
  limits.max_elements = 4;
  StepPlan p;
  p.finished_seq_ids = {1, 2, 3, 4, 5};
  r = Decode(Encode(p), limits);
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.status().code(), StatusCode::kResourceExhausted);

  // Deep nesting stops at the depth limit.
  std::string deep(1000, '\x91');
  deep += '\xc0';
  r = Decode(deep);
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.status().code(), StatusCode::kResourceExhausted) << r.status().ToString();
}

TEST(CodecTest, EveryTruncationIsAnError) {
  for (const Message& m : OneOfEveryMessage()) {
    std::string frame = Encode(m);
    for (size_t len = 0; len < frame.size(); ++len) {
      Result<Message> r = Decode(std::string_view(frame).substr(0, len));
      ASSERT_FALSE(r.ok()) << MessageTypeName(TypeOf(m)) << " truncated to " << len;
      EXPECT_EQ(r.status().code(), StatusCode::kDataLoss) << r.status().ToString();
    }
  }
}

TEST(CodecTest, RandomBytesNeverCrash) {
  std::mt19937_64 rng(20240611);
  int accepted = 0;
  for (int i = 0; i < 20000; ++i) {
    std::string bytes(rng() % 96, '\0');
    for (char& c : bytes) c = static_cast<char>(rng());
    Result<Message> r = Decode(bytes);
    if (r.ok())
      ++accepted;
    else
      EXPECT_FALSE(r.status().message().empty());
  }
  EXPECT_EQ(accepted, 0);
}

TEST(CodecTest, MutatedFramesNeverCrash) {
  // Flipping bytes of valid frames reaches deeper into the decoder than noise.
  std::mt19937_64 rng(7);
  std::vector<Message> all = OneOfEveryMessage();
  for (int i = 0; i < 20000; ++i) {
    std::string frame = Encode(all[i % all.size()]);
    int flips = 1 + static_cast<int>(rng() % 4);
    for (int f = 0; f < flips; ++f) frame[rng() % frame.size()] = static_cast<char>(rng());
    Result<Message> r = Decode(frame);
    if (r.ok()) {
      // A mutation may still be a valid message; it must then re-encode stably.
      Result<Message> again = Decode(Encode(*r));
      ASSERT_TRUE(again.ok());
    } else {
      EXPECT_FALSE(r.status().message().empty());
    }
  }
}

TEST(CodecTest, ErrorInfoRoundTripsStatus) {
  Status s = Unavailable("replica 2 down");
  EXPECT_EQ(ErrorInfo::FromStatus(s).ToStatus().ToString(), s.ToString());
  EXPECT_EQ((ErrorInfo{99, "x"}).ToStatus().code(), StatusCode::kInternal);
}

}  // namespace
}  // namespace skipjoin::protocol
