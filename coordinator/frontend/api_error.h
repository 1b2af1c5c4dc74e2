// OpenAI-style API errors: the HTTP status and the JSON body
// {"error":{"message","type","param","code"}} that every failed request gets,
// on the HTTP API and (as a Status) on the native client protocol.
//
// Bodies are bounded: the message is cut at kMaxErrorMessageBytes and the param
// at kMaxErrorParamBytes (on a UTF-8 boundary), so echoing user input back can
// never produce an unbounded response.
// Value types and pure functions; any thread.
#pragma once

#include <cstddef>
#include <string>
#include <string_view>

#include "common/status.h"

namespace skipjoin::frontend {

inline constexpr size_t kMaxErrorMessageBytes = 1024;
inline constexpr size_t kMaxErrorParamBytes = 128;

struct ApiError {
  int http_status = 400;
  std::string message;
  std::string type = "invalid_request_error";  // OpenAI error type
  std::string param;                           // the offending field; "" -> null
  std::string code;                            // machine-readable; "" -> null
  int retry_after_seconds = 0;                 // > 0: sent as Retry-After (429, 503)
};

// 400 invalid_request_error naming `param`.
ApiError BadRequest(std::string message, std::string param = "", std::string code = "");
ApiError NotFoundError(std::string message, std::string param = "", std::string code = "");
ApiError Unauthorized(std::string message);
// 405 for a known path with a method it does not serve; the caller sends the
// path's methods in an Allow header (RFC 9110 requires it).
ApiError MethodNotAllowed(std::string message);
ApiError PayloadTooLarge(std::string message);
ApiError ServiceUnavailable(std::string message);
// 429: the coordinator's queue is full (coordinator.limits); retry after the
// given seconds (0: no Retry-After header).
ApiError TooManyRequests(std::string message, int retry_after_seconds);
ApiError InternalError(std::string message);

// Maps a Status from the coordinator to the HTTP error a client sees:
// InvalidArgument/OutOfRange/FailedPrecondition -> 400, NotFound -> 404,
// ResourceExhausted (overload) -> 429, Unavailable/Cancelled/DeadlineExceeded
// -> 503, the rest -> 500.
ApiError ErrorFromStatus(const Status& status, std::string param = "");
// The inverse, for the native protocol (ErrorInfo carries a StatusCode).
Status StatusFromError(const ApiError& error);

// {"error":{...}} with the bounded message and param.
std::string ErrorBody(const ApiError& error);

// Cuts `text` to at most `max_bytes` without splitting a UTF-8 character.
std::string TruncateUtf8(std::string_view text, size_t max_bytes);

}  // namespace skipjoin::frontend
