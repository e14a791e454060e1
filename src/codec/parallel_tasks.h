// parallel_tasks.h: run independent tasks 0..n-1 on up to `threads` threads.
//
// The caller's thread is worker 0, so threads == 1 spawns nothing. Tasks are
// handed out by an atomic counter; results are written by index, so the
// output never depends on the schedule. If tasks throw, the exception of the
// lowest failing task index is rethrown after every worker has stopped (the
// error a caller sees does not depend on the thread count either, as long as
// every task before it succeeded).
#pragma once

#include <algorithm>
#include <atomic>
#include <cstddef>
#include <exception>
#include <mutex>
#include <thread>
#include <vector>

namespace deepsz::codec_detail {

template <class Task>  // void(size_t task, unsigned worker)
void run_parallel(size_t tasks, unsigned threads, Task&& task) {
  if (tasks == 0) return;
  const unsigned workers =
      unsigned(std::max<size_t>(1, std::min<size_t>(threads ? threads : 1, tasks)));
  std::atomic<size_t> next{0};
  std::mutex error_mutex;
  std::atomic<size_t> error_task{tasks};
  std::exception_ptr error;
  auto work = [&](unsigned worker) {
    for (;;) {
      const size_t t = next.fetch_add(1, std::memory_order_relaxed);
      if (t >= tasks) return;
      // After a failure, later tasks are skipped; earlier ones still run so
      // the reported error is that of the lowest failing index.
      if (t > error_task.load(std::memory_order_relaxed)) continue;
      try {
        task(t, worker);
      } catch (...) {
        std::lock_guard<std::mutex> lock(error_mutex);
        if (t < error_task.load(std::memory_order_relaxed)) {
          error_task.store(t, std::memory_order_relaxed);
          error = std::current_exception();
        }
      }
    }
  };
  std::vector<std::thread> pool;
  pool.reserve(workers - 1);
  try {
    for (unsigned w = 1; w < workers; ++w) pool.emplace_back(work, w);
  } catch (...) {
    // Could not start a thread: the remaining workers still drain the queue.
  }
  work(0);
  for (auto& t : pool) t.join();
  if (error) std::rethrow_exception(error);
}

}  // namespace deepsz::codec_detail
