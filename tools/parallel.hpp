// A parallel loop for intfa-bench's host-side work (input generation, fp16
// conversion of inputs and outputs). The tools use only the public library,
// so they keep this small helper of their own rather than the CPU back-end's
// thread pool.
#pragma once

#include <algorithm>
#include <cstddef>
#include <thread>
#include <vector>

namespace intfa::bench {

// Runs f(begin, end) over contiguous pieces of [0, n) on up to 16 threads
// (one piece per thread; the pieces depend on the thread count, so f must
// not).
template <typename F>
void parallel(size_t n, F&& f) {
  const size_t threads = std::max(1u, std::min(16u, std::thread::hardware_concurrency()));
  std::vector<std::thread> pool;
  const size_t chunk = (n + threads - 1) / threads;
  for (size_t t = 0; t < threads; ++t) {
    const size_t b = t * chunk, e = std::min(n, b + chunk);
    if (b < e) pool.emplace_back([&f, b, e] { f(b, e); });
  }
  for (auto& th : pool) th.join();
}

}  // namespace intfa::bench
