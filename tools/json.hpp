// Flat JSON objects, one per line (JSON Lines): what intfa-bench writes with
// --json and what `intfa-bench plot` reads. Values are strings, numbers,
// booleans or null; nested objects and arrays are not needed and rejected.
#pragma once

#include <cmath>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <stdexcept>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

namespace intfa::bench {

// ---- writing -----------------------------------------------------------------

inline std::string json_quote(std::string_view text) {
  std::string quoted = "\"";
  for (const char c : text) {
    switch (c) {
      case '"': quoted += "\\\""; break;
      case '\\': quoted += "\\\\"; break;
      case '\n': quoted += "\\n"; break;
      case '\t': quoted += "\\t"; break;
      case '\r': quoted += "\\r"; break;
      default:
        if (static_cast<unsigned char>(c) < 0x20) {
          char escape[8];
          std::snprintf(escape, sizeof escape, "\\u%04x", static_cast<unsigned>(c));
          quoted += escape;
        } else {
          quoted += c;
        }
    }
  }
  return quoted + "\"";
}

// Builds one object; keys keep their insertion order.
class JsonObject {
 public:
  JsonObject& add_string(std::string_view key, std::string_view value) {
    return add_raw(key, json_quote(value));
  }
  // NaN and infinities have no JSON spelling: they become null.
  JsonObject& add_number(std::string_view key, double value) {
    if (!std::isfinite(value)) return add_raw(key, "null");
    char text[32];
    std::snprintf(text, sizeof text, "%.9g", value);  // enough digits for a float
    return add_raw(key, text);
  }
  JsonObject& add_integer(std::string_view key, int64_t value) {
    return add_raw(key, std::to_string(value));
  }
  JsonObject& add_unsigned(std::string_view key, uint64_t value) {
    return add_raw(key, std::to_string(value));
  }
  JsonObject& add_bool(std::string_view key, bool value) {
    return add_raw(key, value ? "true" : "false");
  }
  JsonObject& add_null(std::string_view key) { return add_raw(key, "null"); }

  std::string str() const { return "{" + body_ + "}"; }

 private:
  JsonObject& add_raw(std::string_view key, const std::string& value) {
    if (!body_.empty()) body_ += ", ";
    body_ += json_quote(key) + ": " + value;
    return *this;
  }
  std::string body_;
};

// ---- reading -----------------------------------------------------------------

struct JsonValue {
  enum class Kind { string, number, boolean, null };
  Kind kind = Kind::null;
  std::string text;  // the string's contents, or the literal as written
  double number = 0.0;  // numbers only
};

using FlatJson = std::vector<std::pair<std::string, JsonValue>>;

inline const JsonValue* find_field(const FlatJson& object, std::string_view key) {
  for (const auto& [name, value] : object)
    if (name == key) return &value;
  return nullptr;
}

namespace json_detail {

class Parser {
 public:
  explicit Parser(std::string_view text) : text_(text) {}

  FlatJson object() {
    FlatJson fields;
    expect('{');
    skip_space();
    if (peek() == '}') {
      ++pos_;
    } else {
      for (;;) {
        skip_space();
        std::string key = string_body();
        expect(':');
        fields.emplace_back(std::move(key), value());
        skip_space();
        if (peek() == ',') {
          ++pos_;
          continue;
        }
        expect('}');
        break;
      }
    }
    skip_space();
    if (pos_ != text_.size()) fail("unexpected text after the object");
    return fields;
  }

 private:
  [[noreturn]] void fail(const std::string& why) const {
    throw std::runtime_error(why + " at column " + std::to_string(pos_ + 1));
  }
  char peek() const { return pos_ < text_.size() ? text_[pos_] : '\0'; }
  void skip_space() {
    while (pos_ < text_.size() &&
           (text_[pos_] == ' ' || text_[pos_] == '\t' || text_[pos_] == '\r' || text_[pos_] == '\n'))
      ++pos_;
  }
  void expect(char c) {
    skip_space();
    if (peek() != c) fail(std::string("expected '") + c + "'");
    ++pos_;
  }

  JsonValue value() {
    skip_space();
    JsonValue v;
    const char c = peek();
    if (c == '"') {
      v.kind = JsonValue::Kind::string;
      v.text = string_body();
    } else if (c == '{' || c == '[') {
      fail("nested objects and arrays are not supported (flat objects only)");
    } else if (literal("true")) {
      v.kind = JsonValue::Kind::boolean;
      v.text = "true";
    } else if (literal("false")) {
      v.kind = JsonValue::Kind::boolean;
      v.text = "false";
    } else if (literal("null")) {
      v.kind = JsonValue::Kind::null;
      v.text = "null";
    } else {
      const size_t start = pos_;
      while (pos_ < text_.size() && std::string_view("+-0123456789.eE").find(text_[pos_]) !=
                                        std::string_view::npos)
        ++pos_;
      v.text = std::string(text_.substr(start, pos_ - start));
      char* end = nullptr;
      v.number = std::strtod(v.text.c_str(), &end);
      if (v.text.empty() || end != v.text.c_str() + v.text.size()) {
        pos_ = start;
        fail("expected a value");
      }
      v.kind = JsonValue::Kind::number;
    }
    return v;
  }

  bool literal(std::string_view word) {
    if (text_.substr(pos_, word.size()) != word) return false;
    pos_ += word.size();
    return true;
  }

  std::string string_body() {
    if (peek() != '"') fail("expected a string");
    ++pos_;
    std::string out;
    for (;;) {
      if (pos_ >= text_.size()) fail("unterminated string");
      const char c = text_[pos_++];
      if (c == '"') return out;
      if (c != '\\') {
        out += c;
        continue;
      }
      if (pos_ >= text_.size()) fail("unterminated escape");
      const char e = text_[pos_++];
      switch (e) {
        case '"': case '\\': case '/': out += e; break;
        case 'b': out += '\b'; break;
        case 'f': out += '\f'; break;
        case 'n': out += '\n'; break;
        case 'r': out += '\r'; break;
        case 't': out += '\t'; break;
        case 'u': append_utf8(out, unicode_escape()); break;
        default: fail(std::string("bad escape \\") + e);
      }
    }
  }

  uint32_t unicode_escape() {
    if (pos_ + 4 > text_.size()) fail("short \\u escape");
    uint32_t code = 0;
    for (int i = 0; i < 4; ++i) {
      const char h = text_[pos_++];
      code <<= 4;
      if (h >= '0' && h <= '9') code |= static_cast<uint32_t>(h - '0');
      else if (h >= 'a' && h <= 'f') code |= static_cast<uint32_t>(h - 'a' + 10);
      else if (h >= 'A' && h <= 'F') code |= static_cast<uint32_t>(h - 'A' + 10);
      else fail("bad \\u escape");
    }
    return code;
  }

  // Surrogate pairs are not needed for our field names and values; a lone
  // \uD800..\uDFFF is kept as its 3-byte encoding rather than rejected.
  static void append_utf8(std::string& out, uint32_t code) {
    if (code < 0x80) {
      out += static_cast<char>(code);
    } else if (code < 0x800) {
      out += static_cast<char>(0xC0 | (code >> 6));
      out += static_cast<char>(0x80 | (code & 0x3F));
    } else {
      out += static_cast<char>(0xE0 | (code >> 12));
      out += static_cast<char>(0x80 | ((code >> 6) & 0x3F));
      out += static_cast<char>(0x80 | (code & 0x3F));
    }
  }

  std::string_view text_;
  size_t pos_ = 0;
};

}  // namespace json_detail

// Parses one line holding a flat JSON object; throws std::runtime_error that
// says what is wrong and where.
inline FlatJson parse_flat_json(std::string_view line) {
  return json_detail::Parser(line).object();
}

}  // namespace intfa::bench
