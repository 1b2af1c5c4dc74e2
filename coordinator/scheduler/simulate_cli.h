// `skipjoin simulate`: command-line front end of the offline simulator.
// Prints a table to stdout (and JSON with --json FILE), a progress bar to
// stderr. Returns 0 on success, 2 on bad flags, 1 on a failed simulation.
#pragma once

namespace skipjoin::scheduler {

int SimulateMain(int argc, char** argv);

}  // namespace skipjoin::scheduler
