// skipjoin: the one command-line tool. Subcommands dispatch to their modules;
// the process roles (coordinator, worker) are subcommands too, so `launch`
// starts children by re-executing this binary.
#include <cstdio>
#include <cstring>
#include <string>
#include <vector>

#include "client/commands.h"
#ifdef SKIPJOIN_HAVE_SCHEDULER
#include "coordinator/scheduler/simulate_cli.h"
#endif

namespace {

constexpr const char* kHelp =
    "skipjoin: a distributed, actor-based LLM serving runtime\n"
    "\n"
    "usage: skipjoin COMMAND [flags]   (skipjoin COMMAND --help for its flags)\n"
    "\n"
    "commands:\n"
    "  generate    run one prompt on a model in this process and stream the text\n"
#ifdef SKIPJOIN_HAVE_SCHEDULER
    "  simulate    run the scheduler offline on a synthetic workload and report latencies\n"
#endif
    ;

}  // namespace

int main(int argc, char** argv) {
  if (argc < 2 || std::strcmp(argv[1], "--help") == 0 || std::strcmp(argv[1], "-h") == 0 ||
      std::strcmp(argv[1], "help") == 0) {
    std::printf("%s", kHelp);
    return argc < 2 ? 2 : 0;
  }
  const std::string cmd = argv[1];
  std::vector<std::string> args(argv + 2, argv + argc);
  if (cmd == "generate") return skipjoin::cli::GenerateMain(args);
#ifdef SKIPJOIN_HAVE_SCHEDULER
  if (cmd == "simulate") return skipjoin::scheduler::SimulateMain(argc - 1, argv + 1);
#endif
  std::fprintf(stderr, "skipjoin: unknown command '%s'\n\n%s", cmd.c_str(), kHelp);
  return 2;
}
