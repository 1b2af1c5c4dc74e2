#include "client/bench/progress.h"

#include <unistd.h>

#include <algorithm>
#include <string>

namespace skipjoin::bench {

namespace {

constexpr int kBarWidth = 30;

std::string Clock(double seconds) {
  const auto s = static_cast<int64_t>(seconds);
  char text[32];
  std::snprintf(text, sizeof(text), "%02lld:%02lld:%02lld", static_cast<long long>(s / 3600),
                static_cast<long long>(s / 60 % 60), static_cast<long long>(s % 60));
  return text;
}

}  // namespace

ProgressBar::ProgressBar(int64_t total, bool enabled, std::FILE* out)
    : total_(std::max<int64_t>(total, 1)),
      enabled_(enabled),
      interactive_(isatty(fileno(out)) != 0),
      out_(out) {}

void ProgressBar::Draw(int64_t completed, int64_t failed, double elapsed_s) {
  const int filled = static_cast<int>(kBarWidth * completed / total_);
  const double rate = elapsed_s > 0 ? completed / elapsed_s : 0.0;
  std::fprintf(out_, "%s[%s%s] %lld/%lld requests", interactive_ ? "\r" : "",
               std::string(filled, '#').c_str(), std::string(kBarWidth - filled, ' ').c_str(),
               static_cast<long long>(completed), static_cast<long long>(total_));
  if (failed > 0) std::fprintf(out_, " (%lld failed)", static_cast<long long>(failed));
  std::fprintf(out_, "  elapsed %s  %.2f req/s", Clock(elapsed_s).c_str(), rate);
  if (!interactive_) std::fputc('\n', out_);
  std::fflush(out_);
}

void ProgressBar::Update(int64_t completed, int64_t failed, double elapsed_s) {
  if (!enabled_) return;
  if (interactive_) return Draw(completed, failed, elapsed_s);
  const int64_t decile = completed * 10 / total_;
  if (decile <= last_decile_ || completed == total_) return;  // Finish prints the last
  last_decile_ = decile;
  Draw(completed, failed, elapsed_s);
}

void ProgressBar::Finish(int64_t completed, int64_t failed, double elapsed_s) {
  if (!enabled_) return;
  Draw(completed, failed, elapsed_s);
  if (interactive_) std::fputc('\n', out_);
  std::fflush(out_);
}

}  // namespace skipjoin::bench
