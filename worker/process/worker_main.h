// `skipjoin worker`: one worker process (one device). Parses its flags, serves
// its metrics, and runs the Link until the coordinator shuts it down.
#pragma once

#include <string>
#include <vector>

namespace skipjoin::worker {

// args: the arguments after "worker". Returns the process exit status
// (link.h: kExitClean, kExitFatal, kExitCoordinatorGone; 2 for bad flags).
int WorkerMain(const std::vector<std::string>& args);

}  // namespace skipjoin::worker
