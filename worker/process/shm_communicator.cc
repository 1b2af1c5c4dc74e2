#include "worker/process/shm_communicator.h"

#include <fcntl.h>
#include <immintrin.h>
#include <sched.h>
#include <sys/mman.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstring>
#include <new>
#include <random>

namespace skipjoin::worker {
namespace {

using Clock = std::chrono::steady_clock;

constexpr uint64_t kMagic = 0x736b6a2d73686d31;  // "skj-shm1"
constexpr size_t kLine = 64;

// Segment layout: one line of header fields, one line per rank's arrival
// counter, then buffers[2][size][slot_floats].
size_t CountersOffset() { return kLine; }
size_t BuffersOffset(int size) { return kLine + kLine * static_cast<size_t>(size); }
size_t SegmentBytes(int size, int64_t slot_floats) {
  return BuffersOffset(size) +
         2 * static_cast<size_t>(size) * static_cast<size_t>(slot_floats) * sizeof(float);
}

std::string Errno(const std::string& what) { return what + ": " + std::strerror(errno); }

}  // namespace

struct ShmCommunicator::Header {
  uint64_t magic;
  uint64_t size;
  uint64_t slot_floats;
  // Set by the first rank that sees the group broken (a rank gone before it
  // joined a collective); every waiter gives up when it reads it.
  std::atomic<uint32_t> aborted;
};

static_assert(sizeof(ShmCommunicator::Header) <= kLine);

namespace {

std::atomic<uint64_t>* Counter(void* base, int rank) {
  return reinterpret_cast<std::atomic<uint64_t>*>(static_cast<char*>(base) + CountersOffset() +
                                                  kLine * static_cast<size_t>(rank));
}

}  // namespace

ShmCommunicator::ShmCommunicator(std::unique_ptr<HostChannel> channel,
                                 const ShmCommOptions& options, void* base, size_t bytes)
    : channel_(std::move(channel)),
      options_(options),
      base_(base),
      bytes_(bytes),
      header_(static_cast<Header*>(base)),
      spin_pauses_(options.spin_pauses) {
  float* buffers = reinterpret_cast<float*>(static_cast<char*>(base) + BuffersOffset(size()));
  buffers_[0] = buffers;
  buffers_[1] = buffers + int64_t{size()} * options_.slot_floats;
}

ShmCommunicator::~ShmCommunicator() { munmap(base_, bytes_); }

Result<std::unique_ptr<ShmCommunicator>> ShmCommunicator::Create(
    std::unique_ptr<HostChannel> channel, const ShmCommOptions& options) {
  static_assert(std::atomic<uint64_t>::is_always_lock_free);
  if (options.slot_floats < 1) return InvalidArgument("shared-memory slot_floats must be >= 1");
  const int size = channel->size();
  const size_t bytes = SegmentBytes(size, options.slot_floats);
  // Rank 0 names and creates the segment.
  std::string name;
  int fd = -1;
  if (channel->rank() == 0) {
    std::random_device rd;
    name = "/skipjoin-tp-" + std::to_string(getpid()) + "-" + std::to_string(rd());
    fd = shm_open(name.c_str(), O_RDWR | O_CREAT | O_EXCL, 0600);
    std::string error;
    if (fd < 0) {
      error = Errno("shm_open " + name);
    } else if (ftruncate(fd, static_cast<off_t>(bytes)) != 0) {
      error = Errno("sizing " + name + " to " + std::to_string(bytes) + " bytes");
    }
    if (!error.empty()) {
      if (fd >= 0) close(fd);
      shm_unlink(name.c_str());
      name.clear();
      // Tell the others why, so that every rank fails with the same reason.
      (void)channel->AllGatherBytes("!" + error);
      return Unavailable("tensor-parallel shared memory: " + error);
    }
  }
  SJ_ASSIGN_OR_RETURN(std::vector<std::string> names, channel->AllGatherBytes(name));
  if (channel->rank() != 0) {
    name = names[0];
    if (!name.empty() && name[0] == '!') {
      return Unavailable("tensor-parallel shared memory (rank 0): " + name.substr(1));
    }
    fd = shm_open(name.c_str(), O_RDWR, 0600);
  }
  void* base = MAP_FAILED;
  std::string error;
  if (fd < 0) {
    error = Errno("shm_open " + name + " (are all ranks of the group on one node?)");
  } else {
    base = mmap(nullptr, bytes, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
    if (base == MAP_FAILED) error = Errno("mmap " + name);
    close(fd);
  }
  if (channel->rank() == 0 && base != MAP_FAILED) {
    auto* h = static_cast<Header*>(base);
    h->magic = kMagic;
    h->size = static_cast<uint64_t>(size);
    h->slot_floats = static_cast<uint64_t>(options.slot_floats);
    new (&h->aborted) std::atomic<uint32_t>(0);
    for (int r = 0; r < size; ++r) new (Counter(base, r)) std::atomic<uint64_t>(0);
  }
  // Everyone reports; rank 0 has written the header before its report, and the
  // channel round trip orders that before the others read it.
  auto reports = channel->AllGatherBytes(error);
  if (channel->rank() == 0) shm_unlink(name.c_str());  // mapped by all (or failed): drop the name
  Status st = reports.status();
  if (st.ok()) {
    for (int r = 0; r < size; ++r) {
      const std::string& e = (*reports)[static_cast<size_t>(r)];
      if (!e.empty()) {
        st = Unavailable("tensor-parallel shared memory, rank " + std::to_string(r) + ": " + e);
        break;
      }
    }
  }
  if (st.ok()) {
    const auto* h = static_cast<const Header*>(base);
    if (h->magic != kMagic || h->size != static_cast<uint64_t>(size) ||
        h->slot_floats != static_cast<uint64_t>(options.slot_floats)) {
      st = Internal("tensor-parallel shared memory segment " + name +
                    " does not hold this group's layout");
    }
  }
  if (!st.ok()) {
    if (base != MAP_FAILED) munmap(base, bytes);
    return st;
  }
  return std::unique_ptr<ShmCommunicator>(
      new ShmCommunicator(std::move(channel), options, base, bytes));
}

Result<float*> ShmCommunicator::Exchange(const float* in, int64_t n) {
  const uint64_t g = ++generation_;
  float* buffer = buffers_[g % 2];
  std::memcpy(Slot(buffer, rank()), in, static_cast<size_t>(n) * sizeof(float));
  Counter(base_, rank())->store(g, std::memory_order_release);
  const int size = this->size();
  int waiting_for = 0;
  uint64_t spins = 0;
  Clock::time_point started{};
  while (waiting_for < size) {
    if (Counter(base_, waiting_for)->load(std::memory_order_acquire) >= g) {
      ++waiting_for;
      continue;
    }
    ++spins;
    if (spins < static_cast<uint64_t>(spin_pauses_)) {
      _mm_pause();
      continue;
    }
    sched_yield();
    if (spins % 256 != 0) continue;
    // Slow path: a rank is late, busy, or gone. A rank whose connection is
    // closed and that has not joined this generation never will (one that
    // joined may have left after its last collective: that is no failure).
    const auto now = Clock::now();
    if (started == Clock::time_point{}) started = now;
    if (header_->aborted.load(std::memory_order_acquire) != 0) {
      return Unavailable("tensor-parallel group broken: another rank saw a rank exit");
    }
    for (int gone : channel_->ClosedPeers()) {
      if (Counter(base_, gone)->load(std::memory_order_acquire) < g) {
        header_->aborted.store(1, std::memory_order_release);
        return Unavailable("tensor-parallel rank " + std::to_string(gone) +
                           " closed its connection (it exited or crashed)");
      }
    }
    if (now - started > options_.io_timeout) {
      return DeadlineExceeded("tensor-parallel rank " + std::to_string(waiting_for) +
                              " did not join a collective within " +
                              std::to_string(options_.io_timeout.count()) + " ms");
    }
  }
  return buffer;
}

Status ShmCommunicator::AllReduceSum(float* data, int64_t n) {
  const int size = this->size();
  if (size == 1 || n == 0) return Status::Ok();
  for (int64_t begin = 0; begin < n; begin += options_.slot_floats) {
    const int64_t len = std::min(options_.slot_floats, n - begin);
    SJ_ASSIGN_OR_RETURN(float* buffer, Exchange(data + begin, len));
    float* out = data + begin;
    // Rank order, element by element: the same sum on every rank.
    const float* s0 = Slot(buffer, 0);
    const float* s1 = Slot(buffer, 1);
    for (int64_t i = 0; i < len; ++i) out[i] = s0[i] + s1[i];
    for (int r = 2; r < size; ++r) {
      const float* s = Slot(buffer, r);
      for (int64_t i = 0; i < len; ++i) out[i] += s[i];
    }
  }
  return Status::Ok();
}

Status ShmCommunicator::AllGather(const float* in, int64_t n, float* out) {
  const int size = this->size();
  const size_t bytes = static_cast<size_t>(n) * sizeof(float);
  if (size == 1 || n == 0) {
    if (n > 0 && out != in) std::memmove(out, in, bytes);
    return Status::Ok();
  }
  for (int64_t begin = 0; begin < n; begin += options_.slot_floats) {
    const int64_t len = std::min(options_.slot_floats, n - begin);
    SJ_ASSIGN_OR_RETURN(float* buffer, Exchange(in + begin, len));
    for (int r = 0; r < size; ++r) {
      std::memcpy(out + int64_t{r} * n + begin, Slot(buffer, r),
                  static_cast<size_t>(len) * sizeof(float));
    }
  }
  return Status::Ok();
}

}  // namespace skipjoin::worker
