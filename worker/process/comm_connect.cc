#include "worker/process/comm_connect.h"

#include <string>

#include "common/logging.h"
#include "worker/process/ring_communicator.h"
#include "worker/process/shm_communicator.h"
#include "worker/process/tcp_communicator.h"
#ifdef SKIPJOIN_HAVE_GLOO
#include "worker/process/gloo_communicator.h"
#endif

namespace skipjoin::worker {

bool HaveGloo() {
#ifdef SKIPJOIN_HAVE_GLOO
  return true;
#else
  return false;
#endif
}

Result<std::unique_ptr<Communicator>> ConnectCommunicator(std::string_view backend,
                                                          const HostChannelOptions& options) {
  std::string chosen(backend);
  if (chosen != "shm" && chosen != "ring" && chosen != "gloo" && chosen != "tcp") {
    return InvalidArgument("unknown tensor-parallel backend '" + chosen +
                           "' (expected shm, ring, gloo or tcp)");
  }
  if (chosen == "gloo" && !HaveGloo()) {
    SJ_LOG(Warn) << "this build has no Gloo: the tensor-parallel group runs its own ring "
                    "instead";
    chosen = "ring";
  }
  SJ_ASSIGN_OR_RETURN(std::unique_ptr<HostChannel> channel, HostChannel::Connect(options));
  SJ_ASSIGN_OR_RETURN(std::vector<std::string> all, channel->AllGatherBytes(chosen));
  for (size_t r = 0; r < all.size(); ++r) {
    if (all[r] != chosen) {
      return FailedPrecondition("tensor-parallel rank " + std::to_string(r) + " runs '" + all[r] +
                                "' collectives and rank " + std::to_string(options.rank) +
                                " runs '" + chosen + "' (workers of different builds?)");
    }
  }
  SJ_LOG(Info) << "tensor-parallel rank " << options.rank << "/" << options.size << ": " << chosen
               << " collectives, reached on " << channel->local_address();
  if (chosen == "shm") {
    ShmCommOptions so;
    so.io_timeout = options.io_timeout;
    SJ_ASSIGN_OR_RETURN(auto comm, ShmCommunicator::Create(std::move(channel), so));
    return std::unique_ptr<Communicator>(std::move(comm));
  }
  if (chosen == "ring") {
    RingCommOptions ro;
    ro.io_timeout = options.io_timeout;
    SJ_ASSIGN_OR_RETURN(auto comm, RingCommunicator::Create(std::move(channel), ro));
    return std::unique_ptr<Communicator>(std::move(comm));
  }
#ifdef SKIPJOIN_HAVE_GLOO
  if (chosen == "gloo") {
    GlooCommOptions go;
    go.io_timeout = options.io_timeout;
    SJ_ASSIGN_OR_RETURN(auto comm, GlooCommunicator::Create(std::move(channel), go));
    return std::unique_ptr<Communicator>(std::move(comm));
  }
#endif
  return std::unique_ptr<Communicator>(std::make_unique<TcpStarCommunicator>(std::move(channel)));
}

}  // namespace skipjoin::worker
