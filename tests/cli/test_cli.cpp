// intfa-bench, run as a user runs it: exit codes, the JSON contract, error
// figures that must rank recipes the way the numerics say, and the PNG files.
// Shapes are small so the whole suite takes seconds.
#include <gtest/gtest.h>

#include <chrono>
#include <cmath>
#include <sstream>

#include "cli_harness.hpp"
#include "intfa/intfa.hpp"

namespace intfa::cli_test {
namespace {

using bench::FlatJson;

// B=2, H=4 over Hk=2 (GQA), Sq != Sk, one timed call: fast and non-trivial.
const std::string kSmall =
    "--backend cpu --batch 2 --heads 4 --kv-heads 2 --seqlen-q 96 --seqlen-k 160 --head-dim 32 "
    "--warmup 0 --repeats 1";
constexpr double kSmallOps = 4.0 * 2 * 4 * 96 * 160 * 32;

std::vector<FlatJson> run_json(const std::string& args) {
  const CommandResult r = run_bench(args + " --json");
  EXPECT_EQ(r.exit_code, 0) << "intfa-bench " << args << "\n" << r.err;
  return json_lines(r.out);
}

// rel_l1 of each recipe, by name.
std::map<std::string, double> rel_l1_by_recipe(const std::vector<FlatJson>& rows) {
  std::map<std::string, double> errors;
  for (const FlatJson& row : rows) errors[text(row, "recipe")] = number(row, "rel_l1");
  return errors;
}

void expect_one_line_error(const CommandResult& r, int code, const std::string& fragment) {
  EXPECT_EQ(r.exit_code, code) << r.err;
  EXPECT_TRUE(r.out.empty()) << "stdout should be empty on error: " << r.out;
  ASSERT_FALSE(r.err.empty());
  EXPECT_EQ(r.err.rfind("intfa-bench: ", 0), 0u) << r.err;
  EXPECT_EQ(r.err.find('\n'), r.err.size() - 1) << "not exactly one line: " << r.err;
  EXPECT_NE(r.err.find(fragment), std::string::npos) << "expected '" << fragment << "' in " << r.err;
}

// ---- the default command -------------------------------------------------------

TEST(BenchJson, EveryFieldPresentWithTheShapeAndConsistentNumbers) {
  const auto rows = run_json(kSmall + " --recipe all --seed 11");
  const std::vector<std::string> recipes = {"paper", "intfa", "half-int8", "fp16", "fp8-tensor"};
  ASSERT_EQ(rows.size(), recipes.size());
  for (size_t i = 0; i < rows.size(); ++i) {
    const FlatJson& row = rows[i];
    SCOPED_TRACE(recipes[i]);
    EXPECT_EQ(text(row, "recipe"), recipes[i]);
    EXPECT_EQ(text(row, "backend"), "cpu");
    EXPECT_EQ(text(row, "fallback"), "false");
    EXPECT_EQ(number(row, "batch"), 2);
    EXPECT_EQ(number(row, "heads"), 4);
    EXPECT_EQ(number(row, "kv_heads"), 2);
    EXPECT_EQ(number(row, "seqlen_q"), 96);
    EXPECT_EQ(number(row, "seqlen_k"), 160);
    EXPECT_EQ(number(row, "head_dim"), 32);
    EXPECT_EQ(text(row, "causal"), "false");
    EXPECT_EQ(number(row, "seed"), 11);
    EXPECT_EQ(number(row, "repeats"), 1);
    EXPECT_EQ(number(row, "ops"), kSmallOps);
    // Small problem: every query row is checked against the reference.
    EXPECT_EQ(number(row, "check_rows"), 96);

    const double time_ms = number(row, "time_ms"), e2e_ms = number(row, "end_to_end_ms");
    EXPECT_GT(time_ms, 0);
    EXPECT_GT(e2e_ms, 0);
    EXPECT_NEAR(number(row, "tops"), kSmallOps / (time_ms * 1e9), 1e-6 * number(row, "tops"));
    EXPECT_NEAR(number(row, "tops_e2e"), kSmallOps / (e2e_ms * 1e9),
                1e-6 * number(row, "tops_e2e"));
    // Timed only where the runner can time it alone (the CUDA runner).
    EXPECT_TRUE(is_null(row, "quantize_ms") || number(row, "quantize_ms") > 0);
    const bool int8_qk = i < 3;
    if (int8_qk) {
      EXPECT_EQ(number(row, "kernel_ms"), time_ms);
    } else {
      // Float baselines have no separate kernel: time_ms is the end-to-end time.
      EXPECT_TRUE(is_null(row, "kernel_ms"));
      EXPECT_EQ(time_ms, e2e_ms);
    }
    const double rel_l1 = number(row, "rel_l1");
    EXPECT_GT(rel_l1, 0);
    EXPECT_LT(rel_l1, 0.1);
    EXPECT_GT(number(row, "cos"), 0.99);
    EXPECT_LE(number(row, "cos"), 1.0 + 1e-12);
    EXPECT_GT(number(row, "max_abs"), 0);
    EXPECT_LT(number(row, "max_abs"), 0.5);
  }
  EXPECT_LT(number(rows[3], "rel_l1"), 2e-3) << "fp16 should be nearly exact";
}

TEST(BenchErrors, UniformIntfaFarBelowFp8AndAboveFloat16) {
  const auto errors = rel_l1_by_recipe(run_json(
      "--backend cpu --dist uniform --heads 4 --seqlen-q 256 --head-dim 64 --warmup 0 "
      "--repeats 1 --recipe intfa,fp8-tensor,half-int8,fp16"));
  ASSERT_EQ(errors.size(), 4u);
  EXPECT_LT(errors.at("intfa"), 0.3 * errors.at("fp8-tensor"));
  EXPECT_LT(errors.at("half-int8"), errors.at("intfa"));
  EXPECT_LT(errors.at("fp16"), errors.at("intfa"));
}

TEST(BenchErrors, NormalIntfaBelowPaper) {
  const auto errors = rel_l1_by_recipe(
      run_json("--backend cpu --heads 4 --seqlen-q 512 --head-dim 64 --warmup 0 --repeats 1 "
               "--recipe paper,intfa"));
  EXPECT_LT(errors.at("intfa"), 0.8 * errors.at("paper"));
}

TEST(BenchErrors, OutlierChannelsAreWhatKSmoothingFixes) {
  // With large constant offsets on a few K channels, subtracting the channel
  // mean (smooth-k) must cut the error; on plain normal inputs it cannot matter.
  const std::string shape =
      "--backend cpu --heads 4 --seqlen-q 256 --head-dim 64 --warmup 0 --repeats 1 --seed 3 "
      "--recipe paper,paper+smooth-k";
  const auto outlier = rel_l1_by_recipe(run_json(shape + " --dist outlier"));
  const auto normal = rel_l1_by_recipe(run_json(shape + " --dist normal"));
  EXPECT_LT(outlier.at("paper+smooth-k"), 0.7 * outlier.at("paper"));
  EXPECT_NEAR(normal.at("paper+smooth-k") / normal.at("paper"), 1.0, 0.1);
}

TEST(BenchSeeds, SameSeedSameErrorsOtherSeedOtherErrors) {
  const std::string args = kSmall + " --recipe intfa,fp8-tensor";
  const auto a = run_json(args + " --seed 99"), b = run_json(args + " --seed 99");
  const auto c = run_json(args + " --seed 100");
  ASSERT_EQ(a.size(), 2u);
  ASSERT_EQ(b.size(), 2u);
  ASSERT_EQ(c.size(), 2u);
  for (size_t i = 0; i < 2; ++i) {
    EXPECT_EQ(text(a[i], "rel_l1"), text(b[i], "rel_l1"));
    EXPECT_EQ(text(a[i], "max_abs"), text(b[i], "max_abs"));
    EXPECT_NE(text(a[i], "rel_l1"), text(c[i], "rel_l1"));
  }
}

TEST(BenchSeeds, FreshSeedEveryRunAndPrinted) {
  const auto a = run_json(kSmall + " --recipe fp16 --no-check");
  const auto b = run_json(kSmall + " --recipe fp16 --no-check");
  ASSERT_EQ(a.size(), 1u);
  ASSERT_EQ(b.size(), 1u);
  EXPECT_NE(text(a[0], "seed"), text(b[0], "seed"));
  const CommandResult table = run_bench(kSmall + " --recipe fp16 --seed 424242 --no-check");
  EXPECT_NE(table.out.find("seed 424242"), std::string::npos) << table.out;
}

TEST(BenchCheck, CheckRowsSamplesAndNoCheckSkips) {
  const auto sampled = run_json(kSmall + " --recipe intfa --check-rows 8");
  ASSERT_EQ(sampled.size(), 1u);
  EXPECT_EQ(number(sampled[0], "check_rows"), 8);
  EXPECT_GT(number(sampled[0], "rel_l1"), 0);
  EXPECT_LT(number(sampled[0], "rel_l1"), 0.1);

  const auto unchecked = run_json(kSmall + " --recipe intfa --no-check");
  ASSERT_EQ(unchecked.size(), 1u);
  for (const char* field : {"rel_l1", "cos", "max_abs", "check_rows"})
    EXPECT_TRUE(is_null(unchecked[0], field)) << field;
  EXPECT_GT(number(unchecked[0], "time_ms"), 0);
}

TEST(BenchCheck, LargeProblemsSampleRowsByDefault) {
  // B*H*Sq*Sk*D = 2^31 > 2^30: the reference takes 256 random rows.
  const auto rows = run_json(
      "--backend cpu --heads 1 --seqlen-q 4096 --head-dim 128 --recipe intfa --warmup 0 "
      "--repeats 1");
  ASSERT_EQ(rows.size(), 1u);
  EXPECT_EQ(number(rows[0], "check_rows"), 256);
  EXPECT_LT(number(rows[0], "rel_l1"), 0.05);
}

TEST(BenchCheck, CausalSampledRowsMatchTheirTruePositions) {
  // fp16 is nearly exact, so a reference row masked at the wrong position
  // would show up as a large error. Both Sq < Sk and Sq > Sk (rows that see no
  // key), sampled (per-row reference) and all rows (one masked call).
  for (const std::string lengths : {"--seqlen-q 64 --seqlen-k 200", "--seqlen-q 200 --seqlen-k 64"})
    for (const std::string rows : {"--check-rows 16", "--check-rows 0"}) {
      SCOPED_TRACE(lengths + " " + rows);
      const auto out = run_json("--backend cpu --heads 2 --head-dim 32 --causal --recipe fp16 "
                                "--warmup 0 --repeats 1 " + lengths + " " + rows);
      ASSERT_EQ(out.size(), 1u);
      EXPECT_LT(number(out[0], "rel_l1"), 2e-3);
      EXPECT_GT(number(out[0], "cos"), 0.99999);
    }
}

TEST(BenchOps, CausalCountsHalfOrTheVisiblePairs) {
  const std::string base = "--backend cpu --batch 2 --heads 3 --head-dim 16 --causal --recipe "
                           "intfa --no-check --warmup 0 --repeats 1 ";
  const double per_pair = 4.0 * 2 * 3 * 16;
  auto ops = [&](const std::string& lengths) {
    const auto rows = run_json(base + lengths);
    return rows.size() == 1 ? number(rows[0], "ops") : NAN;
  };
  EXPECT_EQ(ops("--seqlen-q 64 --seqlen-k 64"), per_pair * 0.5 * 64 * 64);
  // Bottom-right aligned: row i sees i + Sk - Sq + 1 keys, clamped to [0, Sk].
  EXPECT_EQ(ops("--seqlen-q 64 --seqlen-k 200"), per_pair * (64 * 137 + 63 * 64 / 2));
  EXPECT_EQ(ops("--seqlen-q 200 --seqlen-k 64"), per_pair * (64 * 65 / 2));
}

TEST(BenchTable, ColumnsAndDashesWhereNothingApplies) {
  const CommandResult r = run_bench(kSmall + " --recipe intfa,fp16 --seed 5");
  ASSERT_EQ(r.exit_code, 0) << r.err;
  for (const char* header : {"recipe", "backend", "kernel ms", "quant ms", "e2e ms", "TOPS",
                             "rel_l1", "cos", "max_abs"})
    EXPECT_NE(r.out.find(header), std::string::npos) << header;
  std::istringstream lines(r.out);
  std::string line;
  int recipe_rows = 0;
  while (std::getline(lines, line)) {
    std::istringstream cells(line);
    std::vector<std::string> c;
    for (std::string cell; cells >> cell;) c.push_back(cell);
    if (c.size() != 10 || (c[0] != "intfa" && c[0] != "fp16")) continue;
    ++recipe_rows;
    EXPECT_EQ(c[1], "cpu");
    // fp16 has no kernel time; the CPU runner does not time quantization
    // alone; errors are checked, so they are numbers.
    EXPECT_EQ(c[2] == "-", c[0] == "fp16") << line;
    EXPECT_EQ(c[3], "-") << line;
    EXPECT_NE(c[7], "-") << line;
  }
  EXPECT_EQ(recipe_rows, 2) << r.out;

  const CommandResult unchecked = run_bench(kSmall + " --recipe intfa --no-check");
  ASSERT_EQ(unchecked.exit_code, 0);
  EXPECT_NE(unchecked.out.find("not checked"), std::string::npos);
}

// ---- bad usage -------------------------------------------------------------------

struct BadInput {
  std::string args;
  std::string message_fragment;
};

// gtest prints parameters in failure messages and test listings.
void PrintTo(const BadInput& input, std::ostream* os) { *os << "intfa-bench " << input.args; }

class BadUsage : public ::testing::TestWithParam<BadInput> {};

TEST_P(BadUsage, ExitsTwoWithOneLineReason) {
  expect_one_line_error(run_bench(GetParam().args), 2, GetParam().message_fragment);
}

INSTANTIATE_TEST_SUITE_P(
    Cli, BadUsage,
    ::testing::Values(
        BadInput{"--bogus", "unknown flag --bogus"},
        BadInput{"stray", "unexpected argument 'stray'"},
        BadInput{"--batch", "--batch needs a value"},
        BadInput{"--batch abc", "--batch must be an integer"},
        BadInput{"--heads 4x", "--heads must be an integer"},
        BadInput{"--batch 0", "--batch must be in [1,"},
        BadInput{"--seqlen-q 0", "--seqlen-q must be in [1,"},
        BadInput{"--seqlen-k -5", "--seqlen-k must be in [1,"},
        BadInput{"--heads 6 --kv-heads 4", "must be a multiple of --kv-heads"},
        BadInput{"--head-dim 0", "--head-dim must be in [1, 512]"},
        BadInput{"--head-dim 1024", "--head-dim must be in [1, 512]"},
        BadInput{"--kv-block 5000", "--kv-block must be in [0, 4096]"},
        BadInput{"--recipe nope", "bad recipe 'nope'"},
        BadInput{"--recipe intfa,", "--recipe has an empty item"},
        BadInput{"--recipe paper+bogus", "unknown knob 'bogus'"},
        BadInput{"--recipe fp16+p-u8", "bad recipe 'fp16+p-u8'"},
        BadInput{"--backend tpu", "unknown back-end 'tpu'"},
        BadInput{"--dist cauchy", "unknown distribution 'cauchy'"},
        BadInput{"--seed -1", "--seed must be an unsigned 64-bit integer"},
        BadInput{"--repeats 0", "--repeats must be in [1,"},
        BadInput{"--causal=yes", "--causal takes no value"},
        BadInput{"--batch 1 --batch 2", "--batch is given more than once"},
        BadInput{"--check-rows 5 --no-check", "contradict"},
        BadInput{"accuracy --bogus", "unknown flag --bogus for intfa-bench accuracy"},
        BadInput{"accuracy --dists normal,cauchy", "unknown distribution 'cauchy'"},
        BadInput{"accuracy --seqlens 1024,,2048", "--seqlens has an empty item"},
        BadInput{"accuracy --head-dims 64,0", "--head-dims must be in [1, 512]"},
        BadInput{"accuracy --heads 32 --kv-heads 5", "must be a multiple of --kv-heads"},
        BadInput{"accuracy --recipe intfa+nope", "unknown knob 'nope'"},
        BadInput{"accuracy --plot /nonexistent-dir/x.png", "cannot write --plot"},
        BadInput{"plot --output x.png --x a --y b", "needs --input"},
        BadInput{"plot --input /nonexistent.jsonl --output x.png --x a --y b",
                 "cannot read --input"},
        BadInput{"plot --input a --output b --x c --y d --filter nofield", "FIELD=VALUE"}));

TEST(BadUsage, RefusedBeforeAnyWork) {
  // Valid but huge sizes with one bad flag: generating these inputs would take
  // minutes and gigabytes, so a quick exit 2 proves the flags are checked first.
  const auto start = std::chrono::steady_clock::now();
  const CommandResult r =
      run_bench("--seqlen-q 3000000 --heads 64 --head-dim 512 --recipe nope");
  const double seconds =
      std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
  expect_one_line_error(r, 2, "bad recipe");
  EXPECT_LT(seconds, 10);
  expect_one_line_error(run_bench("accuracy --seqlens 100000000 --dists nope"), 2,
                        "unknown distribution");
}

TEST(BadUsage, CudaRequestedWithoutCudaRunnerExitsOne) {
  if (cuda_available()) GTEST_SKIP() << "a CUDA device is visible";
  expect_one_line_error(run_bench(kSmall.substr(std::string("--backend cpu ").size()) +
                                  " --backend cuda"),
                        1, "--backend cuda");
}

TEST(Help, EachCommandDescribesItsFlags) {
  const CommandResult main_help = run_bench("--help");
  EXPECT_EQ(main_help.exit_code, 0);
  for (const char* flag : {"--batch", "--heads", "--kv-heads", "--seqlen-q", "--seqlen-k",
                           "--head-dim", "--causal", "--recipe", "--backend", "--dist", "--seed",
                           "--repeats", "--warmup", "--kv-block", "--json", "--check-rows",
                           "--no-check", "accuracy", "plot"})
    EXPECT_NE(main_help.out.find(flag), std::string::npos) << flag;
  const CommandResult accuracy = run_bench("accuracy --help");
  EXPECT_EQ(accuracy.exit_code, 0);
  for (const char* text : {"--query-rows", "--dists", "--seqlens", "--head-dims", "--plot",
                           "exactly the outputs"})
    EXPECT_NE(accuracy.out.find(text), std::string::npos) << text;
  const CommandResult plot = run_bench("plot --help");
  EXPECT_EQ(plot.exit_code, 0);
  for (const char* text : {"--input", "--output", "--series", "--filter", "--log-x"})
    EXPECT_NE(plot.out.find(text), std::string::npos) << text;
}

// ---- accuracy ----------------------------------------------------------------

TEST(Accuracy, JsonLinesForEveryConfigurationAndAValidChart) {
  const std::string png = temp_path("accuracy.png");
  const CommandResult r = run_bench(
      "accuracy --seqlens 64,128 --head-dims 16 --heads 2 --query-rows 16 --seed 5 --json "
      "--plot '" + png + "'");
  ASSERT_EQ(r.exit_code, 0) << r.err;
  const auto rows = json_lines(r.out);
  const std::vector<std::string> recipes = {
      "paper",          "intfa",           "half-int8",  "fp16",
      "fp8-tensor",     "paper+smooth-k",  "paper+v-channel", "paper+p-u8",
      "intfa-smooth-k", "intfa-v-channel", "intfa-p-u8"};
  ASSERT_EQ(rows.size(), 2 * 2 * recipes.size());
  size_t i = 0;
  for (const std::string dist : {"normal", "uniform"})
    for (const double seqlen : {64.0, 128.0})
      for (const std::string& recipe : recipes) {
        const FlatJson& row = rows[i++];
        SCOPED_TRACE(dist + " " + recipe);
        EXPECT_EQ(text(row, "dist"), dist);
        EXPECT_EQ(number(row, "seqlen"), seqlen);
        EXPECT_EQ(number(row, "head_dim"), 16);
        EXPECT_EQ(text(row, "recipe"), recipe);
        EXPECT_EQ(number(row, "query_rows"), 16);
        EXPECT_GT(number(row, "rel_l1"), 0);
        EXPECT_LT(number(row, "rel_l1"), 0.2);
        EXPECT_GT(number(row, "cos"), 0.98);
        EXPECT_GT(number(row, "max_abs"), 0);
      }
  const PngInfo info = check_png(png);
  EXPECT_GT(info.width, 600u);
  EXPECT_GT(info.height, 400u);
  EXPECT_EQ(info.bit_depth, 8);
  EXPECT_EQ(info.color_type, 2);
#ifdef INTFA_TEST_HAVE_ZLIB
  // Background, grid, frame, text and 11 series colours at the least.
  EXPECT_GE(info.distinct_colors, 14u);
#endif
  std::remove(png.c_str());
}

TEST(Accuracy, TableSaysRowsAreSampledAndCapsRowsAtS) {
  const CommandResult r = run_bench(
      "accuracy --dists normal --seqlens 32 --head-dims 16 --heads 2 --recipe intfa,fp16");
  ASSERT_EQ(r.exit_code, 0) << r.err;
  EXPECT_NE(r.out.find("256 query rows per configuration"), std::string::npos) << r.out;
  EXPECT_NE(r.out.find("normal, D=16: rel_l1"), std::string::npos) << r.out;
  EXPECT_NE(r.out.find("S=32"), std::string::npos) << r.out;
  // S = 32 < 256 rows: every row is evaluated.
  const auto rows = json_lines(
      run_bench("accuracy --dists normal --seqlens 32 --head-dims 16 --heads 2 --recipe fp16 --json")
          .out);
  ASSERT_EQ(rows.size(), 1u);
  EXPECT_EQ(number(rows[0], "query_rows"), 32);
}

// ---- plot --------------------------------------------------------------------

TEST(Plot, ChartsSeriesAfterFilteringAndSkipsNulls) {
  const std::string input = temp_path("in.jsonl"), png = temp_path("plot.png");
  write_file(input,
             "{\"recipe\": \"intfa\", \"seqlen\": 1024, \"tops\": 1.5, \"causal\": false}\n"
             "{\"recipe\": \"intfa\", \"seqlen\": 2048, \"tops\": 2.5, \"causal\": false}\n"
             "\n"
             "{\"recipe\": \"paper\", \"seqlen\": 1024, \"tops\": 1.0, \"causal\": false}\n"
             "{\"recipe\": \"paper\", \"seqlen\": 2048, \"tops\": null, \"causal\": false}\n"
             "{\"recipe\": \"paper\", \"seqlen\": 4096.0, \"tops\": 3.0, \"causal\": true}\n");
  const CommandResult r = run_bench("plot --input '" + input + "' --output '" + png +
                                    "' --x seqlen --y tops --series recipe --filter causal=false "
                                    "--log-x --title 'TOPS by length'");
  ASSERT_EQ(r.exit_code, 0) << r.err;
  EXPECT_NE(r.out.find("3 points, 2 series, 1 panel"), std::string::npos) << r.out;
  EXPECT_NE(r.err.find("skipped 1"), std::string::npos) << r.err;
  check_png(png);

  // Numbers match by value: 4096 selects the row written 4096.0.
  const CommandResult by_value =
      run_bench("plot --input '" + input + "' --output '" + png +
                "' --x seqlen --y tops --panels causal --filter seqlen=4096");
  ASSERT_EQ(by_value.exit_code, 0) << by_value.err;
  EXPECT_NE(by_value.out.find("1 points, 1 series, 1 panel"), std::string::npos) << by_value.out;

  expect_one_line_error(run_bench("plot --input '" + input + "' --output '" + png +
                                  "' --x seqlen --y tops --filter recipe=none"),
                        2, "no point to draw");
  write_file(input, "{\"a\": 1}\n{\"a\": }\n");
  expect_one_line_error(
      run_bench("plot --input '" + input + "' --output '" + png + "' --x a --y a"), 2,
      "in.jsonl:2:");
  std::remove(input.c_str());
  std::remove(png.c_str());
}

TEST(Plot, ReadsTheBenchOwnJsonOutput) {
  const std::string input = temp_path("runs.jsonl"), png = temp_path("runs.png");
  std::string lines;
  for (const char* seqlen : {"64", "128"}) {
    const CommandResult r = run_bench("--backend cpu --heads 2 --head-dim 16 --recipe intfa,fp16 "
                                      "--warmup 0 --repeats 1 --json --seqlen-q " +
                                      std::string(seqlen));
    ASSERT_EQ(r.exit_code, 0) << r.err;
    lines += r.out;
  }
  write_file(input, lines);
  const CommandResult r = run_bench("plot --input '" + input + "' --output '" + png +
                                    "' --x seqlen_q --y rel_l1 --series recipe,backend --log-x "
                                    "--log-y");
  ASSERT_EQ(r.exit_code, 0) << r.err;
  EXPECT_NE(r.out.find("4 points, 2 series, 1 panel"), std::string::npos) << r.out;
  const PngInfo info = check_png(png);
  EXPECT_GT(info.width, 0u);
  std::remove(input.c_str());
  std::remove(png.c_str());
}

}  // namespace
}  // namespace intfa::cli_test
