// A self-contained PNG encoder (no zlib): CRC-32 for the chunks, and a zlib
// stream whose deflate data uses LZ77 matching with the fixed Huffman codes of
// RFC 1951. Charts are mostly flat colour, so that alone compresses them ~50x.
#pragma once

#include <cstddef>
#include <cstdint>
#include <vector>

namespace intfa::bench {

// CRC-32 (ISO 3309, as PNG chunks use), continuing from `crc` (0 to start).
uint32_t crc32(const uint8_t* data, size_t size, uint32_t crc = 0);
// Adler-32 checksum (the zlib trailer).
uint32_t adler32(const uint8_t* data, size_t size);
// A complete zlib stream (RFC 1950) holding `data` deflated in one block.
std::vector<uint8_t> zlib_compress(const std::vector<uint8_t>& data);
// The bytes of a PNG file of 8-bit RGB pixels, rgb [height, width, 3].
std::vector<uint8_t> encode_png_rgb(const std::vector<uint8_t>& rgb, int width, int height);

}  // namespace intfa::bench
