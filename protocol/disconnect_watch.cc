#include "protocol/disconnect_watch.h"

#include <algorithm>
#include <cmath>
#include <cstdint>
#include <cstring>

namespace skipjoin::protocol {

void DisconnectWatch::Drain(double now) {
  if (!monitor_) return;
  bool disconnected = false;
  while (true) {
    zmq::message_t event;
    try {
      if (!monitor_.recv(event, zmq::recv_flags::dontwait)) break;
      zmq::message_t address;
      if (event.more()) (void)monitor_.recv(address, zmq::recv_flags::dontwait);
    } catch (const zmq::error_t&) {
      break;
    }
    uint16_t id = 0;
    if (event.size() >= sizeof(id)) std::memcpy(&id, event.data(), sizeof(id));
    if (id == ZMQ_EVENT_DISCONNECTED) disconnected = true;
  }
  if (!disconnected) return;
  for (double delay : {0.0, 0.2, 1.0}) {
    const double at = now + delay;
    bool near = false;
    for (double d : due_) near = near || std::abs(d - at) < 0.05;
    if (!near) due_.push_back(at);
  }
}

bool DisconnectWatch::ProbeDue(double now) {
  const size_t before = due_.size();
  due_.erase(std::remove_if(due_.begin(), due_.end(), [&](double t) { return t <= now; }),
             due_.end());
  return due_.size() != before;
}

}  // namespace skipjoin::protocol
