// A minimal parallel loop for the CPU back-end. std::thread keeps the library
// free of an OpenMP runtime dependency; tasks are claimed from an atomic
// counter, so uneven tasks (causal tiles) balance themselves.
#pragma once

#include <cstdint>
#include <functional>

namespace intfa::detail {

// Worker count: INTFA_NUM_THREADS if set, else std::thread::hardware_concurrency().
int cpu_thread_count();

// Calls fn(task) for task in [0, tasks) on up to cpu_thread_count() threads.
// The first exception thrown by any task is rethrown on the calling thread.
void parallel_for(int64_t tasks, const std::function<void(int64_t)>& fn);

}  // namespace intfa::detail
