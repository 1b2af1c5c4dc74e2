#include "worker/process/ring_communicator.h"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstring>
#include <string>
#include <thread>

namespace skipjoin::worker {
namespace {

using Clock = std::chrono::steady_clock;

std::string Errno(const std::string& what) { return what + ": " + std::strerror(errno); }

int Mod(int a, int m) { return ((a % m) + m) % m; }

// "a.b.c.d:port" -> sockaddr_in; false when malformed.
bool ParseAddress(const std::string& s, sockaddr_in* out) {
  const size_t colon = s.rfind(':');
  if (colon == std::string::npos) return false;
  *out = sockaddr_in{};
  out->sin_family = AF_INET;
  char* end = nullptr;
  const long port = std::strtol(s.c_str() + colon + 1, &end, 10);
  if (end == nullptr || *end != '\0' || port <= 0 || port > 65535) return false;
  out->sin_port = htons(static_cast<uint16_t>(port));
  return inet_pton(AF_INET, s.substr(0, colon).c_str(), &out->sin_addr) == 1;
}

void Tune(int fd) {
  int one = 1;
  setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
}

}  // namespace

RingCommunicator::RingCommunicator(std::unique_ptr<HostChannel> channel, int right_fd, int left_fd,
                                   const RingCommOptions& options)
    : channel_(std::move(channel)),
      right_fd_(right_fd),
      left_fd_(left_fd),
      options_(options),
      rank_(channel_->rank()),
      size_(channel_->size()) {}

RingCommunicator::~RingCommunicator() {
  if (right_fd_ >= 0) close(right_fd_);
  if (left_fd_ >= 0) close(left_fd_);
}

Result<std::unique_ptr<RingCommunicator>> RingCommunicator::Create(
    std::unique_ptr<HostChannel> channel, const RingCommOptions& options) {
  const int rank = channel->rank(), size = channel->size();
  if (size == 1) {
    return std::unique_ptr<RingCommunicator>(
        new RingCommunicator(std::move(channel), -1, -1, options));
  }
  const auto deadline = Clock::now() + options.io_timeout;
  // Listen for the left neighbour on the interface the group reaches us on.
  int lfd = socket(AF_INET, SOCK_STREAM, 0);
  sockaddr_in me{};
  me.sin_family = AF_INET;
  std::string error;
  if (lfd < 0) {
    error = Errno("socket");
  } else if (inet_pton(AF_INET, channel->local_address().c_str(), &me.sin_addr) != 1) {
    error = "no IPv4 address to listen on ('" + channel->local_address() + "')";
  } else if (bind(lfd, reinterpret_cast<sockaddr*>(&me), sizeof(me)) != 0 || listen(lfd, 4) != 0) {
    error = Errno("listening on " + channel->local_address());
  }
  socklen_t len = sizeof(me);
  if (error.empty()) getsockname(lfd, reinterpret_cast<sockaddr*>(&me), &len);
  const std::string mine = error.empty()
                               ? channel->local_address() + ":" + std::to_string(ntohs(me.sin_port))
                               : "!" + error;
  auto addresses = channel->AllGatherBytes(mine);
  auto fail = [&](Status st) {
    if (lfd >= 0) close(lfd);
    return st.WithContext("tensor-parallel rank " + std::to_string(rank) + ": connecting the ring");
  };
  if (!addresses.ok()) return fail(addresses.status());
  for (int r = 0; r < size; ++r) {
    const std::string& a = (*addresses)[static_cast<size_t>(r)];
    if (!a.empty() && a[0] == '!')
      return fail(Unavailable("rank " + std::to_string(r) + ": " + a.substr(1)));
  }
  // Connect to the right (the listener's backlog takes it before the accept).
  const int right = Mod(rank + 1, size), left = Mod(rank - 1, size);
  sockaddr_in to{};
  if (!ParseAddress((*addresses)[static_cast<size_t>(right)], &to)) {
    return fail(InvalidArgument("rank " + std::to_string(right) + " sent a malformed address '" +
                                (*addresses)[static_cast<size_t>(right)] + "'"));
  }
  int right_fd = -1;
  while (true) {
    right_fd = socket(AF_INET, SOCK_STREAM, 0);
    if (connect(right_fd, reinterpret_cast<sockaddr*>(&to), sizeof(to)) == 0) break;
    close(right_fd);
    right_fd = -1;
    if (Clock::now() >= deadline) {
      return fail(DeadlineExceeded("rank " + std::to_string(right) + " at " +
                                   (*addresses)[static_cast<size_t>(right)] + " did not accept"));
    }
    std::this_thread::sleep_for(std::chrono::milliseconds(20));
  }
  Tune(right_fd);
  const int32_t me_rank = rank;
  if (send(right_fd, &me_rank, sizeof(me_rank), MSG_NOSIGNAL) != sizeof(me_rank)) {
    close(right_fd);
    return fail(Unavailable(Errno("introducing this rank to rank " + std::to_string(right))));
  }
  // Accept the left neighbour (anything else that connects is dropped).
  int left_fd = -1;
  while (left_fd < 0) {
    const auto remaining =
        std::chrono::duration_cast<std::chrono::milliseconds>(deadline - Clock::now());
    pollfd p{lfd, POLLIN, 0};
    if (remaining.count() <= 0 || poll(&p, 1, static_cast<int>(remaining.count())) <= 0) {
      close(right_fd);
      return fail(DeadlineExceeded("rank " + std::to_string(left) + " did not connect"));
    }
    int fd = accept(lfd, nullptr, nullptr);
    if (fd < 0) continue;
    timeval tv{5, 0};  // an introduction is 4 bytes
    setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv));
    int32_t who = -1;
    if (recv(fd, &who, sizeof(who), MSG_WAITALL) != sizeof(who) || who != left) {
      close(fd);
      continue;
    }
    timeval none{0, 0};
    setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &none, sizeof(none));
    Tune(fd);
    left_fd = fd;
  }
  close(lfd);
  lfd = -1;
  if (Status st = channel->Barrier(); !st.ok()) {
    close(right_fd);
    close(left_fd);
    return fail(st);
  }
  return std::unique_ptr<RingCommunicator>(
      new RingCommunicator(std::move(channel), right_fd, left_fd, options));
}

Status RingCommunicator::Fail(Status st) {
  // The group is out of step now: make the neighbours (and, through the
  // channel, rank 0) fail their steps at once too.
  shutdown(right_fd_, SHUT_RDWR);
  shutdown(left_fd_, SHUT_RDWR);
  channel_->Shutdown();
  return st;
}

Status RingCommunicator::Exchange(const void* send_buf, size_t send_bytes, void* recv_buf,
                                  size_t recv_bytes) {
  const char* out = static_cast<const char*>(send_buf);
  char* in = static_cast<char*>(recv_buf);
  size_t sent = 0, got = 0;
  const auto deadline = Clock::now() + options_.io_timeout;
  const std::string right = std::to_string(Mod(rank_ + 1, size_));
  const std::string left = std::to_string(Mod(rank_ - 1, size_));
  while (sent < send_bytes || got < recv_bytes) {
    bool progress = false;
    if (sent < send_bytes) {
      const ssize_t n = send(right_fd_, out + sent, send_bytes - sent, MSG_NOSIGNAL | MSG_DONTWAIT);
      if (n > 0) {
        sent += static_cast<size_t>(n);
        progress = true;
      } else if (n < 0 && errno != EAGAIN && errno != EWOULDBLOCK && errno != EINTR) {
        return Fail(Unavailable(Errno("tensor-parallel send to rank " + right)));
      }
    }
    if (got < recv_bytes) {
      const ssize_t n = recv(left_fd_, in + got, recv_bytes - got, MSG_DONTWAIT);
      if (n > 0) {
        got += static_cast<size_t>(n);
        progress = true;
      } else if (n == 0) {
        return Fail(Unavailable("tensor-parallel rank " + left +
                                " closed its connection (it exited, crashed or failed a step)"));
      } else if (errno != EAGAIN && errno != EWOULDBLOCK && errno != EINTR) {
        return Fail(Unavailable(Errno("tensor-parallel recv from rank " + left)));
      }
    }
    if (progress) continue;
    pollfd p[2] = {{right_fd_, static_cast<short>(sent < send_bytes ? POLLOUT : 0), 0},
                   {left_fd_, static_cast<short>(got < recv_bytes ? POLLIN : 0), 0}};
    const auto remaining =
        std::chrono::duration_cast<std::chrono::milliseconds>(deadline - Clock::now());
    if (remaining.count() <= 0 || poll(p, 2, static_cast<int>(remaining.count())) == 0) {
      return Fail(DeadlineExceeded("tensor-parallel step: nothing from rank " + left +
                                   " or to rank " + right + " within " +
                                   std::to_string(options_.io_timeout.count()) + " ms"));
    }
    if ((p[0].revents & (POLLERR | POLLHUP)) != 0) {
      return Fail(Unavailable("tensor-parallel rank " + right + " closed its connection"));
    }
  }
  return Status::Ok();
}

Status RingCommunicator::AllReduceSum(float* data, int64_t n) {
  if (size_ == 1 || n == 0) return Status::Ok();
  auto begin = [&](int s) { return n * s / size_; };
  auto bytes = [&](int s) { return static_cast<size_t>(begin(s + 1) - begin(s)) * sizeof(float); };
  scratch_.resize(static_cast<size_t>(n / size_ + 1));
  // Reduce-scatter: after size-1 steps rank r holds the whole sum of segment r+1.
  for (int k = 0; k < size_ - 1; ++k) {
    const int send_seg = Mod(rank_ - k, size_), recv_seg = Mod(rank_ - k - 1, size_);
    SJ_RETURN_IF_ERROR(
        Exchange(data + begin(send_seg), bytes(send_seg), scratch_.data(), bytes(recv_seg)));
    float* acc = data + begin(recv_seg);
    const int64_t len = begin(recv_seg + 1) - begin(recv_seg);
    for (int64_t i = 0; i < len; ++i) acc[i] += scratch_[static_cast<size_t>(i)];
  }
  // All-gather: the finished segments go round unchanged.
  for (int k = 0; k < size_ - 1; ++k) {
    const int send_seg = Mod(rank_ + 1 - k, size_), recv_seg = Mod(rank_ - k, size_);
    SJ_RETURN_IF_ERROR(
        Exchange(data + begin(send_seg), bytes(send_seg), data + begin(recv_seg), bytes(recv_seg)));
  }
  return Status::Ok();
}

Status RingCommunicator::AllGather(const float* in, int64_t n, float* out) {
  const size_t block = static_cast<size_t>(n) * sizeof(float);
  if (n > 0 && out + int64_t{rank_} * n != in) std::memmove(out + int64_t{rank_} * n, in, block);
  if (size_ == 1 || n == 0) return Status::Ok();
  for (int k = 0; k < size_ - 1; ++k) {
    const int send_block = Mod(rank_ - k, size_), recv_block = Mod(rank_ - k - 1, size_);
    SJ_RETURN_IF_ERROR(
        Exchange(out + int64_t{send_block} * n, block, out + int64_t{recv_block} * n, block));
  }
  return Status::Ok();
}

}  // namespace skipjoin::worker
