#include "bench_options.hpp"

#include <iostream>

namespace intfa::bench {

std::vector<NamedRecipe> base_recipes() {
  return {{"paper", Recipe::paper()},
          {"intfa", Recipe::intfa()},
          {"half-int8", Recipe::half_int8()},
          {"fp16", Recipe::fp16()},
          {"fp8-tensor", Recipe::fp8_tensor()}};
}

NamedRecipe parse_named_recipe(const std::string& name) {
  try {
    return {name, parse_recipe(name)};
  } catch (const Error& e) {
    throw UsageError(e.what());
  }
}

std::vector<NamedRecipe> parse_recipe_list(const std::string& text) {
  if (text == "all") return base_recipes();
  std::vector<NamedRecipe> recipes;
  for (const std::string& name : split_list(text, ',', "--recipe"))
    recipes.push_back(parse_named_recipe(name));
  return recipes;
}

void check_head_ratio(int64_t heads, int64_t kv_heads) {
  if (heads % kv_heads != 0)
    throw UsageError("--heads (" + std::to_string(heads) + ") must be a multiple of --kv-heads (" +
                     std::to_string(kv_heads) + ")");
}

bool print_help_if_asked(const ParsedArgs& args, std::string usage) {
  if (!args.has("help")) return false;
  const std::string marker = "%DISTRIBUTIONS%";
  const size_t at = usage.find(marker);
  if (at != std::string::npos) {
    // The marker's own indentation is where the list goes, line by line.
    const size_t line_start = usage.rfind('\n', at) + 1;  // npos + 1 == 0 on the first line
    const std::string indent(at - line_start, ' ');
    std::string list;
    for (const std::string& line : split_list(distribution_help(), '\n', "help"))
      list += (list.empty() ? "" : "\n" + indent) + line;
    usage.replace(at, marker.size(), list);
  }
  std::cout << usage;
  return true;
}

std::string shape_string(const InputShape& s) {
  return "B=" + std::to_string(s.batch) + " H=" + std::to_string(s.heads) +
         " Hk=" + std::to_string(s.kv_heads) + " Sq=" + std::to_string(s.seqlen_q) +
         " Sk=" + std::to_string(s.seqlen_k) + " D=" + std::to_string(s.head_dim);
}

}  // namespace intfa::bench
