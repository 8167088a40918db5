#include "text_table.hpp"

#include <algorithm>
#include <cmath>
#include <cstdio>

namespace intfa::bench {

void TextTable::print(std::ostream& os) const {
  std::vector<size_t> widths(headers_.size());
  for (size_t c = 0; c < headers_.size(); ++c) widths[c] = headers_[c].size();
  for (const auto& row : rows_)
    for (size_t c = 0; c < row.size() && c < widths.size(); ++c)
      widths[c] = std::max(widths[c], row[c].size());
  auto print_row = [&](const std::vector<std::string>& cells) {
    std::string line;
    for (size_t c = 0; c < widths.size(); ++c) {
      const std::string& cell = c < cells.size() ? cells[c] : std::string();
      const std::string pad(widths[c] - cell.size(), ' ');
      line += c == 0 ? cell + pad : "  " + pad + cell;
    }
    while (!line.empty() && line.back() == ' ') line.pop_back();
    os << line << "\n";
  };
  print_row(headers_);
  size_t total = 0;
  for (size_t w : widths) total += w;
  os << std::string(total + 2 * (widths.size() - 1), '-') << "\n";
  for (const auto& row : rows_) print_row(row);
}

namespace {
// printf-style number, or "-" for NaN (nothing measured).
std::string format_or_dash(double value, const char* format, int digits) {
  if (std::isnan(value)) return "-";
  char text[32];
  std::snprintf(text, sizeof text, format, digits, value);
  return text;
}
}  // namespace

std::string format_number(double value, int significant) {
  return format_or_dash(value, "%.*g", significant);
}

std::string format_fixed(double value, int decimals) {
  return format_or_dash(value, "%.*f", decimals);
}

}  // namespace intfa::bench
