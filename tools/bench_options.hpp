// Options shared by intfa-bench's subcommands: recipe lists, shape checks.
// Everything here throws UsageError, so bad input is refused before any work.
#pragma once

#include <string>
#include <vector>

#include "cli_args.hpp"
#include "inputs.hpp"
#include "intfa/intfa.hpp"

namespace intfa::bench {

// The CPU back-end's head-dim range (src/core/validate.cpp, check_head_dim_cpu).
// The public API has no query for it, so it is repeated here to refuse a bad
// --head-dim before any input is generated.
inline constexpr int64_t kMaxHeadDim = 512;
// Upper bound of AttentionOptions::kv_block (src/core/api.cpp, check_kv_block).
inline constexpr int64_t kMaxKvBlock = 4096;
// Sizes are int32 in AttentionParams.
inline constexpr int64_t kMaxSize = 2147483647;

// A recipe and the name the user gave it (kept as typed, e.g. intfa-smooth-k,
// rather than its canonical spelling, so ablation labels read as asked).
struct NamedRecipe {
  std::string name;
  Recipe recipe;
};

// The five base recipes, in the order tables list them.
std::vector<NamedRecipe> base_recipes();
// Parses a comma-separated list of recipe names (intfa::parse_recipe syntax)
// or `all` (the five bases).
std::vector<NamedRecipe> parse_recipe_list(const std::string& text);
NamedRecipe parse_named_recipe(const std::string& name);

// Grouped-query attention needs H % Hk == 0 (sizes themselves are range-checked
// when parsed: >= 1, D <= kMaxHeadDim).
void check_head_ratio(int64_t heads, int64_t kv_heads);

// When --help (or -h) was given: prints `usage` on stdout, with the marker
// %DISTRIBUTIONS% replaced by distribution_help() (each line indented like the
// marker), and returns true.
bool print_help_if_asked(const ParsedArgs& args, std::string usage);

// "B=1 H=16 Hk=16 Sq=2048 Sk=2048 D=128"
std::string shape_string(const InputShape& shape);

}  // namespace intfa::bench
