// Mailbox<T>: the inbox of an actor whose thread also waits on sockets. Any
// thread may Push; the owner waits on fd() (an eventfd, pollable together with
// ZeroMQ sockets through zmq::poll) and drains with PopAll. The mutex is the
// only lock and lives only here.
#pragma once

#include <sys/eventfd.h>
#include <unistd.h>

#include <cstdint>
#include <deque>
#include <mutex>

namespace skipjoin::server {

template <typename T>
class Mailbox {
 public:
  Mailbox() : fd_(eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC)) {}
  ~Mailbox() {
    if (fd_ >= 0) close(fd_);
  }
  Mailbox(const Mailbox&) = delete;
  Mailbox& operator=(const Mailbox&) = delete;

  // Any thread. False (and `item` dropped) once closed.
  bool Push(T item) {
    {
      std::lock_guard<std::mutex> lock(mu_);
      if (closed_) return false;
      items_.push_back(std::move(item));
    }
    const uint64_t one = 1;
    (void)!write(fd_, &one, sizeof(one));
    return true;
  }
  // Owner thread: everything queued so far, in order.
  std::deque<T> PopAll() {
    uint64_t count;
    (void)!read(fd_, &count, sizeof(count));
    std::lock_guard<std::mutex> lock(mu_);
    std::deque<T> out;
    out.swap(items_);
    return out;
  }
  void Close() {
    {
      std::lock_guard<std::mutex> lock(mu_);
      closed_ = true;
    }
    const uint64_t one = 1;
    (void)!write(fd_, &one, sizeof(one));
  }
  int fd() const { return fd_; }

 private:
  const int fd_;
  std::mutex mu_;
  std::deque<T> items_;  // guarded by mu_
  bool closed_ = false;  // guarded by mu_
};

}  // namespace skipjoin::server
