#include "cli_args.hpp"

#include <charconv>
#include <utility>

namespace intfa::bench {

namespace {

const FlagSpec* find_spec(const std::vector<FlagSpec>& specs, std::string_view name) {
  for (const FlagSpec& spec : specs)
    if (spec.name == name) return &spec;
  return nullptr;
}

}  // namespace

ParsedArgs::ParsedArgs(const std::vector<std::string>& args, const std::vector<FlagSpec>& specs,
                       std::string command)
    : command_(std::move(command)) {
  for (size_t i = 0; i < args.size(); ++i) {
    const std::string& arg = args[i];
    if (arg == "-h") {
      values_["help"].push_back("");
      continue;
    }
    if (arg.rfind("--", 0) != 0 || arg.size() == 2)
      throw UsageError("unexpected argument '" + arg + "' for " + command_ + " (see --help)");
    const size_t equals = arg.find('=');
    const std::string name = arg.substr(2, equals == std::string::npos ? std::string::npos
                                                                        : equals - 2);
    const FlagSpec* spec = find_spec(specs, name);
    if (!spec) throw UsageError("unknown flag --" + name + " for " + command_ + " (see --help)");
    std::string value;
    if (!spec->takes_value) {
      if (equals != std::string::npos)
        throw UsageError("flag --" + name + " takes no value (got '" + arg + "')");
    } else if (equals != std::string::npos) {
      value = arg.substr(equals + 1);
    } else {
      if (i + 1 >= args.size()) throw UsageError("flag --" + name + " needs a value");
      value = args[++i];
    }
    std::vector<std::string>& slot = values_[name];
    if (!slot.empty() && !spec->repeatable)
      throw UsageError("flag --" + name + " is given more than once");
    slot.push_back(std::move(value));
  }
}

std::optional<std::string> ParsedArgs::value(const std::string& name) const {
  const auto it = values_.find(name);
  if (it == values_.end()) return std::nullopt;
  return it->second.back();
}

std::vector<std::string> ParsedArgs::values(const std::string& name) const {
  const auto it = values_.find(name);
  return it == values_.end() ? std::vector<std::string>{} : it->second;
}

int64_t ParsedArgs::integer(const std::string& name, int64_t fallback, int64_t min,
                            int64_t max) const {
  const auto text = value(name);
  return text ? parse_integer(*text, "--" + name, min, max) : fallback;
}

std::vector<int64_t> ParsedArgs::integer_list(const std::string& name,
                                              std::vector<int64_t> fallback, int64_t min,
                                              int64_t max) const {
  const auto text = value(name);
  if (!text) return fallback;
  std::vector<int64_t> numbers;
  for (const std::string& item : split_list(*text, ',', "--" + name))
    numbers.push_back(parse_integer(item, "--" + name, min, max));
  return numbers;
}

std::vector<std::string> ParsedArgs::string_list(const std::string& name,
                                                 std::vector<std::string> fallback) const {
  const auto text = value(name);
  return text ? split_list(*text, ',', "--" + name) : fallback;
}

std::optional<uint64_t> ParsedArgs::seed(const std::string& name) const {
  const auto text = value(name);
  if (!text) return std::nullopt;
  uint64_t seed = 0;
  const char* end = text->data() + text->size();
  const auto [ptr, ec] = std::from_chars(text->data(), end, seed);
  if (text->empty() || ec != std::errc() || ptr != end)
    throw UsageError("--" + name + " must be an unsigned 64-bit integer (got '" + *text + "')");
  return seed;
}

int64_t parse_integer(std::string_view text, std::string_view what, int64_t min, int64_t max) {
  int64_t number = 0;
  const char* end = text.data() + text.size();
  const auto [ptr, ec] = std::from_chars(text.data(), end, number);
  const std::string range = "[" + std::to_string(min) + ", " + std::to_string(max) + "]";
  if (text.empty() || ptr != end || ec == std::errc::invalid_argument)
    throw UsageError(std::string(what) + " must be an integer (got '" + std::string(text) + "')");
  if (ec == std::errc::result_out_of_range || number < min || number > max)
    throw UsageError(std::string(what) + " must be in " + range + " (got " + std::string(text) +
                     ")");
  return number;
}

std::vector<std::string> split_list(std::string_view text, char separator, std::string_view what) {
  std::vector<std::string> items;
  size_t start = 0;
  for (;;) {
    const size_t end = text.find(separator, start);
    const std::string_view item =
        text.substr(start, end == std::string_view::npos ? std::string_view::npos : end - start);
    if (item.empty())
      throw UsageError(std::string(what) + " has an empty item in '" + std::string(text) + "'");
    items.emplace_back(item);
    if (end == std::string_view::npos) return items;
    start = end + 1;
  }
}

}  // namespace intfa::bench
