// Fuzzes protocol::Decode over whole frames of every message kind (codec.h's
// contract: no input crashes it; allocations are bounded by the frame size).
// A frame that decodes must survive a round trip: its re-encoding decodes to
// a message that encodes to the same bytes (compared as bytes, so NaN floats
// do not count as a mismatch).
#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>

#include "common/status.h"
#include "protocol/codec.h"
#include "tests/fuzz/fuzz_support.h"

namespace {

// Small limits reach the over-limit paths with small inputs; the default
// limits are exercised by the same call below.
constexpr skipjoin::protocol::CodecLimits kSmallLimits{4096, 64, 8};

void CheckRoundTrip(const skipjoin::protocol::Message& message) {
  using skipjoin::protocol::Decode;
  using skipjoin::protocol::Encode;
  const std::string first = Encode(message);
  auto again = Decode(first);
  SJ_CHECK(again.ok()) << "a re-encoded " << skipjoin::protocol::MessageTypeName(TypeOf(message))
                       << " does not decode: " << again.status().ToString();
  SJ_CHECK(Encode(*again) == first) << "a " << skipjoin::protocol::MessageTypeName(TypeOf(message))
                                    << " changes in a second round trip";
}

}  // namespace

extern "C" int LLVMFuzzerInitialize(int*, char***) {
  skipjoin::fuzz::QuietLogs();
  return 0;
}

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  const std::string_view frame(reinterpret_cast<const char*>(data), size);
  auto message = skipjoin::protocol::Decode(frame);
  if (message.ok()) CheckRoundTrip(*message);
  auto small = skipjoin::protocol::Decode(frame, kSmallLimits);
  SJ_CHECK(!small.ok() || message.ok()) << "a frame decodes only under the smaller limits";
  return 0;
}
