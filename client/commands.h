// Entry points of the `skipjoin` subcommands. Each takes the arguments after
// the subcommand name and returns the process exit code.
#pragma once

#include <string>
#include <vector>

namespace skipjoin::cli {

int GenerateMain(const std::vector<std::string>& args);

// bench (BenchMain, BenchServeMain) is declared in client/bench/bench_serve.h,
// beside its library (skipjoin_bench_client; builds with Boost only).

// Cluster commands (full build only; client/CMakeLists.txt).
// launch: start and supervise this node's coordinator and workers.
// self_exe: the path of this binary, re-executed for the child roles.
int LaunchMain(const std::string& self_exe, const std::vector<std::string>& args);
// submit: send one request over the native client protocol and stream the text.
int SubmitMain(const std::vector<std::string>& args);
// status: replicas, workers, queues and KV use as a table.
int StatusMain(const std::vector<std::string>& args);
// top: rates, latency percentiles, queues and KV use from /metrics, refreshed.
int TopMain(const std::vector<std::string>& args);
// models: the served models.
int ModelsMain(const std::vector<std::string>& args);
// keygen: make the cluster's CURVE keys.
int KeygenMain(const std::vector<std::string>& args);

}  // namespace skipjoin::cli
