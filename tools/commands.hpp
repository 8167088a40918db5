// intfa-bench's subcommands. Each takes the arguments after its name and
// returns the exit code; bad usage throws UsageError (exit 2), see bench_main.
#pragma once

#include <stdexcept>
#include <string>
#include <vector>

namespace intfa::bench {

// `intfa-bench [flags]`: time recipes and check their errors.
int run_bench_command(const std::vector<std::string>& args);
// `intfa-bench accuracy [flags]`: the paper's accuracy study.
int run_accuracy_command(const std::vector<std::string>& args);
// `intfa-bench plot [flags]`: a PNG chart of any JSON-lines file.
int run_plot_command(const std::vector<std::string>& args);

// A valid request the environment cannot serve (e.g. --backend cuda without
// a CUDA runner): exit code 1, not 2, because the command line is right.
class Unavailable : public std::runtime_error {
 public:
  using std::runtime_error::runtime_error;
};

}  // namespace intfa::bench
