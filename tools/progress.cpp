#include "progress.hpp"

#include <cstdio>
#include <utility>

namespace intfa::bench {

namespace {
constexpr std::chrono::seconds kFirstReport{2};
constexpr std::chrono::seconds kRepeatReport{10};

double seconds_since(std::chrono::steady_clock::time_point start) {
  return std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
}
}  // namespace

Progress::Progress(std::string prefix) : prefix_(std::move(prefix)) {
  watcher_ = std::thread([this] { watch(); });
}

Progress::~Progress() {
  {
    std::lock_guard<std::mutex> lock(mutex_);
    end_locked();
    stopping_ = true;
  }
  wake_.notify_all();
  watcher_.join();
}

void Progress::begin(const std::string& label) {
  {
    std::lock_guard<std::mutex> lock(mutex_);
    end_locked();
    active_ = true;
    announced_ = false;
    label_ = label;
    started_ = Clock::now();
    next_report_ = started_ + kFirstReport;
  }
  wake_.notify_all();
}

void Progress::end() {
  std::lock_guard<std::mutex> lock(mutex_);
  end_locked();
}

void Progress::end_locked() {
  if (active_ && announced_)
    std::fprintf(stderr, "%s: %s: done in %.1f s\n", prefix_.c_str(), label_.c_str(),
                 seconds_since(started_));
  active_ = false;
}

void Progress::watch() {
  std::unique_lock<std::mutex> lock(mutex_);
  while (!stopping_) {
    if (!active_) {
      wake_.wait(lock);
      continue;
    }
    if (Clock::now() < next_report_) {
      wake_.wait_until(lock, next_report_);
      continue;
    }
    std::fprintf(stderr, "%s: %s (%.0f s so far)...\n", prefix_.c_str(), label_.c_str(),
                 seconds_since(started_));
    std::fflush(stderr);
    announced_ = true;
    next_report_ = Clock::now() + kRepeatReport;
  }
}

}  // namespace intfa::bench
