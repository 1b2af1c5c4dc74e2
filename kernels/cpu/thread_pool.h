// ThreadPool: a fixed set of worker threads that run ParallelFor ranges. The CPU
// backend's "stream": every CPU op takes one and splits its loop over it.
//
// Thread-safety: ParallelFor may be called by one thread at a time (the thread
// that owns the backend); the pool's workers only run the submitted ranges.
#pragma once

#include <condition_variable>
#include <cstdint>
#include <functional>
#include <mutex>
#include <thread>
#include <vector>

namespace skipjoin::kernels {

class ThreadPool {
 public:
  // num_threads <= 0 means std::thread::hardware_concurrency().
  explicit ThreadPool(int num_threads);
  ~ThreadPool();
  ThreadPool(const ThreadPool&) = delete;
  ThreadPool& operator=(const ThreadPool&) = delete;

  int num_threads() const { return num_threads_; }

  // Calls fn(begin, end) over disjoint chunks covering [0, n), using the caller
  // and the workers; returns when all chunks are done. grain is the smallest
  // chunk worth a thread. Runs inline when n is small or there is one thread.
  void ParallelFor(int64_t n, int64_t grain, const std::function<void(int64_t, int64_t)>& fn);

 private:
  void WorkerLoop(int index);

  int num_threads_;
  std::vector<std::thread> workers_;
  std::mutex mu_;
  std::condition_variable work_cv_;
  std::condition_variable done_cv_;
  // Current job, guarded by mu_.
  const std::function<void(int64_t, int64_t)>* fn_ = nullptr;
  int64_t n_ = 0;
  int64_t chunk_ = 0;
  int64_t next_ = 0;      // next chunk start to hand out
  int active_ = 0;        // workers still running the current job
  uint64_t generation_ = 0;
  bool stop_ = false;
};

}  // namespace skipjoin::kernels
