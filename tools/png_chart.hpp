// Line charts as PNG files: named series of (x, y) points, linear or
// logarithmic axes, one or more panels sharing a legend. Used by
// `intfa-bench accuracy --plot` and `intfa-bench plot`.
#pragma once

#include <string>
#include <utility>
#include <vector>

#include "canvas.hpp"

namespace intfa::bench {

enum class AxisScale {
  linear,
  log2,   // ticks at powers of two (sequence lengths)
  log10,  // ticks at powers of ten (errors)
};

struct ChartSeries {
  std::string name;
  std::vector<std::pair<double, double>> points;  // (x, y), drawn in x order
};

struct ChartPanel {
  std::string title;
  std::vector<ChartSeries> series;
};

struct Chart {
  std::string title;
  std::string x_label, y_label;
  AxisScale x_scale = AxisScale::linear;
  AxisScale y_scale = AxisScale::linear;
  // Panels in a grid, each with its own axis ranges; a series keeps its colour
  // and marker in every panel, and one legend lists them all.
  std::vector<ChartPanel> panels;
  int columns = 0;  // panels per row; 0: up to 2
};

// Points that cannot be drawn (NaN, infinite, or <= 0 on a log axis) are left
// out and break the series' line there.
Canvas render_chart(const Chart& chart);
// Renders and writes a PNG file; throws std::runtime_error naming the path.
void write_chart_png(const Chart& chart, const std::string& path);

}  // namespace intfa::bench
