// Progress lines on stderr for steps that take long. A step announces itself
// only once it has run for ~2 s, so quick runs (and the tests) stay quiet and
// a slow step is never silent: a background thread prints its label after 2 s,
// repeats it every 10 s, and the step's end prints how long it took.
#pragma once

#include <chrono>
#include <condition_variable>
#include <mutex>
#include <string>
#include <thread>

namespace intfa::bench {

class Progress {
 public:
  explicit Progress(std::string prefix);
  ~Progress();
  Progress(const Progress&) = delete;
  Progress& operator=(const Progress&) = delete;

  // One step at a time: begin() ends the previous step, if any.
  void begin(const std::string& label);
  void end();

  // Begins a step and ends it when the scope closes.
  class Step {
   public:
    Step(Progress& progress, const std::string& label) : progress_(progress) {
      progress_.begin(label);
    }
    ~Step() { progress_.end(); }
    Step(const Step&) = delete;
    Step& operator=(const Step&) = delete;

   private:
    Progress& progress_;
  };

 private:
  using Clock = std::chrono::steady_clock;
  void watch();
  void end_locked();

  std::string prefix_;
  std::mutex mutex_;
  std::condition_variable wake_;
  bool active_ = false, announced_ = false, stopping_ = false;
  std::string label_;
  Clock::time_point started_, next_report_;
  std::thread watcher_;
};

}  // namespace intfa::bench
