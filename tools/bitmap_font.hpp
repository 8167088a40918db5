// A 5x7 bitmap font for printable ASCII (32..126), drawn for intfa-bench's
// charts. Each glyph sits in a 6-pixel advance (one column of spacing).
#pragma once

namespace intfa::bench::font {

inline constexpr int kGlyphWidth = 5;
inline constexpr int kGlyphHeight = 7;  // from the top of a capital to the baseline
inline constexpr int kCellHeight = 9;   // with the descenders of g j p q y
inline constexpr int kAdvance = 6;

// Whether pixel (x, y) of the glyph of `c` is ink; (0, 0) is the top-left,
// y runs to kCellHeight - 1 (rows 7 and 8 lie below the baseline).
// Characters outside printable ASCII draw as '?'.
bool ink(char c, int x, int y);

}  // namespace intfa::bench::font
