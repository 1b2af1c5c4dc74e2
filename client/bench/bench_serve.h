// `skipjoin bench`: benchmarks. `skipjoin bench serve` is a load generator for
// any OpenAI-compatible server with the semantics of `vllm bench serve`
// (flags and metrics: `skipjoin bench serve --help`). Each entry takes the
// arguments after its command words and returns the process exit code; it
// prints the report to stdout and progress and errors to stderr. Call from one
// thread at a time (it runs its own io_context on the calling thread).
#pragma once

#include <string>
#include <vector>

namespace skipjoin::cli {

// `skipjoin bench SUBCOMMAND ...`: dispatches to serve; --help lists them.
int BenchMain(const std::vector<std::string>& args);

// `skipjoin bench serve ...`. 0: at least one request succeeded; 1: none did,
// or the server was unreachable / refused the test request; 2: bad flags.
int BenchServeMain(const std::vector<std::string>& args);

}  // namespace skipjoin::cli
