// Stand-alone simulator binary; the `skipjoin simulate` CLI calls the same entry.
#include "coordinator/scheduler/simulate_cli.h"

int main(int argc, char** argv) { return skipjoin::scheduler::SimulateMain(argc, argv); }
