#include "worker/process/host_channel.h"

#include <arpa/inet.h>
#include <netdb.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <thread>

namespace skipjoin::worker {
namespace {

using Clock = std::chrono::steady_clock;

// A message on the channel is never larger than this (addresses, names, ids).
constexpr uint32_t kMaxMessageBytes = 1u << 20;

std::string Errno(const std::string& what) { return what + ": " + std::strerror(errno); }

void SetSocketOptions(int fd, std::chrono::milliseconds io_timeout) {
  int one = 1;
  setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
  timeval tv{};
  tv.tv_sec = static_cast<time_t>(io_timeout.count() / 1000);
  tv.tv_usec = static_cast<suseconds_t>((io_timeout.count() % 1000) * 1000);
  setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv));
  setsockopt(fd, SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof(tv));
}

Status SendAll(int fd, const void* data, size_t bytes) {
  const char* p = static_cast<const char*>(data);
  while (bytes > 0) {
    ssize_t n = send(fd, p, bytes, MSG_NOSIGNAL);
    if (n < 0 && errno == EINTR) continue;
    if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK)) {
      return DeadlineExceeded("tensor-parallel peer stopped reading");
    }
    if (n <= 0) return Unavailable(Errno("tensor-parallel send"));
    p += n;
    bytes -= static_cast<size_t>(n);
  }
  return Status::Ok();
}

Status RecvAll(int fd, void* data, size_t bytes) {
  char* p = static_cast<char*>(data);
  while (bytes > 0) {
    ssize_t n = recv(fd, p, bytes, 0);
    if (n < 0 && errno == EINTR) continue;
    if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK)) {
      return DeadlineExceeded("tensor-parallel peer sent nothing within the I/O timeout");
    }
    if (n == 0) return Unavailable("tensor-parallel peer closed the connection");
    if (n < 0) return Unavailable(Errno("tensor-parallel recv"));
    p += n;
    bytes -= static_cast<size_t>(n);
  }
  return Status::Ok();
}

Result<addrinfo*> Resolve(const std::string& host, uint16_t port, bool passive) {
  addrinfo hints{};
  hints.ai_family = AF_INET;
  hints.ai_socktype = SOCK_STREAM;
  if (passive) hints.ai_flags = AI_PASSIVE;
  addrinfo* res = nullptr;
  int rc = getaddrinfo(host.empty() ? nullptr : host.c_str(), std::to_string(port).c_str(), &hints,
                       &res);
  if (rc != 0) return InvalidArgument("cannot resolve '" + host + "': " + gai_strerror(rc));
  return res;
}

void CloseAll(std::vector<int>& fds) {
  for (int& fd : fds) {
    if (fd >= 0) close(fd);
    fd = -1;
  }
}

std::string LocalAddressOf(int fd) {
  sockaddr_in a{};
  socklen_t len = sizeof(a);
  if (getsockname(fd, reinterpret_cast<sockaddr*>(&a), &len) != 0) return "";
  char buf[INET_ADDRSTRLEN] = {};
  return inet_ntop(AF_INET, &a.sin_addr, buf, sizeof(buf)) != nullptr ? buf : "";
}

}  // namespace

HostChannel::HostChannel(int rank, int size, std::vector<int> fds, std::string local_address)
    : rank_(rank), size_(size), fds_(std::move(fds)), local_address_(std::move(local_address)) {}

HostChannel::~HostChannel() { CloseAll(fds_); }

Result<std::unique_ptr<HostChannel>> HostChannel::Connect(const HostChannelOptions& o) {
  if (o.size < 1 || o.rank < 0 || o.rank >= o.size) {
    return InvalidArgument("tensor-parallel rank " + std::to_string(o.rank) + " of size " +
                           std::to_string(o.size));
  }
  std::vector<int> fds(static_cast<size_t>(o.size), -1);
  if (o.size == 1) return std::unique_ptr<HostChannel>(new HostChannel(0, 1, fds, "127.0.0.1"));
  if (o.port == 0) return InvalidArgument("tensor-parallel rendezvous has no port");
  const auto deadline = Clock::now() + o.timeout;
  const std::string where = o.host + ":" + std::to_string(o.port);
  if (o.rank == 0) {
    const std::string& listen_on = o.bind_host.empty() ? o.host : o.bind_host;
    SJ_ASSIGN_OR_RETURN(addrinfo * ai, Resolve(listen_on, o.port, /*passive=*/true));
    int lfd = socket(ai->ai_family, ai->ai_socktype, ai->ai_protocol);
    int one = 1;
    setsockopt(lfd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
    const bool bound = bind(lfd, ai->ai_addr, ai->ai_addrlen) == 0 && listen(lfd, o.size) == 0;
    freeaddrinfo(ai);
    if (!bound) {
      Status st = Unavailable(Errno("tensor-parallel rank 0 cannot listen on " + listen_on + ":" +
                                    std::to_string(o.port)));
      close(lfd);
      return st;
    }
    int joined = 0;
    while (joined < o.size - 1) {
      const auto left =
          std::chrono::duration_cast<std::chrono::milliseconds>(deadline - Clock::now());
      pollfd p{lfd, POLLIN, 0};
      if (left.count() <= 0 || poll(&p, 1, static_cast<int>(left.count())) <= 0) {
        close(lfd);
        CloseAll(fds);
        return DeadlineExceeded("tensor-parallel rank 0: " + std::to_string(joined) + " of " +
                                std::to_string(o.size - 1) + " peers joined on " + where);
      }
      int fd = accept(lfd, nullptr, nullptr);
      if (fd < 0) continue;
      SetSocketOptions(fd, o.io_timeout);
      int32_t peer_rank = -1;
      if (!RecvAll(fd, &peer_rank, sizeof(peer_rank)).ok() || peer_rank <= 0 ||
          peer_rank >= o.size || fds[static_cast<size_t>(peer_rank)] >= 0) {
        close(fd);  // not one of ours, or a duplicate: ignore it
        continue;
      }
      fds[static_cast<size_t>(peer_rank)] = fd;
      ++joined;
    }
    close(lfd);
    std::string local = LocalAddressOf(fds[1]);
    return std::unique_ptr<HostChannel>(new HostChannel(0, o.size, std::move(fds), local));
  }
  while (true) {
    SJ_ASSIGN_OR_RETURN(addrinfo * ai, Resolve(o.host, o.port, /*passive=*/false));
    int fd = socket(ai->ai_family, ai->ai_socktype, ai->ai_protocol);
    const bool connected = connect(fd, ai->ai_addr, ai->ai_addrlen) == 0;
    freeaddrinfo(ai);
    if (connected) {
      SetSocketOptions(fd, o.io_timeout);
      int32_t me = o.rank;
      if (Status st = SendAll(fd, &me, sizeof(me)); !st.ok()) {
        close(fd);
        return st;
      }
      fds[0] = fd;
      break;
    }
    close(fd);
    if (Clock::now() >= deadline) {
      return DeadlineExceeded("tensor-parallel rank " + std::to_string(o.rank) +
                              " could not reach rank 0 at " + where);
    }
    std::this_thread::sleep_for(std::chrono::milliseconds(100));  // rank 0 not listening yet
  }
  std::string local = LocalAddressOf(fds[0]);
  return std::unique_ptr<HostChannel>(new HostChannel(o.rank, o.size, std::move(fds), local));
}

Status HostChannel::SendTo(int peer, const void* data, size_t bytes) {
  return SendAll(fds_[static_cast<size_t>(peer)], data, bytes)
      .WithContext("to tensor-parallel rank " + std::to_string(peer));
}

Status HostChannel::RecvFrom(int peer, void* data, size_t bytes) {
  return RecvAll(fds_[static_cast<size_t>(peer)], data, bytes)
      .WithContext("from tensor-parallel rank " + std::to_string(peer));
}

Status HostChannel::SendMessage(int peer, std::string_view bytes) {
  const uint32_t n = static_cast<uint32_t>(bytes.size());
  SJ_RETURN_IF_ERROR(SendTo(peer, &n, sizeof(n)));
  return SendTo(peer, bytes.data(), bytes.size());
}

Result<std::string> HostChannel::RecvMessage(int peer) {
  uint32_t n = 0;
  SJ_RETURN_IF_ERROR(RecvFrom(peer, &n, sizeof(n)));
  if (n > kMaxMessageBytes) {
    return InvalidArgument("tensor-parallel rank " + std::to_string(peer) + " sent a " +
                           std::to_string(n) + "-byte set-up message (limit " +
                           std::to_string(kMaxMessageBytes) + ")");
  }
  std::string out(n, '\0');
  SJ_RETURN_IF_ERROR(RecvFrom(peer, out.data(), n));
  return out;
}

Result<std::vector<std::string>> HostChannel::AllGatherBytes(std::string_view mine) {
  std::vector<std::string> all(static_cast<size_t>(size_));
  all[static_cast<size_t>(rank_)] = std::string(mine);
  if (size_ == 1) return all;
  if (rank_ != 0) {
    SJ_RETURN_IF_ERROR(SendMessage(0, mine));
    for (int r = 0; r < size_; ++r) {
      SJ_ASSIGN_OR_RETURN(all[static_cast<size_t>(r)], RecvMessage(0));
    }
    return all;
  }
  for (int r = 1; r < size_; ++r) {
    SJ_ASSIGN_OR_RETURN(all[static_cast<size_t>(r)], RecvMessage(r));
  }
  for (int r = 1; r < size_; ++r) {
    for (const std::string& s : all) SJ_RETURN_IF_ERROR(SendMessage(r, s));
  }
  return all;
}

Status HostChannel::Barrier() { return AllGatherBytes("").status(); }

void HostChannel::Shutdown() {
  for (int fd : fds_) {
    if (fd >= 0) shutdown(fd, SHUT_RDWR);
  }
}

std::vector<int> HostChannel::ClosedPeers() const {
  std::vector<int> closed;
  for (int r = 0; r < size_; ++r) {
    const int fd = fds_[static_cast<size_t>(r)];
    if (fd < 0) continue;
    pollfd p{fd, POLLRDHUP, 0};
    if (poll(&p, 1, 0) > 0 && (p.revents & (POLLRDHUP | POLLHUP | POLLERR)) != 0) {
      closed.push_back(r);
    }
  }
  return closed;
}

Status HostChannel::CheckPeers() const {
  const std::vector<int> closed = ClosedPeers();
  if (closed.empty()) return Status::Ok();
  return Unavailable("tensor-parallel rank " + std::to_string(closed[0]) +
                     " closed its connection (it exited or crashed)");
}

}  // namespace skipjoin::worker
