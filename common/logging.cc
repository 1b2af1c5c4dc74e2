#include "common/logging.h"

#include <atomic>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <cstring>

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

LogLevel CurrentLogLevel() { return static_cast<LogLevel>(g_level.load(std::memory_order_relaxed)); }
void SetLogLevel(LogLevel level) { g_level.store(static_cast<int>(level)); }

void EmitLogLine(LogLevel level, const char* file, int line, const std::string& msg) {
  static const char* kNames[] = {"D", "I", "W", "E"};
  const char* base = std::strrchr(file, '/');
  base = base ? base + 1 : file;
  auto now = std::chrono::system_clock::now().time_since_epoch();
  double secs = std::chrono::duration<double>(now).count();
  char head[128];
  std::snprintf(head, sizeof(head), "%s %.3f %s:%d] ", kNames[static_cast<int>(level)], secs, base, line);
  std::string out = std::string(head) + msg + "\n";
  std::fwrite(out.data(), 1, out.size(), stderr);
}
}  // namespace skipjoin
