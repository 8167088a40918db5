// Helpers for the intfa-bench tests: run the binary, read its JSON lines,
// check a PNG file.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "json.hpp"

namespace intfa::cli_test {

struct CommandResult {
  int exit_code = -1;
  std::string out, err;
};

// Runs `intfa-bench <args>` (args are passed to the shell as written).
CommandResult run_bench(const std::string& args);

// The JSON objects of `text`, one per non-empty line; fails the test (and
// returns what parsed) if a line is not a flat JSON object.
std::vector<bench::FlatJson> json_lines(const std::string& text);

// A field's number; fails the test when missing or not a number.
double number(const bench::FlatJson& object, const std::string& key);
std::string text(const bench::FlatJson& object, const std::string& key);
bool is_null(const bench::FlatJson& object, const std::string& key);

// A unique path in the test's temporary directory.
std::string temp_path(const std::string& name);
std::string read_file(const std::string& path);
void write_file(const std::string& path, const std::string& contents);

struct PngInfo {
  uint32_t width = 0, height = 0;
  int bit_depth = 0, color_type = 0;
  size_t distinct_colors = 0;  // 0 when the pixels could not be decoded (no zlib)
};
// Checks the PNG structure (signature, IHDR first, every chunk's CRC, IEND
// last) with gtest assertions and, with zlib, inflates the image data.
PngInfo check_png(const std::string& path);

}  // namespace intfa::cli_test
