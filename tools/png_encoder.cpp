#include "png_encoder.hpp"

#include <algorithm>
#include <array>
#include <stdexcept>

namespace intfa::bench {

namespace {

std::array<uint32_t, 256> make_crc_table() {
  std::array<uint32_t, 256> table{};
  for (uint32_t n = 0; n < 256; ++n) {
    uint32_t c = n;
    for (int k = 0; k < 8; ++k) c = (c & 1) ? 0xEDB88320u ^ (c >> 1) : c >> 1;
    table[n] = c;
  }
  return table;
}

// Deflate writes bits least-significant first; Huffman codes are defined most
// significant bit first, so they are reversed on the way out.
class BitWriter {
 public:
  explicit BitWriter(std::vector<uint8_t>& out) : out_(out) {}
  void bits(uint32_t value, int count) {
    buffer_ |= value << fill_;
    fill_ += count;
    while (fill_ >= 8) {
      out_.push_back(static_cast<uint8_t>(buffer_ & 0xFF));
      buffer_ >>= 8;
      fill_ -= 8;
    }
  }
  void huffman_code(uint32_t code, int length) {
    uint32_t reversed = 0;
    for (int i = 0; i < length; ++i) reversed |= ((code >> i) & 1u) << (length - 1 - i);
    bits(reversed, length);
  }
  void flush() {
    if (fill_ > 0) out_.push_back(static_cast<uint8_t>(buffer_ & 0xFF));
    buffer_ = 0;
    fill_ = 0;
  }

 private:
  std::vector<uint8_t>& out_;
  uint32_t buffer_ = 0;
  int fill_ = 0;
};

// RFC 1951 section 3.2.5: match lengths 3..258 and distances 1..32768 as a
// base symbol plus extra bits.
constexpr int kLengthBase[29] = {3,  4,  5,  6,  7,  8,  9,  10, 11,  13,  15,  17,  19,  23, 27,
                                 31, 35, 43, 51, 59, 67, 83, 99, 115, 131, 163, 195, 227, 258};
constexpr int kLengthExtra[29] = {0, 0, 0, 0, 0, 0, 0, 0, 1, 1, 1, 1, 2, 2, 2,
                                  2, 3, 3, 3, 3, 4, 4, 4, 4, 5, 5, 5, 5, 0};
constexpr int kDistanceBase[30] = {1,    2,    3,    4,    5,    7,     9,     13,    17,  25,
                                   33,   49,   65,   97,   129,  193,   257,   385,   513, 769,
                                   1025, 1537, 2049, 3073, 4097, 6145, 8193, 12289, 16385, 24577};
constexpr int kDistanceExtra[30] = {0, 0, 0, 0, 1, 1, 2, 2,  3,  3,  4,  4,  5,  5,  6,
                                    6, 7, 7, 8, 8, 9, 9, 10, 10, 11, 11, 12, 12, 13, 13};

constexpr int kWindow = 32768;
constexpr int kMinMatch = 3;
constexpr int kMaxMatch = 258;
constexpr int kHashBits = 15;
constexpr int kMaxChain = 48;  // candidates tried per position: speed vs ratio

// The fixed literal/length code (RFC 1951 section 3.2.6).
void fixed_symbol(BitWriter& w, int symbol) {
  if (symbol <= 143) w.huffman_code(0x30 + symbol, 8);
  else if (symbol <= 255) w.huffman_code(0x190 + (symbol - 144), 9);
  else if (symbol <= 279) w.huffman_code(symbol - 256, 7);
  else w.huffman_code(0xC0 + (symbol - 280), 8);
}

void write_match(BitWriter& w, int length, int distance) {
  int li = 28;
  while (kLengthBase[li] > length) --li;
  fixed_symbol(w, 257 + li);
  w.bits(static_cast<uint32_t>(length - kLengthBase[li]), kLengthExtra[li]);
  int di = 29;
  while (kDistanceBase[di] > distance) --di;
  w.huffman_code(static_cast<uint32_t>(di), 5);  // fixed distance codes: 5 bits
  w.bits(static_cast<uint32_t>(distance - kDistanceBase[di]), kDistanceExtra[di]);
}

uint32_t hash3(const uint8_t* p) {
  const uint32_t v = (uint32_t{p[0]} << 16) | (uint32_t{p[1]} << 8) | p[2];
  return (v * 2654435761u) >> (32 - kHashBits);
}

void deflate_fixed(const std::vector<uint8_t>& data, BitWriter& w) {
  w.bits(1, 1);  // BFINAL: the only block
  w.bits(1, 2);  // BTYPE 01: fixed Huffman codes
  const int n = static_cast<int>(data.size());
  std::vector<int> head(size_t{1} << kHashBits, -1);  // newest position per hash
  std::vector<int> previous(kWindow, -1);              // older position, same hash
  auto insert = [&](int pos) {
    if (pos + kMinMatch > n) return;
    const uint32_t h = hash3(&data[static_cast<size_t>(pos)]);
    previous[static_cast<size_t>(pos % kWindow)] = head[h];
    head[h] = pos;
  };
  int pos = 0;
  while (pos < n) {
    int best_length = 0, best_distance = 0;
    if (pos + kMinMatch <= n) {
      const int limit = std::min(kMaxMatch, n - pos);
      int candidate = head[hash3(&data[static_cast<size_t>(pos)])];
      for (int chain = 0; chain < kMaxChain && candidate >= 0 && pos - candidate <= kWindow;
           ++chain) {
        int length = 0;
        while (length < limit && data[static_cast<size_t>(candidate + length)] ==
                                     data[static_cast<size_t>(pos + length)])
          ++length;
        if (length > best_length) {
          best_length = length;
          best_distance = pos - candidate;
          if (length == limit) break;
        }
        const int older = previous[static_cast<size_t>(candidate % kWindow)];
        if (older >= candidate) break;  // slot reused by a newer position
        candidate = older;
      }
    }
    if (best_length >= kMinMatch) {
      write_match(w, best_length, best_distance);
      for (int i = 0; i < best_length; ++i) insert(pos + i);
      pos += best_length;
    } else {
      fixed_symbol(w, data[static_cast<size_t>(pos)]);
      insert(pos);
      ++pos;
    }
  }
  fixed_symbol(w, 256);  // end of block
  w.flush();
}

void put_u32_be(std::vector<uint8_t>& out, uint32_t value) {
  for (int shift = 24; shift >= 0; shift -= 8) out.push_back(static_cast<uint8_t>(value >> shift));
}

void put_chunk(std::vector<uint8_t>& png, const char type[4], const std::vector<uint8_t>& body) {
  put_u32_be(png, static_cast<uint32_t>(body.size()));
  const size_t type_at = png.size();
  png.insert(png.end(), type, type + 4);
  png.insert(png.end(), body.begin(), body.end());
  put_u32_be(png, crc32(png.data() + type_at, png.size() - type_at));
}

}  // namespace

uint32_t crc32(const uint8_t* data, size_t size, uint32_t crc) {
  static const std::array<uint32_t, 256> table = make_crc_table();
  uint32_t c = crc ^ 0xFFFFFFFFu;
  for (size_t i = 0; i < size; ++i) c = table[(c ^ data[i]) & 0xFF] ^ (c >> 8);
  return c ^ 0xFFFFFFFFu;
}

uint32_t adler32(const uint8_t* data, size_t size) {
  constexpr uint32_t kModulus = 65521;
  constexpr size_t kRun = 5552;  // longest run whose sums cannot overflow 32 bits
  uint32_t a = 1, b = 0;
  while (size > 0) {
    const size_t run = std::min(size, kRun);
    for (size_t i = 0; i < run; ++i) {
      a += data[i];
      b += a;
    }
    a %= kModulus;
    b %= kModulus;
    data += run;
    size -= run;
  }
  return (b << 16) | a;
}

std::vector<uint8_t> zlib_compress(const std::vector<uint8_t>& data) {
  std::vector<uint8_t> out = {0x78, 0x01};  // deflate, 32 KiB window; header check mod 31
  BitWriter writer(out);
  deflate_fixed(data, writer);
  put_u32_be(out, adler32(data.data(), data.size()));
  return out;
}

std::vector<uint8_t> encode_png_rgb(const std::vector<uint8_t>& rgb, int width, int height) {
  if (width <= 0 || height <= 0 ||
      rgb.size() != static_cast<size_t>(width) * static_cast<size_t>(height) * 3)
    throw std::invalid_argument("encode_png_rgb: pixel buffer does not match the size");
  const size_t row_bytes = static_cast<size_t>(width) * 3;
  std::vector<uint8_t> scanlines;  // each row: filter type 0 (none), then the pixels
  scanlines.reserve((row_bytes + 1) * static_cast<size_t>(height));
  for (int y = 0; y < height; ++y) {
    scanlines.push_back(0);
    const auto row = rgb.begin() + static_cast<std::ptrdiff_t>(row_bytes * static_cast<size_t>(y));
    scanlines.insert(scanlines.end(), row, row + static_cast<std::ptrdiff_t>(row_bytes));
  }
  std::vector<uint8_t> png = {0x89, 'P', 'N', 'G', '\r', '\n', 0x1A, '\n'};
  std::vector<uint8_t> header;
  put_u32_be(header, static_cast<uint32_t>(width));
  put_u32_be(header, static_cast<uint32_t>(height));
  header.insert(header.end(), {8, 2, 0, 0, 0});  // 8-bit, truecolour, deflate, filter 0, no interlace
  put_chunk(png, "IHDR", header);
  put_chunk(png, "IDAT", zlib_compress(scanlines));
  put_chunk(png, "IEND", {});
  return png;
}

}  // namespace intfa::bench
