// ProgressBar: the benchmark's progress on stderr. On a terminal one line
// redrawn in place (completed/total, failures, elapsed); otherwise (a log
// file, CI) a plain line at each tenth so logs stay readable. Owned by the
// benchmark's io thread; not thread-safe.
#pragma once

#include <cstdint>
#include <cstdio>

namespace skipjoin::bench {

class ProgressBar {
 public:
  // enabled = false (--no-progress) prints nothing.
  ProgressBar(int64_t total, bool enabled, std::FILE* out = stderr);

  // Whether the bar is redrawn in place (a terminal): then the caller also
  // calls Update once a second so the elapsed time moves.
  bool interactive() const { return enabled_ && interactive_; }

  void Update(int64_t completed, int64_t failed, double elapsed_s);
  // The final state, then a newline.
  void Finish(int64_t completed, int64_t failed, double elapsed_s);

 private:
  void Draw(int64_t completed, int64_t failed, double elapsed_s);

  int64_t total_;
  bool enabled_;
  bool interactive_;
  std::FILE* out_;
  int64_t last_decile_ = 0;  // non-interactive: the last tenth printed
};

}  // namespace skipjoin::bench
