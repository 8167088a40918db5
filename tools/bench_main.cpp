// intfa-bench: timing, accuracy study and charts for intfa.
//   intfa-bench [flags]            time recipes, check errors (bench_command.cpp)
//   intfa-bench accuracy [flags]   the paper's accuracy study (accuracy_command.cpp)
//   intfa-bench plot [flags]       PNG chart of JSON lines (plot_command.cpp)
// Exit status: 0 success; 2 bad usage or input, with a one-line reason on
// stderr; 1 any other failure.
#include <exception>
#include <iostream>
#include <new>
#include <string>
#include <vector>

#include "cli_args.hpp"
#include "commands.hpp"
#include "intfa/intfa.hpp"

namespace {

constexpr int kExitFailure = 1;
constexpr int kExitUsage = 2;

int fail(int code, const std::string& message) {
  std::cerr << "intfa-bench: " << message << "\n";
  return code;
}

// Messages from the library may span lines; the contract is one line.
std::string one_line(std::string text) {
  for (char& c : text)
    if (c == '\n' || c == '\r') c = ' ';
  return text;
}

}  // namespace

int main(int argc, char** argv) {
  using namespace intfa::bench;
  std::vector<std::string> args(argv + 1, argv + argc);
  try {
    if (!args.empty() && args.front() == "accuracy")
      return run_accuracy_command({args.begin() + 1, args.end()});
    if (!args.empty() && args.front() == "plot")
      return run_plot_command({args.begin() + 1, args.end()});
    return run_bench_command(args);
  } catch (const UsageError& e) {
    return fail(kExitUsage, one_line(e.what()));
  } catch (const intfa::Error& e) {
    // The library refused the problem itself (bad shape, unsupported by the
    // back-end): bad input. Anything else it reports is a failure.
    const bool bad_input = e.code() == intfa::StatusCode::invalid_argument ||
                           e.code() == intfa::StatusCode::unsupported;
    return fail(bad_input ? kExitUsage : kExitFailure,
                std::string(intfa::status_name(e.code())) + ": " + one_line(e.what()));
  } catch (const std::bad_alloc&) {
    return fail(kExitFailure, "out of memory (try a smaller problem)");
  } catch (const std::exception& e) {
    return fail(kExitFailure, one_line(e.what()));
  }
}
