// Minimal leveled logging to stderr. Thread-safe: each line is written with one
// fwrite. Level comes from SKIPJOIN_LOG (debug, info, warn, error; default info).
// A line reads "I 2026-12-03T14:35:01.123Z file.cc:42] message": the level
// letter (D, I, W, E), the wall-clock time in UTC, the source file and line.
#pragma once

#include <chrono>
#include <sstream>
#include <string>

namespace skipjoin {

enum class LogLevel { kDebug = 0, kInfo = 1, kWarn = 2, kError = 3 };

LogLevel CurrentLogLevel();
void SetLogLevel(LogLevel level);
void EmitLogLine(LogLevel level, const char* file, int line, const std::string& msg);
// The time stamp of a log line: ISO-8601 in UTC with milliseconds
// ("2026-12-03T14:35:01.123Z"); the milliseconds are truncated, not rounded.
std::string FormatLogTime(std::chrono::system_clock::time_point t);

namespace internal {
class LogMessage {
 public:
  LogMessage(LogLevel level, const char* file, int line)
      : level_(level), file_(file), line_(line) {}
  ~LogMessage() { EmitLogLine(level_, file_, line_, os_.str()); }
  std::ostream& stream() { return os_; }

 private:
  LogLevel level_;
  const char* file_;
  int line_;
  std::ostringstream os_;
};
}  // namespace internal
}  // namespace skipjoin

// A for-statement rather than if/else, so `if (x) SJ_LOG(Info) << ...;` has no
// dangling else.
#define SJ_LOG(level)                                                                      \
  for (bool sj_log_once = ::skipjoin::LogLevel::k##level >= ::skipjoin::CurrentLogLevel(); \
       sj_log_once; sj_log_once = false)                                                   \
  ::skipjoin::internal::LogMessage(::skipjoin::LogLevel::k##level, __FILE__, __LINE__).stream()
