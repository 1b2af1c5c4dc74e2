// Mailbox<T>: the inbox of an actor, for both kinds of actor thread.
//
// Any thread may Push. An owner that waits on sockets polls fd() (an eventfd,
// pollable together with ZeroMQ sockets through zmq::poll) and drains with
// PopAll; an owner with nothing else to wait on blocks in Pop. Close() wakes
// every waiter; after it Push is refused, and Pop / PopAll return what is
// left (Pop then reports closed). The mutex is the only lock and lives only
// here.
#pragma once

#include <sys/eventfd.h>
#include <unistd.h>

#include <condition_variable>
#include <cstdint>
#include <deque>
#include <mutex>
#include <optional>
#include <utility>

namespace skipjoin {

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
    cv_.notify_one();
    Signal();
    return true;
  }

  // Owner: everything queued so far, in order; resets fd()'s readiness.
  std::deque<T> PopAll() {
    uint64_t count;
    (void)!read(fd_, &count, sizeof(count));
    std::lock_guard<std::mutex> lock(mu_);
    std::deque<T> out;
    out.swap(items_);
    return out;
  }

  // Owner: blocks until an item arrives; nullopt once closed and empty.
  std::optional<T> Pop() {
    std::unique_lock<std::mutex> lock(mu_);
    cv_.wait(lock, [&] { return closed_ || !items_.empty(); });
    return TakeLocked();
  }

  // Owner: never blocks; nullopt when empty.
  std::optional<T> TryPop() {
    std::lock_guard<std::mutex> lock(mu_);
    return TakeLocked();
  }

  void Close() {
    {
      std::lock_guard<std::mutex> lock(mu_);
      closed_ = true;
    }
    cv_.notify_all();
    Signal();
  }

  // Readable while items may be waiting (poll it, then PopAll).
  int fd() const { return fd_; }

 private:
  void Signal() {
    const uint64_t one = 1;
    (void)!write(fd_, &one, sizeof(one));
  }
  std::optional<T> TakeLocked() {
    if (items_.empty()) return std::nullopt;
    T item = std::move(items_.front());
    items_.pop_front();
    return item;
  }

  const int fd_;
  std::mutex mu_;
  std::condition_variable cv_;
  std::deque<T> items_;  // guarded by mu_
  bool closed_ = false;  // guarded by mu_
};

}  // namespace skipjoin
