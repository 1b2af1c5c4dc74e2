// msgpack encoding of protocol messages (messages.h).
//
// A frame is one msgpack array [version, type, body]: version is
// kProtocolVersion, type a MessageType value, body a map from field names to
// values (enums as strings, optionals as nil when unset, byte strings as bin).
//
// Decode is strict and never trusts its input: a frame over the size limit,
// msgpack that does not parse or is truncated, trailing bytes, another protocol
// version, an unknown message type, or a missing, unknown, duplicate or
// ill-typed field all return a Status that says what and where; no input
// crashes it, and its allocations are bounded by the frame size and the limits.
// Status codes: kResourceExhausted (over a limit), kFailedPrecondition (other
// protocol version), kUnimplemented (unknown message type), kDataLoss (the rest).
//
// Pure functions; any thread.
#pragma once

#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>
#include <variant>

#include "common/status.h"
#include "protocol/messages.h"

namespace skipjoin::protocol {

inline constexpr size_t kDefaultMaxFrameBytes = size_t{64} << 20;  // 64 MiB

struct CodecLimits {
  size_t max_frame_bytes = kDefaultMaxFrameBytes;  // whole encoded frame, bytes
  uint32_t max_elements = 1u << 22;                // entries in any one array or map
  uint32_t max_depth = 16;                         // nesting of arrays and maps (messages need 7)
};

// Encodes a message as one frame. Never fails; the size limit is the
// receiver's to enforce (Channel::Send checks it before sending).
std::string Encode(const Message& message);
// The same frame for a plan, without copying it into a Message, into a
// caller-owned buffer.
void EncodeInto(const StepPlan& plan, std::string* out);

// Decodes one whole frame.
Result<Message> Decode(std::string_view frame, const CodecLimits& limits = {});

// Decodes a frame that must hold a T; another type is kInvalidArgument.
template <typename T>
Result<T> DecodeAs(std::string_view frame, const CodecLimits& limits = {}) {
  SJ_ASSIGN_OR_RETURN(Message m, Decode(frame, limits));
  if (T* t = std::get_if<T>(&m)) return std::move(*t);
  return InvalidArgument(std::string("expected a ") + MessageTypeName(T::kType) + " message, got " +
                         MessageTypeName(TypeOf(m)));
}

}  // namespace skipjoin::protocol
