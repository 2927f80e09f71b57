// Raw Snappy decompression (the block format Parquet's SNAPPY codec uses), bounds-checked.
#pragma once

#include <cstddef>
#include <cstdint>
#include <string>
#include <vector>

namespace packbench::snappy {

// Decompresses one raw Snappy block into `out` (resized to its length). The block's own length
// preamble must equal `expected_size`. Throws packbench::Error("<what>: ...") on corrupt input;
// never reads or writes outside the given ranges.
void decompress(const uint8_t* data, size_t size, size_t expected_size, std::vector<uint8_t>& out,
                const std::string& what);

}  // namespace packbench::snappy
