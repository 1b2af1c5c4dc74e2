// HostChannel: the host-side TCP connections of one tensor-parallel group,
// used to set the group up (exchange addresses, segment names, ids) and to
// notice a rank that died. The collectives themselves run on a Communicator
// built over it (shm_communicator.h, gloo_communicator.h, tcp_communicator.h).
//
// Topology: a star. Rank 0 listens on host:port (the assignment's
// Rendezvous: store_host / store_port, chosen by the coordinator); ranks
// 1..size-1 connect to it and introduce themselves with their rank.
//
// Threading: an instance belongs to its rank's thread (the Executor), except
// where a method says otherwise. Errors (a peer that disconnects or times
// out) are returned as kUnavailable / kDeadlineExceeded, never abort.
#pragma once

#include <chrono>
#include <cstdint>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "common/status.h"

namespace skipjoin::worker {

struct HostChannelOptions {
  int rank = 0;
  int size = 1;
  std::string host;  // rank 0's address the others dial (IPv4 or a resolvable name)
  uint16_t port = 0;
  // Where rank 0 listens (an IPv4 address, 0.0.0.0 for every interface);
  // empty: `host`. A node behind NAT advertises one address and binds another.
  std::string bind_host;
  // How long rank 0 waits for all peers and a peer retries connecting.
  std::chrono::milliseconds timeout{60000};
  // Longest wait for one message; a stuck peer fails the call.
  std::chrono::milliseconds io_timeout{300000};
};

class HostChannel {
 public:
  // Blocks until the group is connected (or the timeout passes).
  static Result<std::unique_ptr<HostChannel>> Connect(const HostChannelOptions& options);
  ~HostChannel();
  HostChannel(const HostChannel&) = delete;
  HostChannel& operator=(const HostChannel&) = delete;

  int rank() const { return rank_; }
  int size() const { return size_; }

  // Every rank's bytes, in rank order. Rank 0 gathers and sends the whole
  // list back, so all ranks see the same list.
  Result<std::vector<std::string>> AllGatherBytes(std::string_view mine);
  // Returns once every rank has called it.
  Status Barrier();

  // Raw framing-free transfers on the socket to `peer` (rank 0: any other
  // rank; other ranks: only 0).
  Status SendTo(int peer, const void* data, size_t bytes);
  Status RecvFrom(int peer, void* data, size_t bytes);
  // A length-prefixed message.
  Status SendMessage(int peer, std::string_view bytes);
  Result<std::string> RecvMessage(int peer);

  // The IPv4 address of this rank's end of its connection(s): the interface
  // the group reaches it on. Usable as a bind address for other transports.
  const std::string& local_address() const { return local_address_; }

  // Ok while every socket is open; kUnavailable naming the rank once a peer
  // closed its end (it exited or crashed). Does not consume data, so it can
  // be called between collectives while waiting on another transport.
  Status CheckPeers() const;
  // The peers this rank sees (rank 0: all; others: rank 0) whose end is closed.
  std::vector<int> ClosedPeers() const;

  // Shuts every socket down (both directions), so that any thread blocked on
  // one returns with an error. Safe to call from any thread.
  void Shutdown();

 private:
  HostChannel(int rank, int size, std::vector<int> fds, std::string local_address);

  const int rank_;
  const int size_;
  // Rank 0: fds_[r] is the socket to rank r (fds_[0] unused, -1).
  // Other ranks: fds_[0] is the socket to rank 0.
  std::vector<int> fds_;
  std::string local_address_;
};

}  // namespace skipjoin::worker
