#include "coordinator/frontend/api_error.h"

#include <nlohmann/json.hpp>

namespace skipjoin::frontend {

namespace {
ApiError Make(int status, std::string type, std::string message, std::string param,
              std::string code) {
  ApiError e;
  e.http_status = status;
  e.type = std::move(type);
  e.message = std::move(message);
  e.param = std::move(param);
  e.code = std::move(code);
  return e;
}
}  // namespace

ApiError BadRequest(std::string message, std::string param, std::string code) {
  return Make(400, "invalid_request_error", std::move(message), std::move(param), std::move(code));
}
ApiError NotFoundError(std::string message, std::string param, std::string code) {
  return Make(404, "invalid_request_error", std::move(message), std::move(param),
              code.empty() ? "model_not_found" : std::move(code));
}
ApiError Unauthorized(std::string message) {
  return Make(401, "authentication_error", std::move(message), "", "invalid_api_key");
}
ApiError MethodNotAllowed(std::string message) {
  return Make(405, "invalid_request_error", std::move(message), "", "method_not_allowed");
}
ApiError PayloadTooLarge(std::string message) {
  return Make(413, "invalid_request_error", std::move(message), "", "request_too_large");
}
ApiError ServiceUnavailable(std::string message) {
  return Make(503, "service_unavailable", std::move(message), "", "service_unavailable");
}
ApiError TooManyRequests(std::string message, int retry_after_seconds) {
  ApiError e = Make(429, "rate_limit_error", std::move(message), "", "server_overloaded");
  e.retry_after_seconds = retry_after_seconds;
  return e;
}
ApiError InternalError(std::string message) {
  return Make(500, "internal_error", std::move(message), "", "internal_error");
}

ApiError ErrorFromStatus(const Status& status, std::string param) {
  switch (status.code()) {
    case StatusCode::kOk:
      return InternalError("error reported with an OK status");
    case StatusCode::kInvalidArgument:
    case StatusCode::kOutOfRange:
    case StatusCode::kFailedPrecondition:
      return BadRequest(status.message(), std::move(param));
    case StatusCode::kResourceExhausted:
      return TooManyRequests(status.message(), 1);
    case StatusCode::kNotFound:
      return NotFoundError(status.message(), std::move(param), "not_found");
    case StatusCode::kUnavailable:
    case StatusCode::kCancelled:
    case StatusCode::kDeadlineExceeded:
      return ServiceUnavailable(status.message());
    case StatusCode::kUnimplemented:
    case StatusCode::kDataLoss:
    case StatusCode::kInternal:
      return InternalError(status.message());
  }
  return InternalError(status.message());
}

Status StatusFromError(const ApiError& error) {
  std::string msg = error.param.empty() ? error.message : error.param + ": " + error.message;
  switch (error.http_status) {
    case 400:
    case 405:
    case 413:
      return InvalidArgument(std::move(msg));
    case 401:
      return FailedPrecondition(std::move(msg));
    case 404:
      return NotFound(std::move(msg));
    case 429:
      if (error.retry_after_seconds > 0) {
        msg += " (retry after " + std::to_string(error.retry_after_seconds) + " s)";
      }
      return ResourceExhausted(std::move(msg));
    case 503:
      return Unavailable(std::move(msg));
    default:
      return Internal(std::move(msg));
  }
}

std::string TruncateUtf8(std::string_view text, size_t max_bytes) {
  if (text.size() <= max_bytes) return std::string(text);
  size_t end = max_bytes;
  // Step back over continuation bytes so the cut lands on a character start.
  while (end > 0 && (static_cast<unsigned char>(text[end]) & 0xC0) == 0x80) --end;
  return std::string(text.substr(0, end));
}

std::string ErrorBody(const ApiError& error) {
  nlohmann::json e;
  std::string message = TruncateUtf8(error.message, kMaxErrorMessageBytes);
  if (message.size() < error.message.size()) message += "...";
  e["message"] = message;
  e["type"] = error.type;
  e["param"] = error.param.empty() ? nlohmann::json(nullptr)
                                   : nlohmann::json(TruncateUtf8(error.param, kMaxErrorParamBytes));
  e["code"] = error.code.empty() ? nlohmann::json(nullptr) : nlohmann::json(error.code);
  nlohmann::json body;
  body["error"] = std::move(e);
  // Replace invalid UTF-8 (user text echoed in a message) instead of throwing.
  return body.dump(-1, ' ', false, nlohmann::json::error_handler_t::replace);
}

}  // namespace skipjoin::frontend
