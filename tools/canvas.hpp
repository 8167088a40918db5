// A small RGB raster for charts: rectangles, thick lines, markers and text in
// the 5x7 bitmap font, saved as PNG by png_encoder.
#pragma once

#include <cstdint>
#include <string_view>
#include <vector>

namespace intfa::bench {

struct Rgb {
  uint8_t r = 0, g = 0, b = 0;
};

enum class Marker { circle, square, triangle_up, diamond, triangle_down, cross, plus };
inline constexpr int kMarkerKinds = 7;

class Canvas {
 public:
  Canvas(int width, int height, Rgb background);
  int width() const { return width_; }
  int height() const { return height_; }

  // Drawing is clipped to the canvas.
  void set_pixel(int x, int y, Rgb color);
  void fill_rect(int x, int y, int w, int h, Rgb color);
  void draw_rect_outline(int x, int y, int w, int h, Rgb color);
  // A line `thickness` pixels wide between two points (pixel coordinates).
  void draw_line(double x0, double y0, double x1, double y1, Rgb color, int thickness);
  // A filled marker centred on (x, y), about 2 * radius + 1 pixels across.
  void draw_marker(int x, int y, Marker marker, int radius, Rgb color);

  // Text with its top-left corner at (x, y), each font pixel scale x scale.
  void draw_text(int x, int y, std::string_view text, Rgb color, int scale);
  // Text turned 90 degrees counter-clockwise (read bottom to top), its
  // bottom-left corner at (x, y).
  void draw_text_up(int x, int y, std::string_view text, Rgb color, int scale);
  static int text_width(std::string_view text, int scale);
  // From the top of a capital to the baseline; the descenders of g j p q y
  // hang 2 * scale pixels below.
  static int text_height(int scale);

  std::vector<uint8_t> encode_png() const;

 private:
  int width_, height_;
  std::vector<uint8_t> pixels_;  // [height, width, 3]
};

}  // namespace intfa::bench
