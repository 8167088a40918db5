#include "png_chart.hpp"

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <fstream>
#include <stdexcept>

namespace intfa::bench {

namespace {

// ---- look --------------------------------------------------------------------
constexpr int kTextScale = 2;   // axis labels, ticks, legend: 10x14 px glyphs
constexpr int kTitleScale = 3;  // chart title
constexpr int kPanelWidth = 600, kPanelHeight = 440;
// Inside a panel: room for tick labels and the axis labels around the plot area.
constexpr int kPlotLeft = 118, kPlotRight = 22, kPlotTop = 40, kPlotBottom = 70;
constexpr int kMargin = 16;
constexpr int kLegendRowHeight = 26, kLegendSwatch = 36;
constexpr int kLineThickness = 2, kMarkerRadius = 5;
constexpr int kMaxTicks = 9;

constexpr Rgb kWhite{255, 255, 255}, kBlack{0, 0, 0}, kGrid{225, 225, 225},
    kFrame{90, 90, 90}, kMuted{60, 60, 60};
// Distinct colours (after the common "tab10" palette) plus two dark ones.
constexpr Rgb kPalette[] = {{31, 119, 180}, {255, 127, 14}, {44, 160, 44},  {214, 39, 40},
                            {148, 103, 189}, {140, 86, 75}, {227, 119, 194}, {127, 127, 127},
                            {188, 189, 34},  {23, 190, 207}, {0, 0, 0},       {0, 70, 0}};
constexpr int kPaletteSize = sizeof kPalette / sizeof kPalette[0];

// ---- axes --------------------------------------------------------------------
bool drawable(AxisScale scale, double v) {
  return std::isfinite(v) && (scale == AxisScale::linear || v > 0);
}

double to_axis(AxisScale scale, double v) {
  switch (scale) {
    case AxisScale::log2: return std::log2(v);
    case AxisScale::log10: return std::log10(v);
    case AxisScale::linear: break;
  }
  return v;
}

std::string format_tick(AxisScale scale, double v) {
  char text[32];
  if (scale == AxisScale::log2 && v >= 1024 && std::fmod(v, 1024) == 0) {
    const bool mega = std::fmod(v, 1048576) == 0;
    std::snprintf(text, sizeof text, "%.0f%s", mega ? v / 1048576 : v / 1024, mega ? "M" : "k");
  } else if (v != 0 && (std::fabs(v) < 1e-4 || std::fabs(v) >= 1e6)) {
    std::snprintf(text, sizeof text, "%.0e", v);  // e.g. 1e-05, 2e+06
  } else {
    std::snprintf(text, sizeof text, "%.6g", v);
  }
  return text;
}

// Ticks at 1, 2 or 5 times a power of ten covering [lo, hi] (values).
std::vector<double> nice_ticks(double lo, double hi) {
  const double raw = (hi - lo) / 5;
  const double magnitude = std::pow(10.0, std::floor(std::log10(raw)));
  double step = magnitude;
  for (double m : {1.0, 2.0, 5.0, 10.0})
    if (m * magnitude >= raw) {
      step = m * magnitude;
      break;
    }
  std::vector<double> ticks;
  for (double t = std::ceil(lo / step) * step; t <= hi + step * 1e-9; t += step)
    ticks.push_back(std::fabs(t) < step * 1e-9 ? 0.0 : t);
  return ticks;
}

struct Axis {
  AxisScale scale = AxisScale::linear;
  double lo = 0, hi = 1;       // range in axis units (after the log)
  std::vector<double> ticks;   // values

  double fraction(double v) const { return (to_axis(scale, v) - lo) / (hi - lo); }
};

// Ticks at mantissa * base^k for the given mantissas, inside [lo, hi] (axis units).
std::vector<double> power_ticks(double base, const std::vector<double>& mantissas, double lo,
                                double hi) {
  std::vector<double> ticks;
  const double log_base = std::log(base);
  for (double k = std::floor(lo) - 1; k <= std::ceil(hi) + 1; ++k)
    for (double m : mantissas) {
      const double v = m * std::pow(base, k);
      const double at = std::log(v) / log_base;
      if (at >= lo - 1e-9 && at <= hi + 1e-9) ticks.push_back(v);
    }
  return ticks;
}

std::vector<double> thin(std::vector<double> ticks) {
  if (static_cast<int>(ticks.size()) <= kMaxTicks) return ticks;
  const size_t stride = (ticks.size() + kMaxTicks - 1) / kMaxTicks;
  std::vector<double> kept;
  for (size_t i = 0; i < ticks.size(); i += stride) kept.push_back(ticks[i]);
  return kept;
}

Axis make_axis(AxisScale scale, const std::vector<double>& values) {
  Axis axis;
  axis.scale = scale;
  double lo = INFINITY, hi = -INFINITY;
  for (double v : values) {
    lo = std::min(lo, to_axis(scale, v));
    hi = std::max(hi, to_axis(scale, v));
  }
  if (!(lo <= hi)) lo = 0, hi = 1;  // no data: any range will do
  if (lo == hi) {
    const double half = scale == AxisScale::linear ? std::max(1e-12, std::fabs(lo) * 0.1) : 0.5;
    lo -= half, hi += half;
  }
  const double pad = (hi - lo) * 0.06;
  axis.lo = lo - pad, axis.hi = hi + pad;
  if (scale == AxisScale::linear) {
    axis.ticks = nice_ticks(axis.lo, axis.hi);
    return axis;
  }
  // Powers of the base first; on a log10 axis spanning few decades, also 2 and
  // 5 times them (in base 2 there is nothing natural between the powers).
  const double base = scale == AxisScale::log2 ? 2.0 : 10.0;
  const std::vector<std::vector<double>> mantissa_sets =
      scale == AxisScale::log2 ? std::vector<std::vector<double>>{{1}}
                               : std::vector<std::vector<double>>{{1}, {1, 2, 5}};
  for (const std::vector<double>& mantissas : mantissa_sets) {
    axis.ticks = thin(power_ticks(base, mantissas, axis.lo, axis.hi));
    if (axis.ticks.size() >= 3) return axis;
  }
  if (axis.ticks.size() >= 2) return axis;
  // Within less than an octave or decade: evenly spaced values.
  axis.ticks = nice_ticks(std::pow(base, axis.lo), std::pow(base, axis.hi));
  return axis;
}

// ---- drawing -----------------------------------------------------------------
struct SeriesStyle {
  Rgb color;
  Marker marker;
};

SeriesStyle style_of(int index) {
  return {kPalette[index % kPaletteSize], static_cast<Marker>(index % kMarkerKinds)};
}

void draw_centered(Canvas& canvas, int center_x, int y, const std::string& text, Rgb color,
                   int scale) {
  canvas.draw_text(center_x - Canvas::text_width(text, scale) / 2, y, text, color, scale);
}

void draw_panel(Canvas& canvas, const Chart& chart, const ChartPanel& panel, int left, int top,
                const std::vector<std::string>& legend_names) {
  std::vector<double> xs, ys;
  for (const ChartSeries& s : panel.series)
    for (const auto& [x, y] : s.points)
      if (drawable(chart.x_scale, x) && drawable(chart.y_scale, y)) xs.push_back(x), ys.push_back(y);
  const Axis x_axis = make_axis(chart.x_scale, xs);
  const Axis y_axis = make_axis(chart.y_scale, ys);

  const int plot_x = left + kPlotLeft, plot_y = top + kPlotTop;
  const int plot_w = kPanelWidth - kPlotLeft - kPlotRight;
  const int plot_h = kPanelHeight - kPlotTop - kPlotBottom;
  auto px = [&](double x) { return plot_x + x_axis.fraction(x) * (plot_w - 1); };
  auto py = [&](double y) { return plot_y + (1 - y_axis.fraction(y)) * (plot_h - 1); };
  const int glyph_h = Canvas::text_height(kTextScale);

  // Grid and tick labels.
  for (double t : x_axis.ticks) {
    const int x = static_cast<int>(std::lround(px(t)));
    canvas.fill_rect(x, plot_y, 1, plot_h, kGrid);
    canvas.fill_rect(x, plot_y + plot_h, 1, 6, kFrame);
    draw_centered(canvas, x, plot_y + plot_h + 10, format_tick(chart.x_scale, t), kMuted,
                  kTextScale);
  }
  for (double t : y_axis.ticks) {
    const int y = static_cast<int>(std::lround(py(t)));
    canvas.fill_rect(plot_x, y, plot_w, 1, kGrid);
    canvas.fill_rect(plot_x - 6, y, 6, 1, kFrame);
    const std::string label = format_tick(chart.y_scale, t);
    canvas.draw_text(plot_x - 10 - Canvas::text_width(label, kTextScale), y - glyph_h / 2, label,
                     kMuted, kTextScale);
  }
  canvas.draw_rect_outline(plot_x - 1, plot_y - 1, plot_w + 2, plot_h + 2, kFrame);

  // Titles and axis labels.
  draw_centered(canvas, plot_x + plot_w / 2, top + 12, panel.title, kBlack, kTextScale);
  draw_centered(canvas, plot_x + plot_w / 2, plot_y + plot_h + 16 + glyph_h + 10, chart.x_label,
                kBlack, kTextScale);
  canvas.draw_text_up(left + 8, plot_y + plot_h / 2 + Canvas::text_width(chart.y_label, kTextScale) / 2,
                      chart.y_label, kBlack, kTextScale);

  // Series: lines between consecutive drawable points, then markers on top.
  // Drawn last to first, so where series coincide (an ablation equal to its
  // base recipe) the one listed first in the legend stays visible.
  for (auto it = panel.series.rbegin(); it != panel.series.rend(); ++it) {
    const ChartSeries& s = *it;
    const auto index = std::find(legend_names.begin(), legend_names.end(), s.name) -
                       legend_names.begin();
    const SeriesStyle style = style_of(static_cast<int>(index));
    std::vector<std::pair<double, double>> points = s.points;
    std::stable_sort(points.begin(), points.end(),
                     [](const auto& a, const auto& b) { return a.first < b.first; });
    bool have_previous = false;
    double prev_x = 0, prev_y = 0;
    for (const auto& [x, y] : points) {
      if (!drawable(chart.x_scale, x) || !drawable(chart.y_scale, y)) {
        have_previous = false;
        continue;
      }
      if (have_previous) canvas.draw_line(prev_x, prev_y, px(x), py(y), style.color, kLineThickness);
      prev_x = px(x), prev_y = py(y), have_previous = true;
    }
    for (const auto& [x, y] : points)
      if (drawable(chart.x_scale, x) && drawable(chart.y_scale, y))
        canvas.draw_marker(static_cast<int>(std::lround(px(x))), static_cast<int>(std::lround(py(y))),
                           style.marker, kMarkerRadius, style.color);
  }
}

}  // namespace

Canvas render_chart(const Chart& chart) {
  std::vector<std::string> names;  // legend order: first appearance
  for (const ChartPanel& panel : chart.panels)
    for (const ChartSeries& s : panel.series)
      if (std::find(names.begin(), names.end(), s.name) == names.end()) names.push_back(s.name);

  const int panels = std::max<int>(1, static_cast<int>(chart.panels.size()));
  const int columns = std::min(panels, chart.columns > 0 ? chart.columns : 2);
  const int rows = (panels + columns - 1) / columns;
  int legend_width = 0;
  for (const std::string& name : names)
    legend_width = std::max(legend_width, Canvas::text_width(name, kTextScale));
  legend_width += legend_width > 0 ? kLegendSwatch + 4 * kMargin : 0;  // padding inside the frame
  const int title_height = chart.title.empty() ? kMargin : Canvas::text_height(kTitleScale) + 2 * kMargin;
  const int legend_height = static_cast<int>(names.size()) * kLegendRowHeight + 2 * kMargin;
  const int width = 2 * kMargin + columns * kPanelWidth + legend_width;
  const int height = title_height + std::max(rows * kPanelHeight, legend_height) + kMargin;

  Canvas canvas(width, height, kWhite);
  draw_centered(canvas, kMargin + columns * kPanelWidth / 2, kMargin, chart.title, kBlack,
                kTitleScale);
  for (size_t i = 0; i < chart.panels.size(); ++i) {
    const int column = static_cast<int>(i) % columns, row = static_cast<int>(i) / columns;
    draw_panel(canvas, chart, chart.panels[i], kMargin + column * kPanelWidth,
               title_height + row * kPanelHeight, names);
  }

  // Legend, right of the panels, aligned with the first plot area.
  const int legend_x = kMargin + columns * kPanelWidth + kMargin;
  const int legend_y = title_height + kPlotTop;
  if (!names.empty())
    canvas.draw_rect_outline(legend_x, legend_y, legend_width - 2 * kMargin,
                             static_cast<int>(names.size()) * kLegendRowHeight + kMargin, kFrame);
  for (size_t i = 0; i < names.size(); ++i) {
    const SeriesStyle style = style_of(static_cast<int>(i));
    const int y = legend_y + kMargin / 2 + static_cast<int>(i) * kLegendRowHeight + kLegendRowHeight / 2;
    const int x = legend_x + kMargin / 2;
    canvas.draw_line(x, y, x + kLegendSwatch, y, style.color, kLineThickness);
    canvas.draw_marker(x + kLegendSwatch / 2, y, style.marker, kMarkerRadius, style.color);
    canvas.draw_text(x + kLegendSwatch + kMargin / 2, y - Canvas::text_height(kTextScale) / 2,
                     names[i], kBlack, kTextScale);
  }
  return canvas;
}

void write_chart_png(const Chart& chart, const std::string& path) {
  const std::vector<uint8_t> png = render_chart(chart).encode_png();
  std::ofstream file(path, std::ios::binary);
  file.write(reinterpret_cast<const char*>(png.data()), static_cast<std::streamsize>(png.size()));
  if (!file) throw std::runtime_error("cannot write the chart to '" + path + "'");
}

}  // namespace intfa::bench
