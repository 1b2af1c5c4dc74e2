// Entry points of the `skipjoin` subcommands. Each takes the arguments after
// the subcommand name and returns the process exit code.
#pragma once

#include <string>
#include <vector>

namespace skipjoin::cli {

int GenerateMain(const std::vector<std::string>& args);

}  // namespace skipjoin::cli
