#include "core/threading.hpp"

#include <algorithm>
#include <atomic>
#include <condition_variable>
#include <cstdlib>
#include <exception>
#include <mutex>
#include <thread>
#include <vector>

namespace intfa::detail {

int cpu_thread_count() {
  static const int count = [] {
    if (const char* env = std::getenv("INTFA_NUM_THREADS")) {
      const int n = std::atoi(env);
      if (n > 0) return n;
    }
    const unsigned hw = std::thread::hardware_concurrency();
    return hw == 0 ? 1 : static_cast<int>(hw);
  }();
  return count;
}

namespace {

// A persistent pool: one call of the one-call API runs several parallel loops
// (channel mean, K, Q, V quantization, attention), and starting threads for
// each dominated small (decode-sized) problems. Workers sleep on a condition
// variable between loops. One loop runs at a time (callers serialize on
// loop_mutex_); a loop started from inside a task runs inline.
class Pool {
 public:
  static Pool& instance() {
    static Pool pool(cpu_thread_count() - 1);
    return pool;
  }

  void run(int64_t tasks, const std::function<void(int64_t)>& fn) {
    if (inside_task_ || workers_.empty() || tasks == 1) {
      run_inline(tasks, fn);
      return;
    }
    std::lock_guard<std::mutex> loop_lock(loop_mutex_);
    {
      std::lock_guard<std::mutex> lock(mutex_);
      fn_ = &fn;
      tasks_ = tasks;
      next_.store(0, std::memory_order_relaxed);
      error_ = nullptr;
      active_ = static_cast<int>(workers_.size());
      ++generation_;
    }
    wake_.notify_all();
    work();
    std::unique_lock<std::mutex> lock(mutex_);
    done_.wait(lock, [&] { return active_ == 0; });
    fn_ = nullptr;
    if (error_) std::rethrow_exception(error_);
  }

  ~Pool() {
    {
      std::lock_guard<std::mutex> lock(mutex_);
      stop_ = true;
      ++generation_;
    }
    wake_.notify_all();
    for (auto& t : workers_) t.join();
  }

 private:
  explicit Pool(int workers) {
    for (int i = 0; i < workers; ++i) workers_.emplace_back([this] { worker(); });
  }

  static void run_inline(int64_t tasks, const std::function<void(int64_t)>& fn) {
    for (int64_t t = 0; t < tasks; ++t) fn(t);
  }

  // Claims tasks until none is left; records the first exception.
  void work() {
    inside_task_ = true;
    for (;;) {
      const int64_t t = next_.fetch_add(1, std::memory_order_relaxed);
      if (t >= tasks_) break;
      try {
        (*fn_)(t);
      } catch (...) {
        std::lock_guard<std::mutex> lock(mutex_);
        if (!error_) error_ = std::current_exception();
        next_.store(tasks_, std::memory_order_relaxed);  // stop handing out work
      }
    }
    inside_task_ = false;
  }

  void worker() {
    uint64_t seen = 0;
    for (;;) {
      {
        std::unique_lock<std::mutex> lock(mutex_);
        wake_.wait(lock, [&] { return generation_ != seen; });
        seen = generation_;
        if (stop_) return;
      }
      work();
      std::lock_guard<std::mutex> lock(mutex_);
      if (--active_ == 0) done_.notify_one();
    }
  }

  std::vector<std::thread> workers_;
  std::mutex loop_mutex_;  // one parallel loop at a time
  std::mutex mutex_;
  std::condition_variable wake_, done_;
  const std::function<void(int64_t)>* fn_ = nullptr;
  int64_t tasks_ = 0;
  std::atomic<int64_t> next_{0};
  std::exception_ptr error_;
  int active_ = 0;
  uint64_t generation_ = 0;
  bool stop_ = false;
  static thread_local bool inside_task_;
};

thread_local bool Pool::inside_task_ = false;

}  // namespace

void parallel_for(int64_t tasks, const std::function<void(int64_t)>& fn) {
  if (tasks <= 0) return;
  Pool::instance().run(tasks, fn);
}

}  // namespace intfa::detail
