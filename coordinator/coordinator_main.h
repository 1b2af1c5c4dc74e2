// `skipjoin coordinator --config FILE [--set key=value ...]`: the coordinator
// process. Loads the cluster config and the model's tokenizer, binds the worker
// port, serves the HTTP API, prints
//   coordinator ready http=http://HOST:PORT client=tcp://HOST:PORT
// on stdout once serving, and runs until SIGINT/SIGTERM.
#pragma once

#include <string>
#include <vector>

namespace skipjoin {

// args: the arguments after the subcommand name. Returns the exit code.
int CoordinatorMain(const std::vector<std::string>& args);

}  // namespace skipjoin
