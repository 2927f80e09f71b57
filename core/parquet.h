// Reads Apache Parquet files into JSON rows, natively (no Arrow): the shapes pyarrow's to_pylist() gives.
#pragma once

#include <nlohmann/json.hpp>
#include <cstdint>
#include <functional>
#include <string>
#include <vector>

namespace packbench::parquet {

// Every row of a Parquet file as a JSON object, column name -> value, as pyarrow's
// Table.to_pylist() gives it:
//   - BYTE_ARRAY with a STRING/UTF8, ENUM or JSON annotation -> JSON string (must be valid UTF-8);
//     BYTE_ARRAY / FIXED_LEN_BYTE_ARRAY without one (binary, BSON) -> base64 string (RFC 4648, padded);
//   - BOOLEAN -> bool; INT32/INT64 (any INT(bits, signed) annotation) -> integer, unsigned ones as
//     unsigned; FLOAT/DOUBLE -> number (a float widened to double exactly);
//   - DATE -> days since 1970-01-01 (integer); TIME and TIMESTAMP -> the stored integer in the
//     column's unit (pyarrow would give date/time objects);
//   - arrow's null type (every value null) and any null -> null;
//   - LIST (3-level, legacy 2-level, bare repeated fields) -> array; STRUCT (group) -> object;
//   - MAP -> array of {"key": k, "value": v} objects in file order (pyarrow's (key, value) pairs).
// Errors (packbench::Error, naming the file and, where it applies, the column path, row group
// and page): not a Parquet file, truncated or corrupt data, encrypted files, columns in other
// files, codecs other than UNCOMPRESSED/SNAPPY/GZIP/ZSTD, BYTE_STREAM_SPLIT, INT96, DECIMAL,
// FLOAT16, UUID, INTERVAL and the variant/geospatial types.
// Objects are nlohmann::json's (keys sorted), not the file's column order.
std::vector<nlohmann::json> read_rows(const std::string& path);

// The same rows, one row group at a time: `sink` gets each group's rows in file order and the
// index of its first row in the file, so memory holds one row group's rows, not the file's. The
// footer's row count is checked as the groups go (a group past it is an error before its rows).
void for_each_row_group(const std::string& path,
                        const std::function<void(std::vector<nlohmann::json>&& rows, int64_t first_row)>& sink);

}  // namespace packbench::parquet
