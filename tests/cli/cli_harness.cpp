#include "cli_harness.hpp"

#include <gtest/gtest.h>
#include <sys/wait.h>
#include <unistd.h>

#include <array>
#include <cstdlib>
#include <fstream>
#include <set>
#include <sstream>

#ifdef INTFA_TEST_HAVE_ZLIB
#include <zlib.h>
#endif

namespace intfa::cli_test {

std::string temp_path(const std::string& name) {
  // Parametrized test names contain '/', which must not become directories.
  std::string test = "no_test";
  if (const auto* info = ::testing::UnitTest::GetInstance()->current_test_info())
    test = std::string(info->test_suite_name()) + "." + info->name();
  for (char& c : test)
    if (c == '/') c = '_';
  return ::testing::TempDir() + "intfa_cli_" + std::to_string(::getpid()) + "_" + test + "_" + name;
}

std::string read_file(const std::string& path) {
  std::ifstream file(path, std::ios::binary);
  std::stringstream contents;
  contents << file.rdbuf();
  return contents.str();
}

void write_file(const std::string& path, const std::string& contents) {
  std::ofstream(path, std::ios::binary) << contents;
}

CommandResult run_bench(const std::string& args) {
  const std::string out_path = temp_path("stdout.txt"), err_path = temp_path("stderr.txt");
  const std::string command =
      std::string("'") + INTFA_BENCH_PATH + "' " + args + " >'" + out_path + "' 2>'" + err_path + "'";
  const int status = std::system(command.c_str());
  CommandResult result;
  result.exit_code = WIFEXITED(status) ? WEXITSTATUS(status) : -1;
  result.out = read_file(out_path);
  result.err = read_file(err_path);
  std::remove(out_path.c_str());
  std::remove(err_path.c_str());
  return result;
}

std::vector<bench::FlatJson> json_lines(const std::string& text) {
  std::vector<bench::FlatJson> objects;
  std::istringstream lines(text);
  std::string line;
  while (std::getline(lines, line)) {
    if (line.empty()) continue;
    try {
      objects.push_back(bench::parse_flat_json(line));
    } catch (const std::exception& e) {
      ADD_FAILURE() << "not a flat JSON object (" << e.what() << "): " << line;
    }
  }
  return objects;
}

double number(const bench::FlatJson& object, const std::string& key) {
  const bench::JsonValue* v = bench::find_field(object, key);
  if (!v || v->kind != bench::JsonValue::Kind::number) {
    ADD_FAILURE() << "field '" << key << "' is " << (v ? "not a number: " + v->text : "missing");
    return NAN;
  }
  return v->number;
}

std::string text(const bench::FlatJson& object, const std::string& key) {
  const bench::JsonValue* v = bench::find_field(object, key);
  if (!v) ADD_FAILURE() << "field '" << key << "' is missing";
  return v ? v->text : "";
}

bool is_null(const bench::FlatJson& object, const std::string& key) {
  const bench::JsonValue* v = bench::find_field(object, key);
  if (!v) ADD_FAILURE() << "field '" << key << "' is missing";
  return v && v->kind == bench::JsonValue::Kind::null;
}

namespace {

// Bitwise CRC-32, written independently of the tool's table-driven one.
uint32_t reference_crc32(const uint8_t* data, size_t size) {
  uint32_t crc = 0xFFFFFFFFu;
  for (size_t i = 0; i < size; ++i) {
    crc ^= data[i];
    for (int k = 0; k < 8; ++k) crc = (crc >> 1) ^ (0xEDB88320u & (0u - (crc & 1u)));
  }
  return ~crc;
}

uint32_t be32(const std::string& s, size_t at) {
  return (uint32_t(uint8_t(s[at])) << 24) | (uint32_t(uint8_t(s[at + 1])) << 16) |
         (uint32_t(uint8_t(s[at + 2])) << 8) | uint32_t(uint8_t(s[at + 3]));
}

}  // namespace

PngInfo check_png(const std::string& path) {
  PngInfo info;
  const std::string png = read_file(path);
  const std::string signature = "\x89PNG\r\n\x1a\n";
  EXPECT_EQ(png.substr(0, 8), signature) << path << " lacks the PNG signature";
  std::vector<std::string> types;
  std::string idat;
  size_t at = 8;
  while (at + 12 <= png.size()) {
    const uint32_t length = be32(png, at);
    if (at + 12 + length > png.size()) {
      ADD_FAILURE() << "chunk at byte " << at << " runs past the end of " << path;
      return info;
    }
    const std::string type = png.substr(at + 4, 4);
    const auto* body = reinterpret_cast<const uint8_t*>(png.data() + at + 4);
    EXPECT_EQ(reference_crc32(body, length + 4), be32(png, at + 8 + length))
        << "bad CRC on chunk " << type;
    if (type == "IHDR") {
      EXPECT_EQ(length, 13u);
      info.width = be32(png, at + 8);
      info.height = be32(png, at + 12);
      info.bit_depth = uint8_t(png[at + 16]);
      info.color_type = uint8_t(png[at + 17]);
    }
    if (type == "IDAT") idat += png.substr(at + 8, length);
    types.push_back(type);
    at += 12 + length;
  }
  EXPECT_EQ(at, png.size()) << "trailing bytes after the last chunk";
  EXPECT_FALSE(types.empty());
  if (types.empty()) return info;
  EXPECT_EQ(types.front(), "IHDR");
  EXPECT_EQ(types.back(), "IEND");
  EXPECT_FALSE(idat.empty()) << "no image data";
#ifdef INTFA_TEST_HAVE_ZLIB
  // Truecolour 8-bit: each row is a filter byte and 3 bytes per pixel.
  const size_t row_bytes = size_t(info.width) * 3 + 1;
  std::vector<uint8_t> raw(row_bytes * info.height + 1);
  uLongf raw_size = static_cast<uLongf>(raw.size());
  const int rc = uncompress(raw.data(), &raw_size, reinterpret_cast<const Bytef*>(idat.data()),
                            static_cast<uLong>(idat.size()));
  EXPECT_EQ(rc, Z_OK) << "zlib cannot inflate the image data";
  EXPECT_EQ(raw_size, row_bytes * info.height) << "inflated size does not match IHDR";
  if (rc == Z_OK && raw_size == row_bytes * info.height) {
    std::set<uint32_t> colors;
    for (size_t y = 0; y < info.height; ++y) {
      EXPECT_EQ(raw[y * row_bytes], 0) << "row " << y << " uses an unexpected filter";
      for (size_t x = 0; x < info.width; ++x) {
        const uint8_t* p = &raw[y * row_bytes + 1 + x * 3];
        colors.insert((uint32_t(p[0]) << 16) | (uint32_t(p[1]) << 8) | p[2]);
      }
    }
    info.distinct_colors = colors.size();
  }
#endif
  return info;
}

}  // namespace intfa::cli_test
