// Parquet's Thrift metadata (footer and page headers) decoded from the Thrift compact protocol.
#include "core/parquet_thrift.h"

#include <cstring>
#include <functional>

#include "core/error.h"

namespace packbench::parquet::thrift {
namespace {

// Compact protocol type ids (in field headers and collection headers).
enum CType : uint8_t {
  C_STOP = 0, C_TRUE = 1, C_FALSE = 2, C_BYTE = 3, C_I16 = 4, C_I32 = 5, C_I64 = 6, C_DOUBLE = 7,
  C_BINARY = 8, C_LIST = 9, C_SET = 10, C_MAP = 11, C_STRUCT = 12
};
constexpr int kMaxDepth = 64;  // nested structs/collections; deeper is taken as corrupt

// A bounds-checked cursor over compact-protocol bytes.
class Reader {
 public:
  Reader(const uint8_t* p, size_t n, const std::string& what) : p_(p), n_(n), what_(what) {}
  size_t pos() const { return pos_; }

  [[noreturn]] void fail(const std::string& msg) const {
    throw Error(what_ + ": corrupt Thrift metadata at byte " + std::to_string(pos_) + ": " + msg);
  }

  uint8_t byte() {
    if (pos_ >= n_) fail("unexpected end of data");
    return p_[pos_++];
  }
  uint64_t varint() {
    uint64_t v = 0;
    for (int shift = 0; shift < 64; shift += 7) {
      uint8_t b = byte();
      v |= uint64_t(b & 0x7f) << shift;
      if (!(b & 0x80)) return v;
    }
    fail("varint longer than 10 bytes");
  }
  int64_t zigzag() {
    uint64_t v = varint();
    return int64_t(v >> 1) ^ -int64_t(v & 1);
  }

  // Any integer field (i8 is one raw byte; i16/i32/i64 are zigzag varints).
  int64_t integer(uint8_t type) {
    if (type == C_BYTE) return int8_t(byte());
    if (type == C_I16 || type == C_I32 || type == C_I64) return zigzag();
    fail("expected an integer, found compact type " + std::to_string(type));
  }
  int32_t i32(uint8_t type) {
    int64_t v = integer(type);
    if (v < INT32_MIN || v > INT32_MAX) fail("i32 out of range");
    return int32_t(v);
  }
  bool boolean(uint8_t type) {
    if (type == C_TRUE) return true;
    if (type == C_FALSE) return false;
    fail("expected a bool, found compact type " + std::to_string(type));
  }
  std::string binary(uint8_t type) {
    if (type != C_BINARY) fail("expected a string, found compact type " + std::to_string(type));
    uint64_t len = varint();
    if (len > n_ - pos_) fail("string of " + std::to_string(len) + " bytes runs past the end");
    std::string s(reinterpret_cast<const char*>(p_ + pos_), size_t(len));
    pos_ += size_t(len);
    return s;
  }

  // A list or set header: element type, element count (each element takes at least one byte,
  // so a count beyond the bytes left is corrupt: this also bounds any loop over it).
  size_t list_header(uint8_t type, uint8_t* elem_type) {
    if (type != C_LIST && type != C_SET) fail("expected a list, found compact type " + std::to_string(type));
    uint8_t h = byte();
    uint64_t size = h >> 4;
    if (size == 15) size = varint();
    *elem_type = h & 0x0f;
    if (size > n_ - pos_) fail("list of " + std::to_string(size) + " elements runs past the end");
    return size_t(size);
  }

  // Calls on_field(id, type) for each field of a struct until its STOP; on_field returns false
  // for fields it does not know, which are skipped.
  void read_struct(uint8_t type, int depth, const std::function<bool(int16_t, uint8_t)>& on_field) {
    if (type != C_STRUCT) fail("expected a struct, found compact type " + std::to_string(type));
    if (depth > kMaxDepth) fail("nesting deeper than " + std::to_string(kMaxDepth));
    int16_t last = 0;
    for (;;) {
      uint8_t h = byte();
      uint8_t t = h & 0x0f;
      if (t == C_STOP) return;
      int16_t id;
      if (h >> 4) {
        id = int16_t(last + (h >> 4));
      } else {
        int64_t v = zigzag();
        if (v < INT16_MIN || v > INT16_MAX) fail("field id out of range");
        id = int16_t(v);
      }
      last = id;
      if (!on_field(id, t)) skip(t, depth + 1);
    }
  }

  // Skips one value of compact type `type`, whatever it holds.
  void skip(uint8_t type, int depth) {
    if (depth > kMaxDepth) fail("nesting deeper than " + std::to_string(kMaxDepth));
    switch (type) {
      case C_TRUE:
      case C_FALSE:
        return;  // a struct field's bool lives in its type nibble
      case C_BYTE:
        byte();
        return;
      case C_I16:
      case C_I32:
      case C_I64:
        varint();
        return;
      case C_DOUBLE:
        if (n_ - pos_ < 8) fail("unexpected end of data");
        pos_ += 8;
        return;
      case C_BINARY:
        binary(type);
        return;
      case C_LIST:
      case C_SET: {
        uint8_t et;
        size_t n = list_header(type, &et);
        for (size_t i = 0; i < n; ++i) skip_element(et, depth + 1);
        return;
      }
      case C_MAP: {
        uint64_t n = varint();
        if (n == 0) return;
        if (n > (n_ - pos_) / 2) fail("map of " + std::to_string(n) + " entries runs past the end");
        uint8_t kv = byte();
        for (uint64_t i = 0; i < n; ++i) {
          skip_element(kv >> 4, depth + 1);
          skip_element(kv & 0x0f, depth + 1);
        }
        return;
      }
      case C_STRUCT:
        read_struct(type, depth, [](int16_t, uint8_t) { return false; });
        return;
      default:
        fail("unknown compact type " + std::to_string(type));
    }
  }
  // Inside lists and maps a bool is a whole byte.
  void skip_element(uint8_t type, int depth) {
    if (type == C_TRUE || type == C_FALSE) {
      byte();
      return;
    }
    skip(type, depth);
  }

 private:
  const uint8_t* p_;
  size_t n_;
  size_t pos_ = 0;
  const std::string& what_;
};

// Required fields: each parser sets bit i for field i it saw and checks the required mask.
void require(Reader& r, uint32_t seen, uint32_t required, const char* name) {
  uint32_t missing = required & ~seen;
  if (!missing) return;
  int id = 0;
  while (!(missing & (1u << id))) ++id;
  r.fail(std::string(name) + " lacks its required field " + std::to_string(id));
}

LogicalType parse_logical(Reader& r, uint8_t type, int depth) {
  LogicalType lt;
  r.read_struct(type, depth, [&](int16_t id, uint8_t t) {
    if (id <= 0 || id > 31) return false;
    lt.kind = id;
    if (id == LT_INTEGER) {
      r.read_struct(t, depth + 1, [&](int16_t f, uint8_t ft) {
        if (f == 1) lt.bit_width = int(r.integer(ft));
        else if (f == 2) lt.is_signed = r.boolean(ft);
        else return false;
        return true;
      });
      return true;
    }
    return false;  // the other members' contents do not change how values read (DECIMAL errors anyway)
  });
  return lt;
}

SchemaElement parse_schema_element(Reader& r, uint8_t type, int depth) {
  SchemaElement e;
  uint32_t seen = 0;
  r.read_struct(type, depth, [&](int16_t id, uint8_t t) {
    switch (id) {
      case 1: e.type = r.i32(t); break;
      case 2: e.type_length = r.i32(t); break;
      case 3: e.repetition = r.i32(t); break;
      case 4: e.name = r.binary(t); break;
      case 5: e.num_children = r.i32(t); break;
      case 6: e.converted_type = r.i32(t); break;
      case 10: e.logical = parse_logical(r, t, depth + 1); break;
      default: return false;
    }
    seen |= 1u << id;
    return true;
  });
  require(r, seen, 1u << 4, "SchemaElement");
  return e;
}

ColumnMetaData parse_column_meta(Reader& r, uint8_t type, int depth) {
  ColumnMetaData m;
  uint32_t seen = 0;
  r.read_struct(type, depth, [&](int16_t id, uint8_t t) {
    switch (id) {
      case 1: m.type = r.i32(t); break;
      case 3: {
        uint8_t et;
        size_t n = r.list_header(t, &et);
        for (size_t i = 0; i < n; ++i) m.path_in_schema.push_back(r.binary(et));
        break;
      }
      case 4: m.codec = r.i32(t); break;
      case 5: m.num_values = r.integer(t); break;
      case 6: m.total_uncompressed_size = r.integer(t); break;
      case 7: m.total_compressed_size = r.integer(t); break;
      case 9: m.data_page_offset = r.integer(t); break;
      case 11: m.dictionary_page_offset = r.integer(t); break;
      default: return false;  // encodings (2), statistics, encoding stats, size/geo stats, ...
    }
    seen |= 1u << id;
    return true;
  });
  require(r, seen, (1u << 1) | (1u << 3) | (1u << 4) | (1u << 5) | (1u << 7) | (1u << 9), "ColumnMetaData");
  return m;
}

ColumnChunk parse_column_chunk(Reader& r, uint8_t type, int depth) {
  ColumnChunk c;
  r.read_struct(type, depth, [&](int16_t id, uint8_t t) {
    if (id == 1) c.file_path = r.binary(t);
    else if (id == 3) c.meta_data = parse_column_meta(r, t, depth + 1);
    else return false;
    return true;
  });
  return c;
}

RowGroup parse_row_group(Reader& r, uint8_t type, int depth) {
  RowGroup g;
  uint32_t seen = 0;
  r.read_struct(type, depth, [&](int16_t id, uint8_t t) {
    if (id == 1) {
      uint8_t et;
      size_t n = r.list_header(t, &et);
      for (size_t i = 0; i < n; ++i) g.columns.push_back(parse_column_chunk(r, et, depth + 1));
    } else if (id == 3) {
      g.num_rows = r.integer(t);
    } else {
      return false;
    }
    seen |= 1u << id;
    return true;
  });
  require(r, seen, (1u << 1) | (1u << 3), "RowGroup");
  return g;
}

}  // namespace

FileMetaData read_file_metadata(const uint8_t* data, size_t size, const std::string& what) {
  Reader r(data, size, what);
  FileMetaData fm;
  uint32_t seen = 0;
  r.read_struct(C_STRUCT, 0, [&](int16_t id, uint8_t t) {
    switch (id) {
      case 2: {
        uint8_t et;
        size_t n = r.list_header(t, &et);
        for (size_t i = 0; i < n; ++i) fm.schema.push_back(parse_schema_element(r, et, 1));
        break;
      }
      case 3: fm.num_rows = r.integer(t); break;
      case 4: {
        uint8_t et;
        size_t n = r.list_header(t, &et);
        for (size_t i = 0; i < n; ++i) fm.row_groups.push_back(parse_row_group(r, et, 1));
        break;
      }
      default: return false;  // version, key_value_metadata, created_by, column_orders, ...
    }
    seen |= 1u << id;
    return true;
  });
  require(r, seen, (1u << 2) | (1u << 3) | (1u << 4), "FileMetaData");
  return fm;
}

PageHeader read_page_header(const uint8_t* data, size_t size, size_t* consumed, const std::string& what) {
  Reader r(data, size, what);
  PageHeader h;
  uint32_t seen = 0;
  r.read_struct(C_STRUCT, 0, [&](int16_t id, uint8_t t) {
    switch (id) {
      case 1: h.type = r.i32(t); break;
      case 2: h.uncompressed_page_size = r.i32(t); break;
      case 3: h.compressed_page_size = r.i32(t); break;
      case 5: {
        DataPageHeader d;
        uint32_t s = 0;
        r.read_struct(t, 1, [&](int16_t f, uint8_t ft) {
          switch (f) {
            case 1: d.num_values = r.i32(ft); break;
            case 2: d.encoding = r.i32(ft); break;
            case 3: d.definition_level_encoding = r.i32(ft); break;
            case 4: d.repetition_level_encoding = r.i32(ft); break;
            default: return false;
          }
          s |= 1u << f;
          return true;
        });
        require(r, s, 0x1e, "DataPageHeader");
        h.data_page = d;
        break;
      }
      case 7: {
        DictionaryPageHeader d;
        uint32_t s = 0;
        r.read_struct(t, 1, [&](int16_t f, uint8_t ft) {
          if (f == 1) d.num_values = r.i32(ft);
          else if (f == 2) d.encoding = r.i32(ft);
          else return false;
          s |= 1u << f;
          return true;
        });
        require(r, s, 0x6, "DictionaryPageHeader");
        h.dictionary_page = d;
        break;
      }
      case 8: {
        DataPageHeaderV2 d;
        uint32_t s = 0;
        r.read_struct(t, 1, [&](int16_t f, uint8_t ft) {
          switch (f) {
            case 1: d.num_values = r.i32(ft); break;
            case 2: d.num_nulls = r.i32(ft); break;
            case 3: d.num_rows = r.i32(ft); break;
            case 4: d.encoding = r.i32(ft); break;
            case 5: d.definition_levels_byte_length = r.i32(ft); break;
            case 6: d.repetition_levels_byte_length = r.i32(ft); break;
            case 7: d.is_compressed = r.boolean(ft); break;
            default: return false;
          }
          s |= 1u << f;
          return true;
        });
        require(r, s, 0x7e, "DataPageHeaderV2");
        h.data_page_v2 = d;
        break;
      }
      default: return false;  // crc, index page header, ...
    }
    seen |= 1u << id;
    return true;
  });
  require(r, seen, 0xe, "PageHeader");
  *consumed = r.pos();
  return h;
}

}  // namespace packbench::parquet::thrift
