// Plain-text tables for intfa-bench's human-readable output: the first column
// left-aligned (names), the others right-aligned (numbers).
#pragma once

#include <ostream>
#include <string>
#include <vector>

namespace intfa::bench {

class TextTable {
 public:
  explicit TextTable(std::vector<std::string> headers) : headers_(std::move(headers)) {}
  void add_row(std::vector<std::string> cells) { rows_.push_back(std::move(cells)); }
  void print(std::ostream& os) const;

 private:
  std::vector<std::string> headers_;
  std::vector<std::vector<std::string>> rows_;
};

// `value` with `significant` digits (%g style), or "-" when it is NaN.
std::string format_number(double value, int significant);
// `value` with `decimals` digits after the point, or "-" when it is NaN.
std::string format_fixed(double value, int decimals);

}  // namespace intfa::bench
