// DisconnectWatch: turns a RouterChannel's connection events
// (RouterChannel::Monitor with ZMQ_EVENT_DISCONNECTED) into probe times.
//
// A ROUTER does not say which routing id a dropped connection carried, so the
// owner probes its peers instead: under ROUTER_MANDATORY a no-op send to a
// departed peer fails at once with kUnavailable. The pipe of a dropped
// connection is torn down asynchronously, so a disconnect schedules a probe
// now and two more shortly after; probes are coalesced, so a storm of failed
// handshakes costs a few probes, not one per event.
//
// Threading: the owning thread only, like the channel it watches.
#pragma once

#include <vector>
#include <zmq.hpp>

namespace skipjoin::protocol {

class DisconnectWatch {
 public:
  DisconnectWatch() = default;  // watches nothing
  explicit DisconnectWatch(zmq::socket_t monitor) : monitor_(std::move(monitor)) {}

  // For zmq::poll; nullptr when nothing is watched.
  void* handle() { return monitor_ ? monitor_.handle() : nullptr; }
  // Reads every pending event; a disconnect schedules probes from `now`
  // (steady seconds).
  void Drain(double now);
  // True when a scheduled probe time has passed (each counts once).
  bool ProbeDue(double now);

 private:
  zmq::socket_t monitor_;
  std::vector<double> due_;  // steady seconds of pending probes
};

}  // namespace skipjoin::protocol
