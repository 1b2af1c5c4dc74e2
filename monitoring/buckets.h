// Histogram bucket boundaries shared by the coordinator and worker metrics.
// Chosen for LLM serving on CPU and GPU: a decode step is milliseconds on a GPU
// and tens to hundreds of milliseconds on a CPU; a whole request can take
// minutes. Pure functions; any thread.
#pragma once

#include <vector>

namespace skipjoin::monitoring {

// Time to first token and queue time, seconds: 5 ms .. 120 s.
std::vector<double> FirstTokenBuckets();
// Time per output token (inter-token latency), seconds: 1 ms .. 5 s.
std::vector<double> PerTokenBuckets();
// End-to-end request latency, seconds: 50 ms .. 600 s.
std::vector<double> RequestLatencyBuckets();
// One step (iteration) or one swap, seconds: 0.5 ms .. 30 s.
std::vector<double> StepBuckets();
// Coordinator time spent on one step (plan, encode, send), seconds: 10 us .. 1 s.
std::vector<double> HostOverheadBuckets();
// Tokens in one step: 1 .. 8192, powers of two.
std::vector<double> StepTokenBuckets();
// Tokens of one request (prompt or generation): 1 .. 32768.
std::vector<double> RequestTokenBuckets();

}  // namespace skipjoin::monitoring
