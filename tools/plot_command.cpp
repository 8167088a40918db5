// `intfa-bench plot`: a PNG line chart of any JSON-lines file, e.g. the output
// of `intfa-bench --json` (TOPS against sequence length) or of
// `intfa-bench accuracy --json`.
#include <algorithm>
#include <cstdlib>
#include <fstream>
#include <iostream>
#include <map>

#include "bench_options.hpp"
#include "cli_args.hpp"
#include "commands.hpp"
#include "json.hpp"
#include "png_chart.hpp"

namespace intfa::bench {

namespace {

const char* kUsage = R"(Usage: intfa-bench plot --input FILE.jsonl --output FILE.png --x FIELD --y FIELD
                        [--series FIELD[,FIELD...]] [--panels FIELD[,FIELD...]]
                        [--filter FIELD=VALUE ...] [--title TEXT] [--log-x] [--log-y]

Draws a line chart of a JSON-lines file (one flat JSON object per line), such
as the output of `intfa-bench --json` or `intfa-bench accuracy --json`.

  --input FILE      the JSON lines to read (blank lines are skipped)
  --output FILE     the PNG file to write
  --x FIELD         numeric field on the x axis
  --y FIELD         numeric field on the y axis
  --series FIELDS   one line per distinct combination of these fields' values,
                    named by the values (default: a single line named FIELD of --y)
  --panels FIELDS   one panel per distinct combination of these fields' values
                    (default: a single panel)
  --filter F=V      keep only objects whose field F equals V; numbers compare by
                    value (4096 matches 4096.0), other values by their text.
                    Repeatable: every filter must match
  --title TEXT      chart title (default: "Y against X")
  --log-x           log2 x axis, ticks at powers of two (sequence lengths)
  --log-y           log10 y axis, ticks at powers of ten (errors)
  --help            this text

Objects whose x or y is missing or not a number (e.g. null) are skipped; how
many is said on stderr. On success one line on stdout says what was drawn. Exit status: 0 success; 2 bad usage or input (an
unreadable or malformed input file, no point to draw); 1 the PNG cannot be written.

Example (TOPS against sequence length, one line per recipe):
  intfa-bench plot --input runs.jsonl --output tops.png --x seqlen_q --y tops \
      --series recipe,backend --filter causal=false --log-x
)";

const std::vector<FlagSpec> kFlags = {{"input"},  {"output"}, {"x"},
                                      {"y"},      {"series"}, {"panels"},
                                      {"filter", true, true}, {"title"}, {"log-x", false},
                                      {"log-y", false},        {"help", false}};

struct Filter {
  std::string field, value;
};

Filter parse_filter(const std::string& text) {
  const size_t equals = text.find('=');
  if (equals == std::string::npos || equals == 0)
    throw UsageError("--filter must be FIELD=VALUE (got '" + text + "')");
  return {text.substr(0, equals), text.substr(equals + 1)};
}

bool matches(const JsonValue& v, const std::string& wanted) {
  if (v.kind == JsonValue::Kind::number) {
    char* end = nullptr;
    const double number = std::strtod(wanted.c_str(), &end);
    if (!wanted.empty() && end == wanted.c_str() + wanted.size()) return v.number == number;
  }
  return v.text == wanted;
}

// "a b" for the values of `fields` in `object`, "-" for a missing field.
std::string label_of(const FlatJson& object, const std::vector<std::string>& fields,
                     bool with_names) {
  std::string label;
  for (const std::string& field : fields) {
    const JsonValue* v = find_field(object, field);
    if (!label.empty()) label += with_names ? ", " : " ";
    if (with_names) label += field + "=";
    label += v ? v->text : "-";
  }
  return label;
}

const JsonValue* number_field(const FlatJson& object, const std::string& field) {
  const JsonValue* v = find_field(object, field);
  return v && v->kind == JsonValue::Kind::number ? v : nullptr;
}

ChartSeries& series_named(ChartPanel& panel, const std::string& name) {
  for (ChartSeries& s : panel.series)
    if (s.name == name) return s;
  panel.series.push_back({name, {}});
  return panel.series.back();
}

}  // namespace

int run_plot_command(const std::vector<std::string>& arg_list) {
  const ParsedArgs args(arg_list, kFlags, "intfa-bench plot");
  if (print_help_if_asked(args, kUsage)) return 0;
  for (const char* required : {"input", "output", "x", "y"})
    if (!args.has(required))
      throw UsageError(std::string("intfa-bench plot needs --") + required + " (see --help)");
  const std::string input = *args.value("input"), output = *args.value("output");
  const std::string x_field = *args.value("x"), y_field = *args.value("y");
  const std::vector<std::string> series_fields = args.string_list("series", {});
  const std::vector<std::string> panel_fields = args.string_list("panels", {});
  std::vector<Filter> filters;
  for (const std::string& text : args.values("filter")) filters.push_back(parse_filter(text));

  std::ifstream file(input);
  if (!file) throw UsageError("cannot read --input '" + input + "'");
  Chart chart;
  chart.title = args.value("title").value_or(y_field + " against " + x_field);
  chart.x_label = x_field;
  chart.y_label = y_field;
  chart.x_scale = args.has("log-x") ? AxisScale::log2 : AxisScale::linear;
  chart.y_scale = args.has("log-y") ? AxisScale::log10 : AxisScale::linear;

  std::string line;
  int line_number = 0, points = 0, skipped = 0;
  while (std::getline(file, line)) {
    ++line_number;
    if (line.find_first_not_of(" \t\r") == std::string::npos) continue;
    FlatJson object;
    try {
      object = parse_flat_json(line);
    } catch (const std::exception& e) {
      throw UsageError(input + ":" + std::to_string(line_number) + ": " + e.what());
    }
    bool kept = true;
    for (const Filter& f : filters) {
      const JsonValue* v = find_field(object, f.field);
      kept = kept && v && matches(*v, f.value);
    }
    if (!kept) continue;
    const JsonValue* x = number_field(object, x_field);
    const JsonValue* y = number_field(object, y_field);
    if (!x || !y) {
      ++skipped;
      continue;
    }
    const std::string panel_title = label_of(object, panel_fields, true);
    auto panel = std::find_if(chart.panels.begin(), chart.panels.end(),
                              [&](const ChartPanel& p) { return p.title == panel_title; });
    if (panel == chart.panels.end()) {
      chart.panels.push_back({panel_title, {}});
      panel = chart.panels.end() - 1;
    }
    const std::string name =
        series_fields.empty() ? y_field : label_of(object, series_fields, false);
    series_named(*panel, name).points.emplace_back(x->number, y->number);
    ++points;
  }
  if (skipped > 0)
    std::cerr << "intfa-bench plot: skipped " << skipped << " object(s) without a numeric "
              << x_field << " and " << y_field << "\n";
  if (points == 0)
    throw UsageError("no point to draw in '" + input + "' (check --x, --y and --filter)");
  write_chart_png(chart, output);
  size_t series = 0;
  for (const ChartPanel& panel : chart.panels) series += panel.series.size();
  std::cout << "wrote " << output << ": " << points << " points, " << series << " series, "
            << chart.panels.size() << " panel" << (chart.panels.size() == 1 ? "" : "s") << "\n";
  return 0;
}

}  // namespace intfa::bench
