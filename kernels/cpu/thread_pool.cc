#include "kernels/cpu/thread_pool.h"

#include <algorithm>
#include <chrono>

#if defined(__x86_64__) || defined(__i386__)
#include <immintrin.h>
#define SJ_CPU_RELAX() _mm_pause()
#else
#define SJ_CPU_RELAX() std::this_thread::yield()
#endif

namespace skipjoin::kernels {

ThreadPool::ThreadPool(int num_threads, int spin_us) : spin_us_(spin_us) {
  if (num_threads <= 0) num_threads = static_cast<int>(std::max(1u, std::thread::hardware_concurrency()));
  num_threads_ = num_threads;
  for (int i = 1; i < num_threads_; ++i) workers_.emplace_back([this] { WorkerLoop(); });
}

ThreadPool::~ThreadPool() {
  {
    std::lock_guard<std::mutex> lock(mu_);
    stop_ = true;
  }
  cv_.notify_all();
  for (auto& t : workers_) t.join();
}

void ThreadPool::RunChunks() {
  for (;;) {
    const int64_t begin = next_.fetch_add(chunk_);
    if (begin >= n_) return;
    (*fn_)(begin, std::min(n_, begin + chunk_));
  }
}

void ThreadPool::ParallelFor(int64_t n, int64_t grain, const std::function<void(int64_t, int64_t)>& fn) {
  if (n <= 0) return;
  grain = std::max<int64_t>(grain, 1);
  if (num_threads_ == 1 || n <= grain) {
    fn(0, n);
    return;
  }
  // A few chunks per thread balance uneven work (causal attention rows).
  const int64_t chunks = std::min<int64_t>((n + grain - 1) / grain, int64_t{num_threads_} * 4);
  fn_ = &fn;
  n_ = n;
  chunk_ = (n + chunks - 1) / chunks;
  next_.store(0);
  pending_.store(static_cast<int>(workers_.size()));
  generation_.fetch_add(1);  // publishes the job (seq_cst)
  if (sleepers_.load() > 0) {
    std::lock_guard<std::mutex> lock(mu_);
    cv_.notify_all();
  }
  RunChunks();
  while (pending_.load(std::memory_order_acquire) != 0) SJ_CPU_RELAX();
  fn_ = nullptr;
}

void ThreadPool::WorkerLoop() {
  // Not generation_.load(): a worker that starts after the first job was
  // published must still take part in it (the caller waits for every worker).
  uint64_t seen = 0;
  for (;;) {
    // Spin a while for the next job, then sleep.
    const auto deadline = std::chrono::steady_clock::now() + std::chrono::microseconds(spin_us_);
    int polls = 0;
    while (generation_.load(std::memory_order_acquire) == seen && !stop_.load(std::memory_order_relaxed)) {
      SJ_CPU_RELAX();
      if (++polls % 64 == 0 && std::chrono::steady_clock::now() > deadline) {
        std::unique_lock<std::mutex> lock(mu_);
        sleepers_.fetch_add(1);
        cv_.wait(lock, [&] { return stop_.load() || generation_.load() != seen; });
        sleepers_.fetch_sub(1);
        break;
      }
    }
    if (stop_.load()) return;
    seen = generation_.load(std::memory_order_acquire);
    RunChunks();
    pending_.fetch_sub(1, std::memory_order_release);
  }
}

}  // namespace skipjoin::kernels
