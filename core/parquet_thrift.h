// Parquet's Thrift metadata (footer and page headers) decoded from the Thrift compact protocol.
#pragma once

#include <cstddef>
#include <cstdint>
#include <optional>
#include <string>
#include <vector>

namespace packbench::parquet::thrift {

// Enum values as parquet-format's parquet.thrift numbers them.
enum Type : int { BOOLEAN = 0, INT32 = 1, INT64 = 2, INT96 = 3, FLOAT = 4, DOUBLE = 5, BYTE_ARRAY = 6, FIXED_LEN_BYTE_ARRAY = 7 };
enum Repetition : int { REQUIRED = 0, OPTIONAL = 1, REPEATED = 2 };
enum ConvertedType : int {
  CT_UTF8 = 0, CT_MAP = 1, CT_MAP_KEY_VALUE = 2, CT_LIST = 3, CT_ENUM = 4, CT_DECIMAL = 5, CT_DATE = 6,
  CT_TIME_MILLIS = 7, CT_TIME_MICROS = 8, CT_TIMESTAMP_MILLIS = 9, CT_TIMESTAMP_MICROS = 10,
  CT_UINT_8 = 11, CT_UINT_16 = 12, CT_UINT_32 = 13, CT_UINT_64 = 14,
  CT_INT_8 = 15, CT_INT_16 = 16, CT_INT_32 = 17, CT_INT_64 = 18, CT_JSON = 19, CT_BSON = 20, CT_INTERVAL = 21
};
// LogicalType is a Thrift union: the member's field id says which one is set.
enum LogicalKind : int {
  LT_NONE = 0, LT_STRING = 1, LT_MAP = 2, LT_LIST = 3, LT_ENUM = 4, LT_DECIMAL = 5, LT_DATE = 6, LT_TIME = 7,
  LT_TIMESTAMP = 8, LT_INTEGER = 10, LT_UNKNOWN = 11 /* arrow's null type */, LT_JSON = 12, LT_BSON = 13,
  LT_UUID = 14, LT_FLOAT16 = 15, LT_VARIANT = 16, LT_GEOMETRY = 17, LT_GEOGRAPHY = 18
};
enum Codec : int { UNCOMPRESSED = 0, SNAPPY = 1, GZIP = 2, LZO = 3, BROTLI = 4, LZ4 = 5, ZSTD = 6, LZ4_RAW = 7 };
enum Encoding : int {
  PLAIN = 0, PLAIN_DICTIONARY = 2, RLE = 3, BIT_PACKED = 4, DELTA_BINARY_PACKED = 5,
  DELTA_LENGTH_BYTE_ARRAY = 6, DELTA_BYTE_ARRAY = 7, RLE_DICTIONARY = 8, BYTE_STREAM_SPLIT = 9
};
enum PageType : int { DATA_PAGE = 0, INDEX_PAGE = 1, DICTIONARY_PAGE = 2, DATA_PAGE_V2 = 3 };

struct LogicalType {
  int kind = LT_NONE;
  int bit_width = 0;      // INTEGER
  bool is_signed = true;  // INTEGER
};

struct SchemaElement {
  std::optional<int> type;        // absent for groups
  int type_length = 0;
  std::optional<int> repetition;  // absent only for the root
  std::string name;
  int num_children = 0;
  std::optional<int> converted_type;
  LogicalType logical;
};

struct ColumnMetaData {
  int type = -1;
  std::vector<std::string> path_in_schema;
  int codec = UNCOMPRESSED;
  int64_t num_values = 0;
  int64_t total_uncompressed_size = 0;
  int64_t total_compressed_size = 0;
  int64_t data_page_offset = 0;
  std::optional<int64_t> dictionary_page_offset;
};

struct ColumnChunk {
  std::string file_path;  // set when the data lives in another file (not supported)
  std::optional<ColumnMetaData> meta_data;
};

struct RowGroup {
  std::vector<ColumnChunk> columns;
  int64_t num_rows = 0;
};

struct FileMetaData {
  std::vector<SchemaElement> schema;
  int64_t num_rows = 0;
  std::vector<RowGroup> row_groups;
};

struct DataPageHeader {
  int32_t num_values = 0;
  int encoding = PLAIN;
  int definition_level_encoding = RLE;
  int repetition_level_encoding = RLE;
};

struct DictionaryPageHeader {
  int32_t num_values = 0;
  int encoding = PLAIN;
};

struct DataPageHeaderV2 {
  int32_t num_values = 0;
  int32_t num_nulls = 0;
  int32_t num_rows = 0;
  int encoding = PLAIN;
  int32_t definition_levels_byte_length = 0;
  int32_t repetition_levels_byte_length = 0;
  bool is_compressed = true;
};

struct PageHeader {
  int type = -1;
  int32_t uncompressed_page_size = 0;
  int32_t compressed_page_size = 0;
  std::optional<DataPageHeader> data_page;
  std::optional<DictionaryPageHeader> dictionary_page;
  std::optional<DataPageHeaderV2> data_page_v2;
};

// Both throw packbench::Error("<what>: ...") on malformed input; neither reads outside [data, data+size).
FileMetaData read_file_metadata(const uint8_t* data, size_t size, const std::string& what);
// *consumed: the header's length in bytes (the page's data follows it).
PageHeader read_page_header(const uint8_t* data, size_t size, size_t* consumed, const std::string& what);

}  // namespace packbench::parquet::thrift
