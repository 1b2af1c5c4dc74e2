// The Communicator interface (kernels/communicator.h) for one process: the
// solo communicator of tp=1 and a group of ranks that are threads of one
// process (tests, single-process TP). Process groups live in
// worker/process/comm_connect.h.
#pragma once

#include <memory>
#include <vector>

#include "kernels/communicator.h"

namespace skipjoin {

std::unique_ptr<Communicator> MakeSoloCommunicator();

// Ranks of one process exchanging through shared memory; create the group, hand
// Rank(r) to the thread that runs rank r. The group must outlive its ranks.
class LocalCommGroup {
 public:
  explicit LocalCommGroup(int size);
  ~LocalCommGroup();
  std::unique_ptr<Communicator> Rank(int rank);

  struct Shared;

 private:
  std::unique_ptr<Shared> shared_;
};

}  // namespace skipjoin
