// skipjoin: the one command-line tool. Subcommands dispatch to their modules;
// the process roles (coordinator, worker) are subcommands too, so `launch`
// starts children by re-executing this binary.
#include <unistd.h>

#include <climits>
#include <cstdio>
#include <cstring>
#include <string>
#include <vector>

#include "client/commands.h"
#ifdef SKIPJOIN_HAVE_BENCH
#include "client/bench/bench_serve.h"
#endif
#ifdef SKIPJOIN_HAVE_SCHEDULER
#include "coordinator/scheduler/simulate_cli.h"
#endif
#ifdef SKIPJOIN_HAVE_CLUSTER
#include "worker/process/worker_main.h"
#endif
#ifdef SKIPJOIN_HAVE_COORDINATOR
#include "coordinator/coordinator_main.h"
#endif

// The project() version from the top-level CMakeLists.txt.
#ifndef SKIPJOIN_VERSION
#error "SKIPJOIN_VERSION must be defined by the build (top-level CMakeLists.txt)"
#endif

namespace {

constexpr const char* kHelp =
    "skipjoin: a distributed, actor-based LLM serving runtime\n"
    "\n"
    "usage: skipjoin COMMAND [flags]   (skipjoin COMMAND --help for its flags)\n"
    "       skipjoin --version\n"
    "\n"
    "commands:\n"
#ifdef SKIPJOIN_HAVE_CLUSTER
    "  launch      start this node's coordinator and workers from a cluster config\n"
    "  submit      send a prompt to a running cluster and stream the completion\n"
    "  status      show replicas, workers, queues and KV cache use of a cluster\n"
    "  top         watch a cluster's rates, latencies, queues and KV use\n"
    "  models      list the models a cluster serves\n"
    "  keygen      make the CURVE keys that let nodes and clients into a cluster\n"
#endif
    "  generate    run one prompt on a model in this process and stream the text\n"
#ifdef SKIPJOIN_HAVE_BENCH
    "  bench       benchmarks: `bench serve` load-tests any OpenAI-compatible server\n"
#endif
#ifdef SKIPJOIN_HAVE_SCHEDULER
    "  simulate    run the scheduler offline on a synthetic workload and report latencies\n"
#endif
    "\n"
    "process roles (started by launch):\n"
#ifdef SKIPJOIN_HAVE_COORDINATOR
    "  coordinator the coordinator process: HTTP API, native clients, scheduler, workers\n"
#endif
#ifdef SKIPJOIN_HAVE_CLUSTER
    "  worker      one worker process (one device)\n"
#endif
    ;

// This binary's path, so launch can re-execute it for the child roles.
std::string SelfExe(const char* argv0) {
  char buf[PATH_MAX];
  const ssize_t n = readlink("/proc/self/exe", buf, sizeof(buf) - 1);
  if (n > 0) return std::string(buf, static_cast<size_t>(n));
  return argv0;
}

}  // namespace

int main(int argc, char** argv) {
  if (argc < 2 || std::strcmp(argv[1], "--help") == 0 || std::strcmp(argv[1], "-h") == 0 ||
      std::strcmp(argv[1], "help") == 0) {
    std::printf("%s", kHelp);
    return argc < 2 ? 2 : 0;
  }
  if (std::strcmp(argv[1], "--version") == 0) {
    std::printf("skipjoin %s\n", SKIPJOIN_VERSION);
    return 0;
  }
  const std::string cmd = argv[1];
  std::vector<std::string> args(argv + 2, argv + argc);
  if (cmd == "generate") return skipjoin::cli::GenerateMain(args);
#ifdef SKIPJOIN_HAVE_BENCH
  if (cmd == "bench") return skipjoin::cli::BenchMain(args);
#endif
#ifdef SKIPJOIN_HAVE_SCHEDULER
  if (cmd == "simulate") return skipjoin::scheduler::SimulateMain(argc - 1, argv + 1);
#endif
#ifdef SKIPJOIN_HAVE_CLUSTER
  if (cmd == "launch") return skipjoin::cli::LaunchMain(SelfExe(argv[0]), args);
  if (cmd == "submit") return skipjoin::cli::SubmitMain(args);
  if (cmd == "status") return skipjoin::cli::StatusMain(args);
  if (cmd == "top") return skipjoin::cli::TopMain(args);
  if (cmd == "models") return skipjoin::cli::ModelsMain(args);
  if (cmd == "keygen") return skipjoin::cli::KeygenMain(args);
  if (cmd == "worker") return skipjoin::worker::WorkerMain(args);
#endif
#ifdef SKIPJOIN_HAVE_COORDINATOR
  if (cmd == "coordinator") return skipjoin::CoordinatorMain(args);
#endif
  std::fprintf(stderr, "skipjoin: unknown command '%s'\n\n%s", cmd.c_str(), kHelp);
  return 2;
}
