#include "common/logging.h"

#include <atomic>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <ctime>

namespace skipjoin {
namespace {
LogLevel LevelFromEnv() {
  const char* v = std::getenv("SKIPJOIN_LOG");
  if (v == nullptr) return LogLevel::kInfo;
  if (std::strcmp(v, "debug") == 0) return LogLevel::kDebug;
  if (std::strcmp(v, "warn") == 0) return LogLevel::kWarn;
  if (std::strcmp(v, "error") == 0) return LogLevel::kError;
  return LogLevel::kInfo;
}
std::atomic<int> g_level{static_cast<int>(LevelFromEnv())};
}  // namespace

LogLevel CurrentLogLevel() {
  return static_cast<LogLevel>(g_level.load(std::memory_order_relaxed));
}
void SetLogLevel(LogLevel level) { g_level.store(static_cast<int>(level)); }

std::string FormatLogTime(std::chrono::system_clock::time_point t) {
  const auto ms = std::chrono::floor<std::chrono::milliseconds>(t.time_since_epoch()).count();
  // Floor division, so a time before 1970 still gets milliseconds in 0..999.
  const int64_t secs = ms >= 0 ? ms / 1000 : -((-ms + 999) / 1000);
  const time_t tt = static_cast<time_t>(secs);
  std::tm tm{};
  gmtime_r(&tt, &tm);
  char buf[64];
  std::snprintf(buf, sizeof(buf), "%04d-%02d-%02dT%02d:%02d:%02d.%03dZ", tm.tm_year + 1900,
                tm.tm_mon + 1, tm.tm_mday, tm.tm_hour, tm.tm_min, tm.tm_sec,
                static_cast<int>(ms - secs * 1000));
  return buf;
}

void EmitLogLine(LogLevel level, const char* file, int line, const std::string& msg) {
  static const char* kNames[] = {"D", "I", "W", "E"};
  const char* base = std::strrchr(file, '/');
  base = base ? base + 1 : file;
  const std::string when = FormatLogTime(std::chrono::system_clock::now());
  char head[160];
  std::snprintf(head, sizeof(head), "%s %s %s:%d] ", kNames[static_cast<int>(level)], when.c_str(),
                base, line);
  std::string out = std::string(head) + msg + "\n";
  std::fwrite(out.data(), 1, out.size(), stderr);
}
}  // namespace skipjoin
