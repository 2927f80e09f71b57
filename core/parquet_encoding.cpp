// Parquet's value and level encodings: RLE/bit-packed hybrid and the DELTA_* encodings, bounds-checked.
#include "core/parquet_encoding.h"

#include <algorithm>

#include "core/error.h"

namespace packbench::parquet::encoding {
namespace {

[[noreturn]] void fail(const std::string& what, const std::string& msg) { throw Error(what + ": " + msg); }

uint64_t uleb128(const uint8_t* data, size_t size, size_t& pos, const std::string& what) {
  uint64_t v = 0;
  for (int shift = 0; shift < 64; shift += 7) {
    if (pos >= size) fail(what, "encoded values end early (in a varint)");
    uint8_t b = data[pos++];
    v |= uint64_t(b & 0x7f) << shift;
    if (!(b & 0x80)) return v;
  }
  fail(what, "varint longer than 10 bytes");
}

int64_t zigzag(uint64_t v) { return int64_t(v >> 1) ^ -int64_t(v & 1); }

// `w` bits (0..64) starting `bitpos` bits into p, least significant bit first (the caller has
// checked that they lie inside the buffer).
uint64_t get_bits(const uint8_t* p, size_t bitpos, int w) {
  uint64_t v = 0;
  int got = 0;
  size_t byte = bitpos >> 3;
  int shift = int(bitpos & 7);
  while (got < w) {
    v |= uint64_t(p[byte] >> shift) << got;
    got += 8 - shift;
    ++byte;
    shift = 0;
  }
  return w >= 64 ? v : v & ((uint64_t(1) << w) - 1);
}

constexpr size_t kMaxPageBytes = size_t(256) << 20;  // a cap on what DELTA_BYTE_ARRAY may build

}  // namespace

int bit_width(uint64_t max_value) {
  int w = 0;
  while (max_value) {
    ++w;
    max_value >>= 1;
  }
  return w;
}

size_t rle_hybrid(const uint8_t* data, size_t size, int bit_width, size_t count, std::vector<uint32_t>& out,
                  const std::string& what) {
  if (bit_width < 0 || bit_width > 32) fail(what, "bit width " + std::to_string(bit_width) + " out of range");
  const size_t target = out.size() + count;
  const size_t value_bytes = size_t(bit_width + 7) / 8;
  size_t pos = 0;
  while (out.size() < target) {
    uint64_t header = uleb128(data, size, pos, what);
    size_t want = target - out.size();
    if (header & 1) {  // bit-packed: (header >> 1) groups of 8 values
      uint64_t groups = header >> 1;
      if (groups > size) fail(what, "bit-packed run longer than the data");
      size_t nbytes = size_t(groups) * size_t(bit_width);
      size_t take = std::min<size_t>(size_t(groups) * 8, want);
      // Accept a last run cut short after the values needed, but never read past them.
      if ((take * size_t(bit_width) + 7) / 8 > size - pos) fail(what, "bit-packed run runs past the data");
      for (size_t i = 0; i < take; ++i) out.push_back(uint32_t(get_bits(data + pos, i * size_t(bit_width), bit_width)));
      pos += std::min(nbytes, size - pos);
    } else {  // RLE: one value repeated (header >> 1) times
      uint64_t run = header >> 1;
      if (value_bytes > size - pos) fail(what, "RLE run value runs past the data");
      uint32_t v = 0;
      for (size_t i = 0; i < value_bytes; ++i) v |= uint32_t(data[pos + i]) << (8 * i);
      pos += value_bytes;
      if (bit_width < 32 && (v >> bit_width)) fail(what, "RLE run value wider than its bit width");
      out.insert(out.end(), size_t(std::min<uint64_t>(run, want)), v);
    }
  }
  return pos;
}

size_t delta_binary_packed(const uint8_t* data, size_t size, size_t count, std::vector<int64_t>& out,
                           const std::string& what) {
  size_t pos = 0;
  uint64_t block_size = uleb128(data, size, pos, what);
  uint64_t miniblocks = uleb128(data, size, pos, what);
  uint64_t total = uleb128(data, size, pos, what);
  uint64_t last = uint64_t(zigzag(uleb128(data, size, pos, what)));
  if (block_size == 0 || block_size % 128 || block_size > (1u << 20) || miniblocks == 0 ||
      block_size % miniblocks || (block_size / miniblocks) % 32)
    fail(what, "DELTA_BINARY_PACKED header has block size " + std::to_string(block_size) + " with " +
                   std::to_string(miniblocks) + " miniblocks");
  if (total != count)
    fail(what, "DELTA_BINARY_PACKED holds " + std::to_string(total) + " values, the page needs " + std::to_string(count));
  if (count == 0) return pos;
  const size_t per_mini = size_t(block_size / miniblocks);
  out.push_back(int64_t(last));
  size_t remaining = count - 1;
  while (remaining > 0) {
    uint64_t min_delta = uint64_t(zigzag(uleb128(data, size, pos, what)));
    if (miniblocks > size - pos) fail(what, "DELTA_BINARY_PACKED bit widths run past the data");
    const uint8_t* widths = data + pos;
    pos += size_t(miniblocks);
    for (size_t m = 0; m < miniblocks && remaining > 0; ++m) {
      int w = widths[m];
      if (w > 64) fail(what, "DELTA_BINARY_PACKED bit width " + std::to_string(w));
      size_t take = std::min(per_mini, remaining);
      if ((take * size_t(w) + 7) / 8 > size - pos) fail(what, "DELTA_BINARY_PACKED miniblock runs past the data");
      for (size_t j = 0; j < take; ++j) {
        last += min_delta + get_bits(data + pos, j * size_t(w), w);  // wraps, as the spec intends
        out.push_back(int64_t(last));
      }
      pos += std::min(per_mini * size_t(w) / 8, size - pos);
      remaining -= take;
    }
  }
  return pos;
}

size_t delta_length_byte_array(const uint8_t* data, size_t size, size_t count, std::vector<std::string>& out,
                               const std::string& what) {
  std::vector<int64_t> lengths;
  size_t pos = delta_binary_packed(data, size, count, lengths, what);
  for (int64_t len : lengths) {
    if (len < 0 || uint64_t(len) > size - pos) fail(what, "DELTA_LENGTH_BYTE_ARRAY value runs past the data");
    out.emplace_back(reinterpret_cast<const char*>(data + pos), size_t(len));
    pos += size_t(len);
  }
  return pos;
}

size_t delta_byte_array(const uint8_t* data, size_t size, size_t count, std::vector<std::string>& out,
                        const std::string& what) {
  std::vector<int64_t> prefixes;
  size_t pos = delta_binary_packed(data, size, count, prefixes, what);
  std::vector<std::string> suffixes;
  pos += delta_length_byte_array(data + pos, size - pos, count, suffixes, what);
  size_t built = 0;
  const std::string* prev = nullptr;
  std::string empty;
  for (size_t i = 0; i < count; ++i) {
    const std::string& before = prev ? *prev : empty;
    if (prefixes[i] < 0 || uint64_t(prefixes[i]) > before.size())
      fail(what, "DELTA_BYTE_ARRAY prefix longer than the previous value");
    built += size_t(prefixes[i]) + suffixes[i].size();
    if (built > kMaxPageBytes) fail(what, "DELTA_BYTE_ARRAY page builds more than 256 MiB");
    out.push_back(before.substr(0, size_t(prefixes[i])) + suffixes[i]);
    prev = &out.back();  // (out may reallocate on the next push_back: re-taken each time)
  }
  return pos;
}

}  // namespace packbench::parquet::encoding
