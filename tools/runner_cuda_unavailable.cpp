// make_cuda_runner() for builds without CUDA (INTFA_HAVE_CUDA OFF): there is
// no CUDA runner, so intfa-bench uses the CPU runner.
#include "runner.hpp"

namespace intfa::bench {

std::unique_ptr<Runner> make_cuda_runner() { return nullptr; }

}  // namespace intfa::bench
