// The default command: time each recipe on the chosen back-end and measure
// its error against the float64 reference.
#include <algorithm>
#include <iostream>
#include <memory>
#include <optional>
#include <random>
#include <sstream>

#include "bench_options.hpp"
#include "cli_args.hpp"
#include "commands.hpp"
#include "inputs.hpp"
#include "json.hpp"
#include "metrics.hpp"
#include "progress.hpp"
#include "runner.hpp"
#include "text_table.hpp"

namespace intfa::bench {

namespace {

// Above this many (query, key, channel) triples, B*H*Sq*Sk*D, the float64
// reference checks a sample of query rows by default (2^30 triples are about
// 4 GFLOP of float64 work, a second or two on a laptop).
constexpr double kFullCheckLimit = 1073741824.0;
constexpr int64_t kDefaultCheckRows = 256;
// CPU problems above this many operations are timed once, without warm-up.
constexpr double kLargeCpuProblemOps = 4294967296.0;

const char* kUsage = R"(Usage: intfa-bench [flags]            time recipes and measure their errors
       intfa-bench accuracy [flags]   the paper's accuracy study (intfa-bench accuracy --help)
       intfa-bench plot [flags]       PNG chart of a JSON-lines file (intfa-bench plot --help)

With no flags: the best available back-end (CUDA when built and visible, else
CPU) runs B=1 H=16 Sq=Sk=2048 D=128, non-causal, for the recipes paper, intfa,
half-int8, fp16 and fp8-tensor. A recipe the chosen back-end cannot compute
(the CUDA back-end takes int8 Q/K recipes only) runs on the CPU instead, and
its backend column says so; on large shapes that takes minutes, so pick the
recipes with --recipe.

Problem:
  --batch N         batch size B (default 1)
  --heads N         query heads H (default 16)
  --kv-heads N      key/value heads Hk; H must be a multiple (default H)
  --seqlen-q N      query length Sq (default 2048)
  --seqlen-k N      key length Sk (default Sq)
  --head-dim N      head dimension D, 1..512 (default 128)
  --causal          causal mask, aligned to the bottom-right corner when Sq != Sk
  --kv-block N      keys per softmax block, 1..4096 (default 0: the back-end's)

Recipes and back-end:
  --recipe LIST     comma-separated recipe names, or `all` (default): the bases
                    paper, intfa, half-int8, fp16, fp8-tensor, each optionally
                    followed by +knob / -knob with knobs smooth-k, v-channel,
                    p-u8 (e.g. paper+p-u8, intfa-smooth-k)
  --backend B       cpu, cuda or auto (default auto)

Inputs (fresh random inputs every run, std::mt19937_64):
  --dist D          input distribution (default normal):
                    %DISTRIBUTIONS%
  --seed N          64-bit seed (default: from std::random_device; printed, so
                    --seed repeats a run exactly)

Timing (medians, std::chrono::steady_clock on the CPU, CUDA events on a GPU):
  --warmup N        untimed calls first
  --repeats N       timed calls, the median is reported
                    Defaults, by the back-end that runs the recipe: CUDA 3
                    warm-ups, 10 repeats. CPU 1 warm-up, 3 repeats, but for
                    problems of more than 2^32 ops (one call takes seconds on a
                    small CPU, so one call is a stable figure and the default
                    run stays short) 0 warm-ups, 1 repeat

Error check against the float64 reference (intfa::attention_reference):
  --check-rows N    query rows compared; 0 = all rows. Default: all rows when
                    B*H*Sq*Sk*D <= 2^30, else 256 rows drawn at random (rows
                    are independent, so the sampled rows are compared exactly)
  --no-check        skip the reference: errors are "-" in the table, null in JSON

Output:
  --json            one JSON object per recipe on stdout instead of the table
  --help            this text

Columns:
  kernel ms         attention on already-quantized inputs (int8 Q/K recipes);
                    "-" for the float baselines fp16 and fp8-tensor, which have
                    no separate kernel call in the public API
  quant ms          intfa::quantize alone (CUDA: into buffers allocated
                    beforehand; "-" where the runner does not time it)
  e2e ms            one intfa::attention call: quantization + attention
  TOPS              ops / kernel time (end-to-end time for float baselines),
                    ops = 4*B*H*Sq*Sk*D, times 0.5 when causal with Sq == Sk;
                    causal with Sq != Sk counts the visible (query, key) pairs:
                    4*B*H*D * sum_i clamp(i + Sk - Sq + 1, 0, Sk)
  TOPS e2e          ops / end-to-end time
  rel_l1            sum|O - R| / sum|R| over the checked rows (R: float64 reference)
  cos               cosine similarity of O and R
  max_abs           max |O - R|

JSON fields: recipe, backend, requested_backend, fallback, detail, batch, heads,
kv_heads, seqlen_q, seqlen_k, head_dim, causal, kv_block, dist, seed, warmup,
repeats, ops, time_ms (= kernel_ms, or end_to_end_ms where there is no kernel
time), kernel_ms, quantize_ms, end_to_end_ms, tops, tops_e2e, check_rows (rows compared;
null with --no-check), rel_l1, cos, max_abs (null when not checked).

Exit status: 0 success; 2 bad usage or input (one-line reason on stderr);
1 any other failure, including --backend cuda when this build or machine has
no CUDA back-end (the command line is valid, the machine cannot serve it).
)";

const std::vector<FlagSpec> kFlags = {
    {"batch"},   {"heads"},          {"kv-heads"},   {"seqlen-q"},  {"seqlen-k"},
    {"head-dim"}, {"causal", false}, {"kv-block"},   {"recipe"},    {"backend"},
    {"dist"},    {"seed"},           {"warmup"},     {"repeats"},   {"check-rows"},
    {"no-check", false},             {"json", false}, {"help", false}};

struct BenchOptions {
  InputShape shape;
  bool causal = false;
  int32_t kv_block = 0;
  std::vector<NamedRecipe> recipes;
  Backend backend = Backend::automatic;
  Distribution dist = Distribution::normal;
  std::optional<uint64_t> seed;
  std::optional<int> warmup, repeats;  // unset: the back-end's default
  std::optional<int64_t> check_rows;   // unset: by problem size
  bool check = true;
  bool json = false;
};

BenchOptions parse_options(const ParsedArgs& args) {
  BenchOptions o;
  InputShape& s = o.shape;
  s.batch = args.integer("batch", 1, 1, kMaxSize);
  s.heads = args.integer("heads", 16, 1, kMaxSize);
  s.kv_heads = args.integer("kv-heads", s.heads, 1, kMaxSize);
  s.seqlen_q = args.integer("seqlen-q", 2048, 1, kMaxSize);
  s.seqlen_k = args.integer("seqlen-k", s.seqlen_q, 1, kMaxSize);
  s.head_dim = args.integer("head-dim", 128, 1, kMaxHeadDim);
  check_head_ratio(s.heads, s.kv_heads);
  o.causal = args.has("causal");
  o.kv_block = static_cast<int32_t>(args.integer("kv-block", 0, 0, kMaxKvBlock));
  o.recipes = parse_recipe_list(args.value("recipe").value_or("all"));
  try {
    o.backend = parse_backend(args.value("backend").value_or("auto"));
  } catch (const Error& e) {
    throw UsageError(e.what());
  }
  o.dist = parse_distribution(args.value("dist").value_or("normal"));
  o.seed = args.seed("seed");
  if (args.has("warmup")) o.warmup = static_cast<int>(args.integer("warmup", 0, 0, 1000000));
  if (args.has("repeats")) o.repeats = static_cast<int>(args.integer("repeats", 1, 1, 1000000));
  if (args.has("check-rows")) o.check_rows = args.integer("check-rows", 0, 0, kMaxSize);
  o.check = !args.has("no-check");
  if (!o.check && o.check_rows)
    throw UsageError("--check-rows and --no-check contradict each other");
  o.json = args.has("json");
  return o;
}

// The runner the user asked for; a recipe it cannot compute falls back to CPU.
std::unique_ptr<Runner> primary_runner(Backend requested) {
  if (requested == Backend::cpu) return make_cpu_runner();
  std::unique_ptr<Runner> cuda = make_cuda_runner();
  if (cuda) return cuda;
  if (requested == Backend::cuda)
    throw Unavailable(
        "--backend cuda: no CUDA runner (this intfa-bench was built without CUDA, no CUDA device "
        "is visible, or the CUDA runner is not implemented yet); use --backend cpu or auto");
  return make_cpu_runner();
}

struct TimingCounts {
  int warmup = 0, repeats = 1;
};

// --warmup / --repeats, else the defaults of the back-end that runs the recipe
// (a recipe falling back to the CPU in a CUDA run gets the CPU's).
TimingCounts timing_counts(const BenchOptions& o, Backend backend, double ops) {
  const bool cuda = backend == Backend::cuda;
  const bool large_on_cpu = !cuda && ops > kLargeCpuProblemOps;
  return {o.warmup.value_or(cuda ? 3 : large_on_cpu ? 0 : 1),
          o.repeats.value_or(cuda ? 10 : large_on_cpu ? 1 : 3)};
}

struct PlannedRun {
  NamedRecipe recipe;
  Runner* runner = nullptr;
  bool fallback = false;  // the chosen back-end cannot compute the recipe: CPU
  TimingCounts counts;
};

// The query rows compared with the float64 reference, shared by all recipes.
struct ReferenceCheck {
  std::vector<int64_t> rows;      // query positions, ascending
  std::vector<double> reference;  // [B, rows, H, D]
  std::vector<RowPair> pairs;     // output row rows[i] against reference row i
};

ReferenceCheck prepare_check(const BenchOptions& o, const Problem& p, uint64_t seed,
                             Progress& progress) {
  ReferenceCheck check;
  if (!o.check) return check;
  const double triples = static_cast<double>(p.batch * p.heads) *
                         static_cast<double>(p.seqlen_q) * static_cast<double>(p.seqlen_k) *
                         static_cast<double>(p.head_dim);
  const int64_t wanted = o.check_rows.value_or(triples <= kFullCheckLimit ? 0 : kDefaultCheckRows);
  std::mt19937_64 row_rng(derive_seed(seed, kRowSampleSeedStream));
  check.rows = sample_query_rows(p.seqlen_q, wanted, row_rng);
  {
    Progress::Step step(progress, "float64 reference on " + std::to_string(check.rows.size()) +
                                      " query rows");
    check.reference = reference_rows(p, check.rows);
  }
  for (size_t i = 0; i < check.rows.size(); ++i)
    check.pairs.push_back({check.rows[i], static_cast<int64_t>(i)});
  return check;
}

std::string plural(int count, const char* noun) {
  return std::to_string(count) + " " + noun + (count == 1 ? "" : "s");
}

void print_header(const BenchOptions& o, uint64_t seed, const std::vector<PlannedRun>& plan,
                  const ReferenceCheck& check) {
  const InputShape& s = o.shape;
  std::cout << "intfa-bench " << version() << ": " << shape_string(s)
            << (o.causal ? " causal" : " non-causal") << ", dist " << distribution_name(o.dist)
            << ", seed " << seed << " (--seed " << seed << " repeats these inputs)\n";
  std::vector<Backend> seen;  // one timing line per back-end
  for (const PlannedRun& run : plan) {
    const Backend b = run.runner->backend();
    if (std::find(seen.begin(), seen.end(), b) != seen.end()) continue;
    seen.push_back(b);
    std::cout << "timing (" << backend_name(b) << "): median of "
              << plural(run.counts.repeats, "run") << " after "
              << plural(run.counts.warmup, "warm-up") << "\n";
  }
  if (!o.check)
    std::cout << "errors: not checked (--no-check)\n";
  else if (static_cast<int64_t>(check.rows.size()) == s.seqlen_q)
    std::cout << "errors: against the float64 reference on all " << s.seqlen_q << " query rows\n";
  else
    std::cout << "errors: against the float64 reference on " << check.rows.size() << " of "
              << s.seqlen_q << " query rows drawn at random (--check-rows 0 checks all)\n";
}

// One recipe's measurements, as printed.
struct BenchRow {
  std::string recipe, backend, detail;
  bool fallback = false;
  TimingCounts counts;
  double kernel_ms = NAN, quantize_ms = NAN, end_to_end_ms = NAN;
  ErrorStats errors;
};

double time_ms(const BenchRow& row) {
  return std::isnan(row.kernel_ms) ? row.end_to_end_ms : row.kernel_ms;
}

std::string json_line(const BenchOptions& o, const Problem& p, uint64_t seed,
                      size_t checked_rows, const BenchRow& row) {
  const double ops = attention_ops(p);
  JsonObject j;
  j.add_string("recipe", row.recipe)
      .add_string("backend", row.backend)
      .add_string("requested_backend", backend_name(o.backend))
      .add_bool("fallback", row.fallback)
      .add_string("detail", row.detail)
      .add_integer("batch", p.batch)
      .add_integer("heads", p.heads)
      .add_integer("kv_heads", p.kv_heads)
      .add_integer("seqlen_q", p.seqlen_q)
      .add_integer("seqlen_k", p.seqlen_k)
      .add_integer("head_dim", p.head_dim)
      .add_bool("causal", p.causal)
      .add_integer("kv_block", p.kv_block)
      .add_string("dist", distribution_name(o.dist))
      .add_unsigned("seed", seed)
      .add_integer("warmup", row.counts.warmup)
      .add_integer("repeats", row.counts.repeats)
      .add_number("ops", ops)
      .add_number("time_ms", time_ms(row))
      .add_number("kernel_ms", row.kernel_ms)
      .add_number("quantize_ms", row.quantize_ms)
      .add_number("end_to_end_ms", row.end_to_end_ms)
      .add_number("tops", ops / (time_ms(row) * 1e9))
      .add_number("tops_e2e", ops / (row.end_to_end_ms * 1e9));
  if (o.check) j.add_integer("check_rows", static_cast<int64_t>(checked_rows));
  else j.add_null("check_rows");
  j.add_number("rel_l1", row.errors.rel_l1)
      .add_number("cos", row.errors.cos)
      .add_number("max_abs", row.errors.max_abs);
  return j.str();
}

void print_table(const std::vector<BenchRow>& rows, const Problem& p,
                 const std::string& primary_backend) {
  const double ops = attention_ops(p);
  TextTable table({"recipe", "backend", "kernel ms", "quant ms", "e2e ms", "TOPS", "TOPS e2e",
                   "rel_l1", "cos", "max_abs"});
  for (const BenchRow& row : rows) {
    // A recipe the chosen back-end cannot compute ran on the CPU: say so.
    const std::string backend =
        row.fallback ? row.backend + " (" + primary_backend + ": unsupported)" : row.backend;
    table.add_row({row.recipe, backend, format_fixed(row.kernel_ms, 3),
                   format_fixed(row.quantize_ms, 3), format_fixed(row.end_to_end_ms, 3),
                   format_number(ops / (time_ms(row) * 1e9), 4),
                   format_number(ops / (row.end_to_end_ms * 1e9), 4),
                   format_number(row.errors.rel_l1, 4), format_number(row.errors.cos, 7),
                   format_number(row.errors.max_abs, 4)});
  }
  table.print(std::cout);
}

}  // namespace

int run_bench_command(const std::vector<std::string>& arg_list) {
  const ParsedArgs args(arg_list, kFlags, "intfa-bench");
  if (print_help_if_asked(args, kUsage)) return 0;
  const BenchOptions o = parse_options(args);
  const uint64_t seed = o.seed.value_or(fresh_seed());
  const InputShape& s = o.shape;

  // Which runner computes each recipe, and how often.
  std::unique_ptr<Runner> primary = primary_runner(o.backend);
  std::unique_ptr<Runner> cpu_fallback;  // made when a recipe needs it
  Problem p;
  p.batch = s.batch, p.heads = s.heads, p.kv_heads = s.kv_heads;
  p.seqlen_q = s.seqlen_q, p.seqlen_k = s.seqlen_k, p.head_dim = s.head_dim;
  p.causal = o.causal;
  p.kv_block = o.kv_block;
  std::vector<PlannedRun> plan;
  for (const NamedRecipe& named : o.recipes) {
    PlannedRun run{named, primary.get(), false, {}};
    if (!primary->supports(named.recipe)) {
      if (!cpu_fallback) cpu_fallback = make_cpu_runner();
      run.runner = cpu_fallback.get();
      run.fallback = true;
    }
    run.counts = timing_counts(o, run.runner->backend(), attention_ops(p));
    plan.push_back(run);
  }

  Progress progress("intfa-bench");
  Inputs inputs;
  {
    Progress::Step step(progress, "generating inputs");
    inputs = generate_inputs(s, o.dist, seed);
  }
  p.q = inputs.q.data(), p.k = inputs.k.data(), p.v = inputs.v.data();
  const ReferenceCheck check = prepare_check(o, p, seed, progress);
  if (!o.json) print_header(o, seed, plan, check);

  std::vector<BenchRow> table_rows;
  for (const PlannedRun& run : plan) {
    p.recipe = run.recipe.recipe;
    RunResult result;
    {
      Progress::Step step(progress, "timing " + run.recipe.name + " on " +
                                        backend_name(run.runner->backend()));
      result = run.runner->run(p, run.counts.warmup, run.counts.repeats);
    }
    BenchRow row;
    row.recipe = run.recipe.name;
    row.backend = backend_name(run.runner->backend());
    row.fallback = run.fallback;
    row.counts = run.counts;
    row.detail = result.detail;
    row.kernel_ms = result.kernel_ms;
    row.quantize_ms = result.quantize_ms;
    row.end_to_end_ms = result.end_to_end_ms;
    if (o.check)
      row.errors = compare_rows(result.out.data(), s.seqlen_q, check.reference.data(),
                                static_cast<int64_t>(check.rows.size()), check.pairs, s.batch,
                                s.heads * s.head_dim);
    if (o.json)
      std::cout << json_line(o, p, seed, check.rows.size(), row) << "\n" << std::flush;
    table_rows.push_back(row);
  }
  if (!o.json) {
    std::vector<std::string> details;  // each runner once, in order of use
    for (const BenchRow& row : table_rows)
      if (std::find(details.begin(), details.end(), row.detail) == details.end())
        details.push_back(row.detail);
    for (const std::string& detail : details) std::cout << "back-end: " << detail << "\n";
    std::cout << "\n";
    print_table(table_rows, p, backend_name(primary->backend()));
  }
  return 0;
}

}  // namespace intfa::bench
