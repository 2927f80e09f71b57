// Raw Snappy decompression (the block format Parquet's SNAPPY codec uses), bounds-checked.
//
// The format: a varint holding the uncompressed length, then elements, each opened by a tag byte
// whose low two bits say what it is: 0 a literal (length in the tag or in 1-4 bytes after it),
// 1/2/3 a copy of earlier output (length and offset in the tag plus 1, 2 or 4 offset bytes).
#include "core/snappy.h"

#include <cstring>

#include "core/error.h"

namespace packbench::snappy {

void decompress(const uint8_t* data, size_t size, size_t expected_size, std::vector<uint8_t>& out,
                const std::string& what) {
  auto fail = [&](const std::string& msg) { throw Error(what + ": corrupt snappy data: " + msg); };
  size_t in = 0;
  uint64_t length = 0;
  for (int shift = 0;; shift += 7) {
    if (in >= size || shift > 28) fail("bad length preamble");
    uint8_t b = data[in++];
    length |= uint64_t(b & 0x7f) << shift;
    if (!(b & 0x80)) break;
  }
  if (length != expected_size)
    fail("block says " + std::to_string(length) + " bytes, page header says " + std::to_string(expected_size));
  out.resize(size_t(length));
  size_t o = 0;
  while (in < size) {
    uint8_t tag = data[in++];
    size_t len, offset;
    switch (tag & 3) {
      case 0: {  // literal
        len = tag >> 2;
        if (len >= 60) {
          size_t nbytes = len - 59;
          if (size - in < nbytes) fail("literal length runs past the end");
          len = 0;
          for (size_t i = 0; i < nbytes; ++i) len |= size_t(data[in + i]) << (8 * i);
          in += nbytes;
        }
        len += 1;
        if (size - in < len) fail("literal runs past the input");
        if (out.size() - o < len) fail("literal runs past the declared length");
        std::memcpy(out.data() + o, data + in, len);
        in += len;
        o += len;
        continue;
      }
      case 1:
        if (size - in < 1) fail("copy runs past the end");
        len = ((tag >> 2) & 7) + 4;
        offset = (size_t(tag >> 5) << 8) | data[in];
        in += 1;
        break;
      case 2:
        if (size - in < 2) fail("copy runs past the end");
        len = (tag >> 2) + 1;
        offset = size_t(data[in]) | (size_t(data[in + 1]) << 8);
        in += 2;
        break;
      default:
        if (size - in < 4) fail("copy runs past the end");
        len = (tag >> 2) + 1;
        offset = size_t(data[in]) | (size_t(data[in + 1]) << 8) | (size_t(data[in + 2]) << 16) |
                 (size_t(data[in + 3]) << 24);
        in += 4;
        break;
    }
    if (offset == 0 || offset > o) fail("copy from before the start of the output");
    if (out.size() - o < len) fail("copy runs past the declared length");
    // Byte by byte: a copy may overlap its own output (offset < len repeats a pattern).
    const uint8_t* src = out.data() + o - offset;
    uint8_t* dst = out.data() + o;
    if (offset >= len) {
      std::memcpy(dst, src, len);
    } else {
      for (size_t i = 0; i < len; ++i) dst[i] = src[i];
    }
    o += len;
  }
  if (o != out.size()) fail("block ends after " + std::to_string(o) + " of " + std::to_string(out.size()) + " bytes");
}

}  // namespace packbench::snappy
