// Status and Result<T>: how expected failures travel (bad input, corrupt file,
// out of KV blocks, peer timeout). Broken invariants use SJ_CHECK instead.
// Thread-compatible value types: any thread may use its own copies.
#pragma once

#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <optional>
#include <sstream>
#include <string>
#include <string_view>
#include <utility>
#include <variant>

namespace skipjoin {

// Codes cross process boundaries (protocol error replies), so values are stable.
enum class StatusCode : int32_t {
  kOk = 0,
  kInvalidArgument = 1,   // the caller's input is wrong (request, flag, config)
  kNotFound = 2,          // file, model, tensor, request id
  kOutOfRange = 3,        // a read past the end of a file or buffer
  kDataLoss = 4,          // a file or frame is corrupt or truncated
  kUnimplemented = 5,     // a valid feature this build does not support
  kResourceExhausted = 6, // out of KV blocks, queue full, body too large
  kUnavailable = 7,       // peer down, replica dead, not ready yet
  kDeadlineExceeded = 8,  // timeout
  kCancelled = 9,         // client went away, shutdown
  kFailedPrecondition = 10,
  kInternal = 11,         // a bug or a failed library call
};

const char* StatusCodeName(StatusCode code);

class [[nodiscard]] Status {
 public:
  Status() = default;
  Status(StatusCode code, std::string message) : code_(code), message_(std::move(message)) {}

  static Status Ok() { return Status(); }
  bool ok() const { return code_ == StatusCode::kOk; }
  StatusCode code() const { return code_; }
  const std::string& message() const { return message_; }
  // "INVALID_ARGUMENT: message"
  std::string ToString() const;

  // Prefixes context ("loading model.gguf: ") to the message; no-op when ok.
  Status WithContext(std::string_view context) const;

 private:
  StatusCode code_ = StatusCode::kOk;
  std::string message_;
};

inline Status InvalidArgument(std::string m) { return {StatusCode::kInvalidArgument, std::move(m)}; }
inline Status NotFound(std::string m) { return {StatusCode::kNotFound, std::move(m)}; }
inline Status OutOfRange(std::string m) { return {StatusCode::kOutOfRange, std::move(m)}; }
inline Status DataLoss(std::string m) { return {StatusCode::kDataLoss, std::move(m)}; }
inline Status Unimplemented(std::string m) { return {StatusCode::kUnimplemented, std::move(m)}; }
inline Status ResourceExhausted(std::string m) { return {StatusCode::kResourceExhausted, std::move(m)}; }
inline Status Unavailable(std::string m) { return {StatusCode::kUnavailable, std::move(m)}; }
inline Status DeadlineExceeded(std::string m) { return {StatusCode::kDeadlineExceeded, std::move(m)}; }
inline Status Cancelled(std::string m) { return {StatusCode::kCancelled, std::move(m)}; }
inline Status FailedPrecondition(std::string m) { return {StatusCode::kFailedPrecondition, std::move(m)}; }
inline Status Internal(std::string m) { return {StatusCode::kInternal, std::move(m)}; }

// Holds a T or a non-ok Status.
template <typename T>
class [[nodiscard]] Result {
 public:
  Result(T value) : v_(std::move(value)) {}  // NOLINT: implicit by design
  Result(Status status) : v_(std::move(status)) {  // NOLINT
    if (std::get<Status>(v_).ok()) v_ = Status(StatusCode::kInternal, "Result built from OK status");
  }

  bool ok() const { return std::holds_alternative<T>(v_); }
  const Status& status() const {
    static const Status kOkStatus;
    return ok() ? kOkStatus : std::get<Status>(v_);
  }
  T& value() & { return std::get<T>(v_); }
  const T& value() const& { return std::get<T>(v_); }
  T&& value() && { return std::get<T>(std::move(v_)); }
  T& operator*() & { return value(); }
  const T& operator*() const& { return value(); }
  T* operator->() { return &value(); }
  const T* operator->() const { return &value(); }

 private:
  std::variant<T, Status> v_;
};

namespace internal {
[[noreturn]] void CheckFailed(const char* file, int line, const char* cond, const std::string& msg);
}  // namespace internal

}  // namespace skipjoin

#define SJ_CONCAT_INNER(a, b) a##b
#define SJ_CONCAT(a, b) SJ_CONCAT_INNER(a, b)

// Returns the Status from the enclosing function when expr is not ok.
#define SJ_RETURN_IF_ERROR(expr)                 \
  do {                                           \
    ::skipjoin::Status sj_status_ = (expr);      \
    if (!sj_status_.ok()) return sj_status_;     \
  } while (0)

// SJ_ASSIGN_OR_RETURN(auto x, MakeX()); returns the error Status on failure.
#define SJ_ASSIGN_OR_RETURN(lhs, expr) SJ_ASSIGN_OR_RETURN_IMPL(SJ_CONCAT(sj_result_, __LINE__), lhs, expr)
#define SJ_ASSIGN_OR_RETURN_IMPL(tmp, lhs, expr) \
  auto tmp = (expr);                             \
  if (!tmp.ok()) return tmp.status();            \
  lhs = std::move(tmp).value()

// The one invariant check: aborts with the condition and a streamed message.
//   SJ_CHECK(n <= cap) << "n=" << n;
// (A for-statement, so that `if (x) SJ_CHECK(y) << ...;` has no dangling else.)
#define SJ_CHECK(cond)                                                     \
  for (bool sj_check_failed = !(cond); sj_check_failed; sj_check_failed = false) \
  ::skipjoin::internal::CheckMessage(__FILE__, __LINE__, #cond).stream()

namespace skipjoin::internal {
class CheckMessage {
 public:
  CheckMessage(const char* file, int line, const char* cond) : file_(file), line_(line), cond_(cond) {}
  [[noreturn]] ~CheckMessage() { CheckFailed(file_, line_, cond_, os_.str()); }
  std::ostream& stream() { return os_; }

 private:
  const char* file_;
  int line_;
  const char* cond_;
  std::ostringstream os_;
};
}  // namespace skipjoin::internal
