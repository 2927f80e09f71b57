// Parquet's value and level encodings: RLE/bit-packed hybrid and the DELTA_* encodings, bounds-checked.
#pragma once

#include <cstddef>
#include <cstdint>
#include <string>
#include <vector>

namespace packbench::parquet::encoding {

// Each function reads only [data, data+size) and throws packbench::Error("<what>: ...") when the
// bytes do not hold what the caller asked for.

// The RLE/bit-packed hybrid (without a length prefix): appends exactly `count` values of
// `bit_width` bits (0..32) to `out`; returns the bytes consumed.
size_t rle_hybrid(const uint8_t* data, size_t size, int bit_width, size_t count, std::vector<uint32_t>& out,
                  const std::string& what);

// DELTA_BINARY_PACKED: its header's value count must equal `count`; appends the values to `out`
// (64-bit arithmetic that wraps, so INT32 columns just truncate); returns the bytes consumed.
size_t delta_binary_packed(const uint8_t* data, size_t size, size_t count, std::vector<int64_t>& out,
                           const std::string& what);

// DELTA_LENGTH_BYTE_ARRAY and DELTA_BYTE_ARRAY: appends `count` byte strings; return bytes consumed.
size_t delta_length_byte_array(const uint8_t* data, size_t size, size_t count, std::vector<std::string>& out,
                               const std::string& what);
size_t delta_byte_array(const uint8_t* data, size_t size, size_t count, std::vector<std::string>& out,
                        const std::string& what);

// The number of bits needed for values 0..max_value.
int bit_width(uint64_t max_value);

}  // namespace packbench::parquet::encoding
