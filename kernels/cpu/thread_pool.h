// ThreadPool: a fixed set of worker threads that run ParallelFor ranges. The CPU
// backend's "stream": every CPU op takes one and splits its loop over it.
//
// A decode step issues a few hundred short ParallelFor calls, so waking
// sleeping workers through a condition variable each time (tens of
// microseconds on a VM) would cost a large share of the step. Workers
// therefore spin for a short while (spin_us) on an atomic job counter before
// they sleep; the caller spins while the last chunks finish.
//
// Thread-safety: ParallelFor may be called by one thread at a time (the thread
// that owns the backend); the pool's workers only run the submitted ranges.
#pragma once

#include <atomic>
#include <condition_variable>
#include <cstdint>
#include <functional>
#include <mutex>
#include <thread>
#include <vector>

namespace skipjoin::kernels {

class ThreadPool {
 public:
  // num_threads <= 0 means std::thread::hardware_concurrency(). spin_us: how
  // long an idle worker polls for the next job before sleeping.
  explicit ThreadPool(int num_threads, int spin_us = 200);
  ~ThreadPool();
  ThreadPool(const ThreadPool&) = delete;
  ThreadPool& operator=(const ThreadPool&) = delete;

  int num_threads() const { return num_threads_; }

  // Calls fn(begin, end) over disjoint chunks covering [0, n), using the caller
  // and the workers; returns when all chunks are done. grain is the smallest
  // chunk worth a thread. Runs inline when n is small or there is one thread.
  void ParallelFor(int64_t n, int64_t grain, const std::function<void(int64_t, int64_t)>& fn);

 private:
  void WorkerLoop();
  void RunChunks();

  int num_threads_;
  int spin_us_;
  std::vector<std::thread> workers_;
  // The current job: written by the caller before it bumps generation_.
  const std::function<void(int64_t, int64_t)>* fn_ = nullptr;
  int64_t n_ = 0;
  int64_t chunk_ = 0;
  std::atomic<int64_t> next_{0};       // next chunk start to claim
  std::atomic<int> pending_{0};        // workers that have not finished the job
  std::atomic<uint64_t> generation_{0};
  std::atomic<int> sleepers_{0};
  std::atomic<bool> stop_{false};
  std::mutex mu_;  // only for sleeping and waking
  std::condition_variable cv_;
};

}  // namespace skipjoin::kernels
