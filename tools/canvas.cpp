#include "canvas.hpp"

#include <cmath>
#include <cstdlib>

#include "bitmap_font.hpp"
#include "png_encoder.hpp"

namespace intfa::bench {

Canvas::Canvas(int width, int height, Rgb background)
    : width_(width), height_(height),
      pixels_(static_cast<size_t>(width) * static_cast<size_t>(height) * 3) {
  fill_rect(0, 0, width, height, background);
}

void Canvas::set_pixel(int x, int y, Rgb color) {
  if (x < 0 || y < 0 || x >= width_ || y >= height_) return;
  uint8_t* p = &pixels_[(static_cast<size_t>(y) * static_cast<size_t>(width_) +
                         static_cast<size_t>(x)) * 3];
  p[0] = color.r, p[1] = color.g, p[2] = color.b;
}

void Canvas::fill_rect(int x, int y, int w, int h, Rgb color) {
  for (int yy = y; yy < y + h; ++yy)
    for (int xx = x; xx < x + w; ++xx) set_pixel(xx, yy, color);
}

void Canvas::draw_rect_outline(int x, int y, int w, int h, Rgb color) {
  fill_rect(x, y, w, 1, color);
  fill_rect(x, y + h - 1, w, 1, color);
  fill_rect(x, y, 1, h, color);
  fill_rect(x + w - 1, y, 1, h, color);
}

void Canvas::draw_line(double x0, double y0, double x1, double y1, Rgb color, int thickness) {
  // Steps of at most one pixel along the longer axis, stamping a square brush.
  const double steps = std::ceil(std::max(std::fabs(x1 - x0), std::fabs(y1 - y0)));
  const int before = (thickness - 1) / 2, after = thickness / 2;
  for (int i = 0; i <= static_cast<int>(steps); ++i) {
    const double t = steps > 0 ? i / steps : 0.0;
    const int x = static_cast<int>(std::lround(x0 + (x1 - x0) * t));
    const int y = static_cast<int>(std::lround(y0 + (y1 - y0) * t));
    fill_rect(x - before, y - before, before + after + 1, before + after + 1, color);
  }
}

void Canvas::draw_marker(int x, int y, Marker marker, int radius, Rgb color) {
  const int r = radius;
  for (int dy = -r; dy <= r; ++dy) {
    for (int dx = -r; dx <= r; ++dx) {
      bool on = false;
      switch (marker) {
        case Marker::circle: on = dx * dx + dy * dy <= r * r + r; break;
        case Marker::square: on = std::abs(dx) < r && std::abs(dy) < r; break;
        case Marker::diamond: on = std::abs(dx) + std::abs(dy) <= r; break;
        // Triangles: width grows linearly from the apex row to the base row.
        case Marker::triangle_up: on = 2 * std::abs(dx) <= dy + r; break;
        case Marker::triangle_down: on = 2 * std::abs(dx) <= r - dy; break;
        case Marker::cross: on = std::abs(std::abs(dx) - std::abs(dy)) <= 1; break;
        case Marker::plus: on = std::abs(dx) <= 1 || std::abs(dy) <= 1; break;
      }
      if (on) set_pixel(x + dx, y + dy, color);
    }
  }
}

void Canvas::draw_text(int x, int y, std::string_view text, Rgb color, int scale) {
  for (size_t i = 0; i < text.size(); ++i) {
    const int left = x + static_cast<int>(i) * font::kAdvance * scale;
    for (int gy = 0; gy < font::kCellHeight; ++gy)
      for (int gx = 0; gx < font::kGlyphWidth; ++gx)
        if (font::ink(text[i], gx, gy))
          fill_rect(left + gx * scale, y + gy * scale, scale, scale, color);
  }
}

void Canvas::draw_text_up(int x, int y, std::string_view text, Rgb color, int scale) {
  // Turning counter-clockwise maps the glyph's rightward axis to upward and its
  // downward axis to rightward.
  for (size_t i = 0; i < text.size(); ++i) {
    const int along = static_cast<int>(i) * font::kAdvance * scale;
    for (int gy = 0; gy < font::kCellHeight; ++gy)
      for (int gx = 0; gx < font::kGlyphWidth; ++gx)
        if (font::ink(text[i], gx, gy))
          fill_rect(x + gy * scale, y - along - (gx + 1) * scale, scale, scale, color);
  }
}

int Canvas::text_width(std::string_view text, int scale) {
  if (text.empty()) return 0;
  return (static_cast<int>(text.size()) * font::kAdvance - 1) * scale;
}

int Canvas::text_height(int scale) { return font::kGlyphHeight * scale; }

std::vector<uint8_t> Canvas::encode_png() const { return encode_png_rgb(pixels_, width_, height_); }

}  // namespace intfa::bench
