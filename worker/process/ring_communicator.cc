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
#include <initializer_list>
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

Status RingCommunicator::Transfer(std::initializer_list<Move> moves) {
  struct State {
    Move m;
    size_t done = 0;
  };
  State st[4];
  int count = 0;
  for (const Move& m : moves) {
    if (m.bytes > 0) st[count++].m = m;
  }
  const auto deadline = Clock::now() + options_.io_timeout;
  auto peer_of = [&](int fd) {
    return std::to_string(Mod(rank_ + (fd == right_fd_ ? 1 : -1), size_));
  };
  int pending = count;
  while (pending > 0) {
    bool progress = false;
    for (int i = 0; i < count; ++i) {
      State& x = st[i];
      if (x.done == x.m.bytes) continue;
      const ssize_t n = x.m.send ? send(x.m.fd, static_cast<const char*>(x.m.send) + x.done,
                                        x.m.bytes - x.done, MSG_NOSIGNAL | MSG_DONTWAIT)
                                 : recv(x.m.fd, static_cast<char*>(x.m.recv) + x.done,
                                        x.m.bytes - x.done, MSG_DONTWAIT);
      if (n > 0) {
        x.done += static_cast<size_t>(n);
        if (x.done == x.m.bytes) --pending;
        progress = true;
      } else if (n == 0 && x.m.recv != nullptr) {
        return Fail(Unavailable("tensor-parallel rank " + peer_of(x.m.fd) +
                                " closed its connection (it exited, crashed or failed a step)"));
      } else if (n < 0 && errno != EAGAIN && errno != EWOULDBLOCK && errno != EINTR) {
        return Fail(
            Unavailable(Errno(std::string("tensor-parallel ") +
                              (x.m.send ? "send to" : "recv from") + " rank " + peer_of(x.m.fd))));
      }
    }
    if (progress || pending == 0) continue;
    // Nothing moved: sleep until a socket is ready (one pollfd per socket).
    pollfd p[2] = {{right_fd_, 0, 0}, {left_fd_, 0, 0}};
    for (int i = 0; i < count; ++i) {
      if (st[i].done == st[i].m.bytes) continue;
      pollfd& q = p[st[i].m.fd == right_fd_ ? 0 : 1];
      q.events = static_cast<short>(q.events | (st[i].m.send ? POLLOUT : POLLIN));
    }
    const auto remaining =
        std::chrono::duration_cast<std::chrono::milliseconds>(deadline - Clock::now());
    const int nfds = right_fd_ == left_fd_ ? 1 : 2;
    if (remaining.count() <= 0 || poll(p, nfds, static_cast<int>(remaining.count())) == 0) {
      return Fail(DeadlineExceeded("tensor-parallel step: no progress with the neighbours within " +
                                   std::to_string(options_.io_timeout.count()) + " ms"));
    }
    for (int k = 0; k < nfds; ++k) {
      if ((p[k].revents & POLLERR) != 0) {
        return Fail(
            Unavailable("tensor-parallel rank " + peer_of(p[k].fd) + " closed its connection"));
      }
    }
  }
  return Status::Ok();
}

Status RingCommunicator::Exchange(const void* send_buf, size_t send_bytes, void* recv_buf,
                                  size_t recv_bytes) {
  return Transfer({Move{right_fd_, send_buf, nullptr, send_bytes},
                   Move{left_fd_, nullptr, recv_buf, recv_bytes}});
}

Status RingCommunicator::AllReduceSum(float* data, int64_t n) {
  if (size_ == 1 || n == 0) return Status::Ok();
  const size_t bytes_all = static_cast<size_t>(n) * sizeof(float);
  if (size_ <= 3 && bytes_all <= options_.direct_max_bytes) {
    // Small (a decode step's activations): every rank sends its whole vector
    // to the other one or two (both are neighbours at size <= 3) in one
    // step, and sums all of them in rank order: one hop instead of
    // 2 (size-1), the same bits on every rank.
    scratch_.resize(static_cast<size_t>(n) * static_cast<size_t>(size_));
    float* from_left = scratch_.data();
    float* from_right = scratch_.data() + n;
    if (size_ == 2) {
      SJ_RETURN_IF_ERROR(Exchange(data, bytes_all, from_left, bytes_all));
    } else {
      SJ_RETURN_IF_ERROR(Transfer({Move{right_fd_, data, nullptr, bytes_all},
                                   Move{left_fd_, data, nullptr, bytes_all},
                                   Move{left_fd_, nullptr, from_left, bytes_all},
                                   Move{right_fd_, nullptr, from_right, bytes_all}}));
    }
    const float* by_rank[3] = {};
    by_rank[rank_] = data;
    by_rank[Mod(rank_ - 1, size_)] = from_left;
    if (size_ == 3) by_rank[Mod(rank_ + 1, size_)] = from_right;
    float* out = scratch_.data() + int64_t{2} * n;
    if (size_ == 2) {
      // a + b == b + a exactly: no third buffer needed.
      for (int64_t i = 0; i < n; ++i) data[i] = by_rank[0][i] + by_rank[1][i];
      return Status::Ok();
    }
    for (int64_t i = 0; i < n; ++i) out[i] = (by_rank[0][i] + by_rank[1][i]) + by_rank[2][i];
    std::memcpy(data, out, bytes_all);
    return Status::Ok();
  }
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
