// PLACEHOLDER for the CUDA runner of intfa-bench.
//
// The CUDA back-end owner replaces the body of make_cuda_runner() with a runner
// that uploads the f32 host inputs as fp16, times attention_quantized /
// attention with CUDA events and copies the output back (see tools/runner.hpp
// for the contract). Until then it returns nullptr, so intfa-bench falls back
// to the CPU runner and `--backend cuda` reports that CUDA is unavailable.
//
// This file is compiled only when INTFA_HAVE_CUDA is ON (tools/CMakeLists.txt
// links CUDA::cudart); builds without CUDA use runner_cuda_unavailable.cpp.
#include "runner.hpp"

namespace intfa::bench {

std::unique_ptr<Runner> make_cuda_runner() { return nullptr; }

}  // namespace intfa::bench
