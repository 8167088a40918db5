// intfa-bench entry point (work in progress: the command line comes next).
#include <iostream>

#include "runner.hpp"

int main() {
  auto runner = intfa::bench::make_cuda_runner();
  if (!runner) runner = intfa::bench::make_cpu_runner();
  std::cout << "intfa-bench: back-end " << intfa::backend_name(runner->backend()) << "\n";
  return 0;
}
