// Connects one rank of a CPU tensor-parallel group to its collectives: the
// HostChannel first (rank 0's rendezvous address), then the communicator the
// coordinator chose for the group (protocol Rendezvous::backend):
//   "shm"   ranks on one node: shared memory (shm_communicator.h)
//   "gloo"  ranks on several nodes: Gloo's ring over TCP (gloo_communicator.h)
//   "tcp"   the star through rank 0 (tcp_communicator.h); also what "gloo"
//           becomes in a build without Gloo, with a warning
// The ranks check over the channel that they all run the same one, so a group
// of mixed builds fails at once with a message instead of hanging.
// Blocking; call from the rank's own thread.
#pragma once

#include <memory>
#include <string_view>

#include "common/status.h"
#include "worker/communicator.h"
#include "worker/process/host_channel.h"

namespace skipjoin::worker {

// Whether this build has the Gloo communicator.
bool HaveGloo();

Result<std::unique_ptr<Communicator>> ConnectCommunicator(std::string_view backend,
                                                          const HostChannelOptions& options);

}  // namespace skipjoin::worker
