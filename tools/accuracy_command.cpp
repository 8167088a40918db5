// `intfa-bench accuracy`: the accuracy study of the INT-FlashAttention paper,
// extended with our recipes and single-knob ablations. Every configuration
// evaluates a random sample of query rows against the full keys and values,
// which gives exactly those rows' outputs in the full problem (see kUsage).
#include <algorithm>
#include <cmath>
#include <fstream>
#include <iostream>
#include <random>

#include "bench_options.hpp"
#include "cli_args.hpp"
#include "commands.hpp"
#include "inputs.hpp"
#include "json.hpp"
#include "metrics.hpp"
#include "png_chart.hpp"
#include "progress.hpp"
#include "text_table.hpp"

namespace intfa::bench {

namespace {

const char* kUsage = R"(Usage: intfa-bench accuracy [flags]

The accuracy study of the INT-FlashAttention paper: the error of each recipe
against the float64 reference (intfa::attention_reference), for every input
distribution, head dimension and sequence length; non-causal, Sq = Sk = S,
computed by the CPU back-end.

Query-row sampling: a full S = 16k, H = 32 float64 reference is far too slow on
a CPU, so each configuration evaluates --query-rows query rows drawn uniformly
from the S rows, at their true positions, against the full K and V of length S.
Attention rows are independent, Q is quantized per token and the K and V
quantization uses all S keys, so these rows get exactly the outputs they have
in the full S x S problem. (fp8-tensor scales Q by its largest magnitude over
the whole tensor: the token holding it is computed as well so the scale is the
same, but it counts in the errors only if it was drawn.)

Flags:
  --dists LIST       input distributions (default normal,uniform):
                     %DISTRIBUTIONS%
  --seqlens LIST     sequence lengths S (default 1024,2048,4096,8192,16384)
  --head-dims LIST   head dimensions D, 1..512 (default 64,128)
  --heads N          query heads H (default 32)
  --kv-heads N       key/value heads; H must be a multiple (default H)
  --batch N          batch size (default 1)
  --recipe LIST      recipes (default: paper, intfa, half-int8, fp16, fp8-tensor
                     and the single-knob ablations paper+smooth-k,
                     paper+v-channel, paper+p-u8, intfa-smooth-k,
                     intfa-v-channel, intfa-p-u8); `all` = the five bases
  --query-rows N     query rows evaluated per configuration (default 256; 0 = all)
  --kv-block N       keys per softmax block, 1..4096 (default 0: the back-end's)
  --seed N           64-bit seed (default: from std::random_device; printed).
                     Each (dist, D, S) draws its inputs from a seed derived from
                     this one and its own values, so a smaller run with the same
                     seed reproduces the same configurations exactly
  --json             one JSON object per (dist, D, S, recipe) on stdout:
                     dist, seqlen, head_dim, recipe, rel_l1, cos, max_abs, batch,
                     heads, kv_heads, query_rows, kv_block, seed
  --plot FILE        PNG chart of rel_l1 against S (log2 x, log10 y): one panel
                     per (dist, D), one line per recipe
  --help             this text

Errors: rel_l1 = sum|O - R| / sum|R|, cos = cosine similarity, max_abs = max|O - R|
over the evaluated rows (all batches, heads and channels).
)";

const std::vector<FlagSpec> kFlags = {
    {"dists"},  {"seqlens"},    {"head-dims"}, {"heads"}, {"kv-heads"},      {"batch"},
    {"recipe"}, {"query-rows"}, {"kv-block"},  {"seed"},  {"json", false},   {"plot"},
    {"help", false}};

constexpr int64_t kDefaultQueryRows = 256;

std::vector<NamedRecipe> default_recipes() {
  std::vector<NamedRecipe> recipes = base_recipes();
  for (const char* ablation : {"paper+smooth-k", "paper+v-channel", "paper+p-u8",
                               "intfa-smooth-k", "intfa-v-channel", "intfa-p-u8"})
    recipes.push_back(parse_named_recipe(ablation));
  return recipes;
}

struct AccuracyOptions {
  std::vector<Distribution> dists;
  std::vector<int64_t> seqlens, head_dims;
  int64_t heads = 32, kv_heads = 32, batch = 1;
  std::vector<NamedRecipe> recipes;
  int64_t query_rows = kDefaultQueryRows;
  int32_t kv_block = 0;
  uint64_t seed = 0;
  bool json = false;
  std::string plot_path;  // empty: no chart
};

AccuracyOptions parse_options(const ParsedArgs& args) {
  AccuracyOptions o;
  for (const std::string& name : args.string_list("dists", {"normal", "uniform"}))
    o.dists.push_back(parse_distribution(name));
  o.seqlens = args.integer_list("seqlens", {1024, 2048, 4096, 8192, 16384}, 1, kMaxSize);
  o.head_dims = args.integer_list("head-dims", {64, 128}, 1, kMaxHeadDim);
  o.heads = args.integer("heads", 32, 1, kMaxSize);
  o.kv_heads = args.integer("kv-heads", o.heads, 1, kMaxSize);
  o.batch = args.integer("batch", 1, 1, kMaxSize);
  check_head_ratio(o.heads, o.kv_heads);
  o.recipes = args.has("recipe") ? parse_recipe_list(*args.value("recipe")) : default_recipes();
  o.query_rows = args.integer("query-rows", kDefaultQueryRows, 0, kMaxSize);
  o.kv_block = static_cast<int32_t>(args.integer("kv-block", 0, 0, kMaxKvBlock));
  o.seed = args.seed("seed").value_or(fresh_seed());
  o.json = args.has("json");
  o.plot_path = args.value("plot").value_or("");
  // The chart is written at the end of a long run: find out now if it cannot be.
  if (!o.plot_path.empty() && !std::ofstream(o.plot_path, std::ios::binary))
    throw UsageError("cannot write --plot '" + o.plot_path + "'");
  return o;
}

struct Measurement {
  Distribution dist;
  int64_t head_dim, seqlen;
  std::string recipe;
  ErrorStats errors;
  int64_t query_rows;  // rows the errors are over
};

std::string config_name(Distribution dist, int64_t head_dim, int64_t seqlen) {
  return std::string(distribution_name(dist)) + " D=" + std::to_string(head_dim) +
         " S=" + std::to_string(seqlen);
}

// Every recipe's errors for one (dist, D, S): the selected query rows are run
// as a sub-problem with the full keys and values (see kUsage on why that is
// exact), against the float64 reference of the same rows.
std::vector<Measurement> evaluate_configuration(const AccuracyOptions& o, Distribution dist,
                                                int64_t head_dim, int64_t seqlen,
                                                Progress& progress) {
  const std::string config = config_name(dist, head_dim, seqlen);
  // Seeded by the configuration's own values, so a run over fewer
  // configurations with the same --seed reproduces these inputs.
  const uint64_t config_seed =
      derive_seed(derive_seed(derive_seed(o.seed, static_cast<uint64_t>(dist)),
                              static_cast<uint64_t>(head_dim)),
                  static_cast<uint64_t>(seqlen));
  Inputs inputs;
  {
    Progress::Step step(progress, config + ": generating inputs");
    inputs = generate_inputs({o.batch, o.heads, o.kv_heads, seqlen, seqlen, head_dim}, dist,
                             config_seed);
  }
  const int64_t row_width = o.heads * head_dim;
  std::mt19937_64 row_rng(derive_seed(config_seed, kRowSampleSeedStream));
  const RowSelection rows =
      select_rows_keeping_q_max(inputs.q, seqlen, row_width, o.query_rows, row_rng);
  const int64_t n = static_cast<int64_t>(rows.computed.size());
  std::vector<float> q_rows =  // [B, n, H, D]
      gather_rows(inputs.q.data(), o.batch, seqlen, row_width, rows.computed);

  Problem sub;
  sub.batch = o.batch, sub.heads = o.heads, sub.kv_heads = o.kv_heads;
  sub.seqlen_q = n, sub.seqlen_k = seqlen, sub.head_dim = head_dim;
  sub.q = q_rows.data(), sub.k = inputs.k.data(), sub.v = inputs.v.data();
  std::vector<double> reference;  // [B, n, H, D]
  {
    Progress::Step step(progress, config + ": float64 reference");
    reference = reference_rows(sub, all_rows(n));
  }

  const auto q = TensorView::bshd(sub.q, DType::f32, o.batch, n, o.heads, head_dim);
  const auto k = TensorView::bshd(sub.k, DType::f32, o.batch, seqlen, o.kv_heads, head_dim);
  const auto v = TensorView::bshd(sub.v, DType::f32, o.batch, seqlen, o.kv_heads, head_dim);
  std::vector<float> out(q_rows.size());  // [B, n, H, D]
  const auto out_view = TensorView::bshd(out.data(), DType::f32, o.batch, n, o.heads, head_dim);
  std::vector<Measurement> measurements;
  for (const NamedRecipe& r : o.recipes) {
    AttentionOptions opt;
    opt.recipe = r.recipe;
    opt.backend = Backend::cpu;
    opt.kv_block = o.kv_block;
    {
      Progress::Step step(progress, config + ": " + r.name);
      attention(q, k, v, out_view, nullptr, opt);
    }
    measurements.push_back(
        {dist, head_dim, seqlen, r.name,
         compare_rows(out.data(), n, reference.data(), n, rows.scored, o.batch, row_width),
         static_cast<int64_t>(rows.scored.size())});
  }
  return measurements;
}

std::string json_line(const AccuracyOptions& o, const Measurement& m) {
  return JsonObject()
      .add_string("dist", distribution_name(m.dist))
      .add_integer("seqlen", m.seqlen)
      .add_integer("head_dim", m.head_dim)
      .add_string("recipe", m.recipe)
      .add_number("rel_l1", m.errors.rel_l1)
      .add_number("cos", m.errors.cos)
      .add_number("max_abs", m.errors.max_abs)
      .add_integer("batch", o.batch)
      .add_integer("heads", o.heads)
      .add_integer("kv_heads", o.kv_heads)
      .add_integer("query_rows", m.query_rows)
      .add_integer("kv_block", o.kv_block)
      .add_unsigned("seed", o.seed)
      .str();
}

// rel_l1 by recipe (rows) and sequence length (columns) for one (dist, D).
void print_group(const AccuracyOptions& o, Distribution dist, int64_t head_dim,
                 const std::vector<Measurement>& results) {
  std::cout << "\n" << distribution_name(dist) << ", D=" << head_dim << ": rel_l1\n";
  std::vector<std::string> headers = {"recipe"};
  for (int64_t s : o.seqlens) headers.push_back("S=" + std::to_string(s));
  TextTable table(headers);
  for (const NamedRecipe& r : o.recipes) {
    std::vector<std::string> row = {r.name};
    for (int64_t s : o.seqlens)
      for (const Measurement& m : results)
        if (m.dist == dist && m.head_dim == head_dim && m.seqlen == s && m.recipe == r.name)
          row.push_back(format_number(m.errors.rel_l1, 4));
    table.add_row(row);
  }
  table.print(std::cout);
  std::cout << std::flush;
}

Chart make_chart(const AccuracyOptions& o, const std::vector<Measurement>& results,
                 const std::string& rows_text) {
  Chart chart;
  chart.title = "intfa-bench accuracy: rel_l1 vs float64, H=" + std::to_string(o.heads) + ", " +
                rows_text;
  chart.x_label = "sequence length S";
  chart.y_label = "rel_l1";
  chart.x_scale = AxisScale::log2;
  chart.y_scale = AxisScale::log10;
  chart.columns = static_cast<int>(o.head_dims.size());
  for (Distribution dist : o.dists)
    for (int64_t d : o.head_dims) {
      ChartPanel panel{std::string(distribution_name(dist)) + ", D=" + std::to_string(d), {}};
      for (const NamedRecipe& r : o.recipes) {
        ChartSeries series{r.name, {}};
        for (const Measurement& m : results)
          if (m.dist == dist && m.head_dim == d && m.recipe == r.name)
            series.points.emplace_back(static_cast<double>(m.seqlen), m.errors.rel_l1);
        panel.series.push_back(series);
      }
      chart.panels.push_back(panel);
    }
  return chart;
}

}  // namespace

int run_accuracy_command(const std::vector<std::string>& arg_list) {
  const ParsedArgs args(arg_list, kFlags, "intfa-bench accuracy");
  if (print_help_if_asked(args, kUsage)) return 0;
  const AccuracyOptions o = parse_options(args);
  if (!o.json) {
    std::cout << "intfa-bench accuracy " << version() << ": B=" << o.batch << " H=" << o.heads
              << " Hk=" << o.kv_heads << ", non-causal, Sq = Sk = S, CPU back-end, seed "
              << o.seed << "\n"
              << "errors against the float64 reference on "
              << (o.query_rows == 0 ? std::string("all query rows")
                                    : std::to_string(o.query_rows) +
                                          " query rows per configuration, drawn uniformly from "
                                          "the S rows (at most S)")
              << ", with the full K and V of length S: exactly the outputs those rows have in "
                 "the full problem (--query-rows 0 evaluates all rows)\n";
  }

  Progress progress("intfa-bench accuracy");
  const size_t configurations = o.dists.size() * o.head_dims.size() * o.seqlens.size();
  size_t started = 0;
  std::vector<Measurement> results;
  for (Distribution dist : o.dists) {
    for (int64_t head_dim : o.head_dims) {
      for (int64_t seqlen : o.seqlens) {
        std::cerr << "intfa-bench accuracy: [" << ++started << "/" << configurations << "] "
                  << config_name(dist, head_dim, seqlen) << "\n";
        for (const Measurement& m : evaluate_configuration(o, dist, head_dim, seqlen, progress)) {
          if (o.json) std::cout << json_line(o, m) << "\n" << std::flush;
          results.push_back(m);
        }
      }
      if (!o.json) print_group(o, dist, head_dim, results);
    }
  }
  if (!o.plot_path.empty()) {
    const std::string rows = o.query_rows == 0 ? "all query rows"
                                               : std::to_string(o.query_rows) + " query rows per S";
    write_chart_png(make_chart(o, results, rows), o.plot_path);
  }
  return 0;
}

}  // namespace intfa::bench
