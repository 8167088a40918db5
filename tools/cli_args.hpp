// Command-line parsing for intfa-bench: `--flag value`, `--flag=value` and
// switches, strict numbers, comma-separated lists. Every mistake throws
// UsageError, whose one-line message intfa-bench prints before exiting with 2.
#pragma once

#include <cstdint>
#include <map>
#include <optional>
#include <stdexcept>
#include <string>
#include <string_view>
#include <vector>

namespace intfa::bench {

// Bad usage or bad input (exit code 2).
class UsageError : public std::runtime_error {
 public:
  using std::runtime_error::runtime_error;
};

struct FlagSpec {
  std::string name;  // without the leading "--"
  bool takes_value = true;
  bool repeatable = false;  // e.g. plot --filter
};

class ParsedArgs {
 public:
  // `command` names the subcommand in messages ("intfa-bench accuracy").
  // Rejects unknown flags, missing values, values given to switches, repeated
  // flags that are not repeatable, and positional arguments.
  ParsedArgs(const std::vector<std::string>& args, const std::vector<FlagSpec>& specs,
             std::string command);

  bool has(const std::string& name) const { return values_.count(name) > 0; }
  std::optional<std::string> value(const std::string& name) const;
  // Every value of a repeatable flag, in command-line order.
  std::vector<std::string> values(const std::string& name) const;

  int64_t integer(const std::string& name, int64_t fallback, int64_t min, int64_t max) const;
  std::vector<int64_t> integer_list(const std::string& name, std::vector<int64_t> fallback,
                                    int64_t min, int64_t max) const;
  std::vector<std::string> string_list(const std::string& name,
                                       std::vector<std::string> fallback) const;
  // A 64-bit random seed (any unsigned 64-bit number), or nullopt when absent.
  std::optional<uint64_t> seed(const std::string& name) const;

 private:
  std::string command_;
  std::map<std::string, std::vector<std::string>> values_;  // switches hold ""
};

// `text` as an integer in [min, max]; `what` names it in the error message.
int64_t parse_integer(std::string_view text, std::string_view what, int64_t min, int64_t max);
// Splits on `separator`; an empty item is an error (e.g. "1,,2" or a trailing comma).
std::vector<std::string> split_list(std::string_view text, char separator, std::string_view what);

}  // namespace intfa::bench
