// Reads Apache Parquet files into JSON rows, natively (no Arrow): the shapes pyarrow's to_pylist() gives.
//
// The path through a file: footer (Thrift FileMetaData) -> schema tree -> for each row group, each
// leaf column's pages decoded into repetition levels, definition levels and values -> rows
// assembled from the levels (Dremel record assembly) by walking the schema tree.
#include "core/parquet.h"

#include <zlib.h>
#include <zstd.h>

#include <algorithm>
#include <cstring>
#include <functional>

#include "core/error.h"
#include "core/mapped_file.h"
#include "core/parquet_encoding.h"
#include "core/parquet_thrift.h"
#include "core/snappy.h"

namespace packbench::parquet {
namespace {

using json = nlohmann::json;
using namespace thrift;

constexpr int kMaxSchemaDepth = 100;
constexpr int64_t kMaxPageValues = int64_t(1) << 24;  // more level entries than this in one page: corrupt
constexpr size_t kMinPageCap = size_t(64) << 20;      // pages may always be this big uncompressed...
constexpr size_t kMaxRatio = 1100;                    // ...or this many times their compressed size

[[noreturn]] void fail(const std::string& where, const std::string& msg) { throw Error(where + ": " + msg); }

// ---- values --------------------------------------------------------------------------------------

// How a leaf's physical values become JSON.
enum class Kind { Bool, Int32, UInt32, Int64, UInt64, Float, Double, String, Binary };

struct Leaf {
  std::string path;  // dotted schema path, as path_in_schema spells it
  int physical = 0;
  int type_length = 0;
  Kind kind = Kind::Int32;
  int max_def = 0, max_rep = 0;
};

std::string base64(const uint8_t* p, size_t n) {
  static const char* abc = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
  std::string s;
  s.reserve((n + 2) / 3 * 4);
  for (size_t i = 0; i < n; i += 3) {
    uint32_t v = uint32_t(p[i]) << 16;
    if (i + 1 < n) v |= uint32_t(p[i + 1]) << 8;
    if (i + 2 < n) v |= p[i + 2];
    s += abc[(v >> 18) & 63];
    s += abc[(v >> 12) & 63];
    s += i + 1 < n ? abc[(v >> 6) & 63] : '=';
    s += i + 2 < n ? abc[v & 63] : '=';
  }
  return s;
}

// Strict UTF-8 (no overlong forms, surrogates or code points past U+10FFFF), as Python decodes it.
bool valid_utf8(const uint8_t* p, size_t n) {
  size_t i = 0;
  while (i < n) {
    uint8_t c = p[i];
    if (c < 0x80) {
      ++i;
      continue;
    }
    size_t len;
    uint32_t cp;
    if ((c & 0xe0) == 0xc0) len = 2, cp = c & 0x1f;
    else if ((c & 0xf0) == 0xe0) len = 3, cp = c & 0x0f;
    else if ((c & 0xf8) == 0xf0) len = 4, cp = c & 0x07;
    else return false;
    if (n - i < len) return false;
    for (size_t k = 1; k < len; ++k) {
      if ((p[i + k] & 0xc0) != 0x80) return false;
      cp = (cp << 6) | (p[i + k] & 0x3f);
    }
    if ((len == 2 && cp < 0x80) || (len == 3 && cp < 0x800) || (len == 4 && cp < 0x10000) || cp > 0x10ffff ||
        (cp >= 0xd800 && cp <= 0xdfff))
      return false;
    i += len;
  }
  return true;
}

json bytes_value(const Leaf& leaf, const uint8_t* p, size_t n, const std::string& where) {
  if (leaf.kind == Kind::Binary) return base64(p, n);
  if (!valid_utf8(p, n)) fail(where, "a string value is not valid UTF-8");
  return std::string(reinterpret_cast<const char*>(p), n);
}

json int_value(const Leaf& leaf, int64_t v) {
  switch (leaf.kind) {
    case Kind::Int32: return int64_t(int32_t(v));
    case Kind::UInt32: return uint64_t(uint32_t(v));
    case Kind::UInt64: return uint64_t(v);
    default: return v;
  }
}

template <typename T>
T load_le(const uint8_t* p) {
  T v;
  std::memcpy(&v, p, sizeof v);  // Parquet is little-endian, as are the machines packbench runs on
  return v;
}

// PLAIN: `count` values back to back.
void decode_plain(const Leaf& leaf, const uint8_t* p, size_t n, size_t count, std::vector<json>& out,
                  const std::string& where) {
  auto need = [&](size_t width) {
    if (count > n / width) fail(where, "PLAIN page holds fewer than its " + std::to_string(count) + " values");
  };
  switch (leaf.physical) {
    case BOOLEAN:
      if ((count + 7) / 8 > n) fail(where, "PLAIN page holds fewer than its " + std::to_string(count) + " values");
      for (size_t i = 0; i < count; ++i) out.emplace_back(bool((p[i / 8] >> (i % 8)) & 1));
      return;
    case INT32:
      need(4);
      for (size_t i = 0; i < count; ++i) out.push_back(int_value(leaf, load_le<int32_t>(p + 4 * i)));
      return;
    case INT64:
      need(8);
      for (size_t i = 0; i < count; ++i) out.push_back(int_value(leaf, load_le<int64_t>(p + 8 * i)));
      return;
    case FLOAT:
      need(4);
      for (size_t i = 0; i < count; ++i) out.emplace_back(double(load_le<float>(p + 4 * i)));
      return;
    case DOUBLE:
      need(8);
      for (size_t i = 0; i < count; ++i) out.emplace_back(load_le<double>(p + 8 * i));
      return;
    case BYTE_ARRAY: {
      size_t pos = 0;
      for (size_t i = 0; i < count; ++i) {
        if (n - pos < 4) fail(where, "PLAIN page ends inside a value's length");
        uint32_t len = load_le<uint32_t>(p + pos);
        pos += 4;
        if (len > n - pos) fail(where, "PLAIN value of " + std::to_string(len) + " bytes runs past the page");
        out.push_back(bytes_value(leaf, p + pos, len, where));
        pos += len;
      }
      return;
    }
    case FIXED_LEN_BYTE_ARRAY: {
      size_t w = size_t(leaf.type_length);
      if (w == 0) {
        for (size_t i = 0; i < count; ++i) out.push_back(bytes_value(leaf, p, 0, where));
        return;
      }
      need(w);
      for (size_t i = 0; i < count; ++i) out.push_back(bytes_value(leaf, p + w * i, w, where));
      return;
    }
    default:
      fail(where, "unsupported physical type " + std::to_string(leaf.physical));
  }
}

void decode_values(const Leaf& leaf, int enc, const uint8_t* p, size_t n, size_t count,
                   const std::vector<json>* dict, std::vector<json>& out, const std::string& where) {
  switch (enc) {
    case PLAIN:
      decode_plain(leaf, p, n, count, out, where);
      return;
    case PLAIN_DICTIONARY:
    case RLE_DICTIONARY: {
      if (!dict) fail(where, "dictionary-encoded page but the column chunk has no dictionary page");
      if (count == 0) return;
      if (n < 1) fail(where, "dictionary-encoded page is empty");
      std::vector<uint32_t> idx;
      encoding::rle_hybrid(p + 1, n - 1, p[0], count, idx, where);
      for (uint32_t i : idx) {
        if (i >= dict->size())
          fail(where, "dictionary index " + std::to_string(i) + " past the dictionary's " + std::to_string(dict->size()) + " values");
        out.push_back((*dict)[i]);
      }
      return;
    }
    case RLE: {  // booleans only: a 4-byte length, then the hybrid with bit width 1
      if (leaf.physical != BOOLEAN) fail(where, "RLE encoding on a non-boolean column");
      if (n < 4) fail(where, "RLE page ends inside its length");
      uint32_t len = load_le<uint32_t>(p);
      if (len > n - 4) fail(where, "RLE data runs past the page");
      std::vector<uint32_t> bits;
      encoding::rle_hybrid(p + 4, len, 1, count, bits, where);
      for (uint32_t b : bits) out.emplace_back(b != 0);
      return;
    }
    case DELTA_BINARY_PACKED: {
      if (leaf.physical != INT32 && leaf.physical != INT64) fail(where, "DELTA_BINARY_PACKED on a non-integer column");
      std::vector<int64_t> v;
      encoding::delta_binary_packed(p, n, count, v, where);
      for (int64_t x : v) out.push_back(int_value(leaf, x));
      return;
    }
    case DELTA_LENGTH_BYTE_ARRAY:
    case DELTA_BYTE_ARRAY: {
      if (leaf.physical != BYTE_ARRAY && !(enc == DELTA_BYTE_ARRAY && leaf.physical == FIXED_LEN_BYTE_ARRAY))
        fail(where, "DELTA byte-array encoding on a column of physical type " + std::to_string(leaf.physical));
      std::vector<std::string> v;
      if (enc == DELTA_LENGTH_BYTE_ARRAY) encoding::delta_length_byte_array(p, n, count, v, where);
      else encoding::delta_byte_array(p, n, count, v, where);
      for (const auto& s : v) out.push_back(bytes_value(leaf, reinterpret_cast<const uint8_t*>(s.data()), s.size(), where));
      return;
    }
    case BYTE_STREAM_SPLIT:
      fail(where, "encoding BYTE_STREAM_SPLIT is not supported");
    default:
      fail(where, "unsupported encoding " + std::to_string(enc));
  }
}

// ---- decompression -------------------------------------------------------------------------------

std::string codec_name(int codec) {
  static const char* names[] = {"UNCOMPRESSED", "SNAPPY", "GZIP", "LZO", "BROTLI", "LZ4", "ZSTD", "LZ4_RAW"};
  return codec >= 0 && codec < 8 ? names[codec] : "codec " + std::to_string(codec);
}

bool codec_supported(int codec) { return codec == UNCOMPRESSED || codec == SNAPPY || codec == GZIP || codec == ZSTD; }

void decompress(int codec, const uint8_t* src, size_t n, size_t expected, std::vector<uint8_t>& out,
                const std::string& where) {
  if (expected > kMinPageCap && expected / kMaxRatio > n)
    fail(where, "page claims " + std::to_string(expected) + " bytes uncompressed from " + std::to_string(n) +
                    ": refusing as corrupt");
  switch (codec) {
    case UNCOMPRESSED:
      if (n != expected) fail(where, "uncompressed page holds " + std::to_string(n) + " bytes, its header says " + std::to_string(expected));
      out.assign(src, src + n);
      return;
    case SNAPPY:
      snappy::decompress(src, n, expected, out, where);
      return;
    case GZIP: {
      out.resize(expected + 1);  // one spare byte shows a stream longer than declared
      z_stream zs{};
      if (inflateInit2(&zs, 15 + 32) != Z_OK) fail(where, "cannot start zlib");  // +32: gzip or zlib header
      zs.next_in = const_cast<Bytef*>(src);
      zs.avail_in = uInt(n);
      zs.next_out = out.data();
      zs.avail_out = uInt(out.size());
      for (;;) {
        int rc = inflate(&zs, Z_NO_FLUSH);
        if (rc == Z_STREAM_END) {
          if (zs.avail_in > 0 && zs.avail_out > 0 && inflateReset(&zs) == Z_OK) continue;  // another gzip member
          break;
        }
        if (rc != Z_OK) {
          std::string msg = zs.msg ? zs.msg : "truncated or longer than declared";
          inflateEnd(&zs);
          fail(where, "corrupt GZIP data: " + msg);
        }
      }
      size_t got = out.size() - zs.avail_out;
      inflateEnd(&zs);
      if (got != expected)
        fail(where, "GZIP page inflates to " + std::string(got > expected ? "more than " : "") + std::to_string(got) +
                        " bytes, its header says " + std::to_string(expected));
      out.resize(expected);
      return;
    }
    case ZSTD: {
      out.resize(std::max<size_t>(expected, 1));
      size_t got = ZSTD_decompress(out.data(), expected, src, n);
      if (ZSTD_isError(got)) fail(where, std::string("corrupt ZSTD data: ") + ZSTD_getErrorName(got));
      if (got != expected) fail(where, "ZSTD page holds " + std::to_string(got) + " bytes, its header says " + std::to_string(expected));
      out.resize(expected);
      return;
    }
    default:
      fail(where, "compression " + codec_name(codec) + " is not supported (only UNCOMPRESSED, SNAPPY, GZIP, ZSTD)");
  }
}

// ---- schema --------------------------------------------------------------------------------------

// The schema as JSON sees it: LIST and MAP groups become one LIST node whatever their levels.
struct Node {
  enum Type { LEAF, STRUCT, LIST } type = LEAF;
  std::string name;
  bool nullable = false;  // may be null at its own level
  int def = 0;            // definition level when present
  int elem_def = 0;       // LIST: the definition level when it has at least one element
  int elem_rep = 0;       // LIST: the repetition level that starts another element
  int column = -1;        // LEAF: its index among the leaves
  int first_leaf = 0, leaf_end = 0;
  std::vector<Node> children;
};

// The flat depth-first SchemaElement list as a tree of indices.
struct RawNode {
  size_t index;
  std::vector<RawNode> kids;
};

class SchemaBuilder {
 public:
  SchemaBuilder(const std::vector<SchemaElement>& els, const std::string& file) : els_(els), file_(file) {}

  Node build(std::vector<Leaf>& leaves) {
    if (els_.empty()) fail(file_, "the schema is empty");
    size_t next = 0;
    RawNode root = raw(next, 0);
    if (next != els_.size()) fail(file_, "schema has " + std::to_string(els_.size() - next) + " elements outside the root");
    Node top;
    top.type = Node::STRUCT;
    for (const RawNode& k : root.kids) top.children.push_back(convert(k, 0, 0, false, "", leaves));
    top.leaf_end = int(leaves.size());
    return top;
  }

 private:
  RawNode raw(size_t& next, int depth) {
    if (depth > kMaxSchemaDepth) fail(file_, "schema nested deeper than " + std::to_string(kMaxSchemaDepth));
    if (next >= els_.size()) fail(file_, "schema ends inside a group");
    RawNode n{next++, {}};
    const SchemaElement& e = els_[n.index];
    if (e.num_children < 0 || size_t(e.num_children) > els_.size() - next)
      fail(file_, "schema element '" + e.name + "' claims " + std::to_string(e.num_children) + " children");
    for (int i = 0; i < e.num_children; ++i) n.kids.push_back(raw(next, depth + 1));
    return n;
  }

  static bool is_group(const SchemaElement& e) { return !e.type.has_value(); }

  Kind leaf_kind(const SchemaElement& e, const std::string& path) {
    const int ct = e.converted_type.value_or(-1);
    const int lt = e.logical.kind;
    auto unsupported = [&](const std::string& what) -> Kind {
      fail(file_, "column '" + path + "': " + what + " is not supported");
    };
    if (ct == CT_DECIMAL || lt == LT_DECIMAL) unsupported("DECIMAL");
    if (ct == CT_INTERVAL) unsupported("INTERVAL");
    if (lt == LT_FLOAT16) unsupported("FLOAT16");
    if (lt == LT_UUID) unsupported("UUID");
    if (lt == LT_VARIANT || lt == LT_GEOMETRY || lt == LT_GEOGRAPHY) unsupported("logical type " + std::to_string(lt));
    const bool is_unsigned = (lt == LT_INTEGER && !e.logical.is_signed) || (ct >= CT_UINT_8 && ct <= CT_UINT_64);
    switch (*e.type) {
      case BOOLEAN: return Kind::Bool;
      case INT32: return is_unsigned ? Kind::UInt32 : Kind::Int32;
      case INT64: return is_unsigned ? Kind::UInt64 : Kind::Int64;
      case INT96: return unsupported("INT96 (legacy timestamps)");
      case FLOAT: return Kind::Float;
      case DOUBLE: return Kind::Double;
      case BYTE_ARRAY: {
        bool text = lt == LT_STRING || lt == LT_ENUM || lt == LT_JSON || ct == CT_UTF8 || ct == CT_ENUM || ct == CT_JSON;
        return text ? Kind::String : Kind::Binary;
      }
      case FIXED_LEN_BYTE_ARRAY:
        if (e.type_length < 0) fail(file_, "column '" + path + "': negative fixed length");
        return Kind::Binary;
      default:
        return unsupported("physical type " + std::to_string(*e.type));
    }
  }

  static void set_leaf_range(Node& n) {
    n.first_leaf = n.children.front().first_leaf;
    n.leaf_end = n.children.back().leaf_end;
  }

  // `counted`: this element's own repetition is already in pdef/prep (it is the repeated field
  // of a list), so it reads as required.
  Node convert(const RawNode& r, int pdef, int prep, bool counted, const std::string& prefix, std::vector<Leaf>& leaves) {
    const SchemaElement& e = els_[r.index];
    const int repetition = e.repetition.value_or(REQUIRED);
    const std::string path = prefix.empty() ? e.name : prefix + "." + e.name;
    if (!counted && repetition == REPEATED) {
      // A repeated field outside a LIST group: a required list of required elements.
      Node list;
      list.type = Node::LIST;
      list.name = e.name;
      list.def = pdef;
      list.elem_def = pdef + 1;
      list.elem_rep = prep + 1;
      list.children.push_back(convert(r, pdef + 1, prep + 1, true, prefix, leaves));
      set_leaf_range(list);
      return list;
    }
    Node n;
    n.name = e.name;
    n.nullable = !counted && repetition == OPTIONAL;
    n.def = pdef + (n.nullable ? 1 : 0);
    const int rep = prep;
    if (!is_group(e)) {
      Leaf leaf;
      leaf.path = path;
      leaf.physical = *e.type;
      leaf.type_length = e.type_length;
      leaf.kind = leaf_kind(e, path);
      leaf.max_def = n.def;
      leaf.max_rep = rep;
      n.type = Node::LEAF;
      n.column = n.first_leaf = int(leaves.size());
      n.leaf_end = n.first_leaf + 1;
      leaves.push_back(leaf);
      return n;
    }
    if (r.kids.empty()) fail(file_, "group '" + path + "' has no fields");
    const int ct = e.converted_type.value_or(-1);
    const bool is_list = ct == CT_LIST || e.logical.kind == LT_LIST;
    const bool is_map = ct == CT_MAP || ct == CT_MAP_KEY_VALUE || e.logical.kind == LT_MAP;
    if (!is_list && !is_map) {
      n.type = Node::STRUCT;
      for (const RawNode& k : r.kids) n.children.push_back(convert(k, n.def, rep, false, path, leaves));
      set_leaf_range(n);
      return n;
    }
    const char* what = is_list ? "LIST" : "MAP";
    if (r.kids.size() != 1 || els_[r.kids[0].index].repetition.value_or(REQUIRED) != REPEATED)
      fail(file_, std::string(what) + " group '" + path + "' must hold exactly one repeated field");
    const RawNode& rr = r.kids[0];
    const SchemaElement& re = els_[rr.index];
    n.type = Node::LIST;
    n.elem_def = n.def + 1;
    n.elem_rep = rep + 1;
    if (is_map) {
      if (!is_group(re) || rr.kids.size() != 2)
        fail(file_, "MAP group '" + path + "' must hold a repeated group of a key and a value");
      Node kv;
      kv.type = Node::STRUCT;
      kv.name = re.name;
      kv.def = n.elem_def;
      const std::string kv_path = path + "." + re.name;
      kv.children.push_back(convert(rr.kids[0], n.elem_def, n.elem_rep, false, kv_path, leaves));
      kv.children.push_back(convert(rr.kids[1], n.elem_def, n.elem_rep, false, kv_path, leaves));
      kv.children[0].name = "key";
      kv.children[1].name = "value";
      set_leaf_range(kv);
      n.children.push_back(std::move(kv));
    } else {
      // parquet-format's backward-compatibility rules: the repeated field is itself the element
      // (2-level list) when it is a primitive, a group of several fields, or named "array" or
      // "<list>_tuple"; otherwise its one child is the element (3-level list).
      const bool two_level = !is_group(re) || rr.kids.size() != 1 || re.name == "array" || re.name == e.name + "_tuple";
      if (two_level) n.children.push_back(convert(rr, n.elem_def, n.elem_rep, true, path, leaves));
      else n.children.push_back(convert(rr.kids[0], n.elem_def, n.elem_rep, false, path + "." + re.name, leaves));
    }
    set_leaf_range(n);
    return n;
  }

  const std::vector<SchemaElement>& els_;
  const std::string& file_;
};

// ---- column chunks -------------------------------------------------------------------------------

// One leaf column of one row group, decoded: a level pair per entry, a value per non-null entry.
struct ColumnData {
  std::vector<uint32_t> rep, def;  // empty when the column's max level is 0
  std::vector<json> values;
  size_t count = 0;  // level entries
  size_t pos = 0;    // assembly cursor over entries
  size_t vpos = 0;   // assembly cursor over values
};

class FileReader {
 public:
  explicit FileReader(const std::string& path) : path_(path), file_(path) {
    data_ = reinterpret_cast<const uint8_t*>(file_.data());
    size_ = file_.size();
  }

  void scan(const std::function<void(std::vector<json>&&, int64_t)>& sink) {
    if (size_ < 12 || std::memcmp(data_, "PAR1", 4) != 0) {
      if (size_ >= 4 && std::memcmp(data_, "PARE", 4) == 0) fail(path_, "encrypted Parquet files are not supported");
      fail(path_, "not a Parquet file (no PAR1 magic at its start)");
    }
    if (std::memcmp(data_ + size_ - 4, "PAR1", 4) != 0)
      fail(path_, "truncated or not a Parquet file (no PAR1 magic at its end)");
    uint32_t footer_len = load_le<uint32_t>(data_ + size_ - 8);
    if (footer_len > size_ - 12)
      fail(path_, "footer length " + std::to_string(footer_len) + " runs past the start of the " +
                      std::to_string(size_) + "-byte file (truncated?)");
    footer_start_ = size_ - 8 - footer_len;
    FileMetaData meta = read_file_metadata(data_ + footer_start_, footer_len, path_ + ": footer");
    std::vector<Leaf> leaves;
    Node root = SchemaBuilder(meta.schema, path_).build(leaves);

    if (leaves.empty()) {
      if (meta.num_rows != 0) fail(path_, "the schema has no columns but the file claims rows");
      return;
    }
    int64_t total = 0;
    for (size_t g = 0; g < meta.row_groups.size(); ++g) {
      const RowGroup& rg = meta.row_groups[g];
      const std::string gwhere = path_ + ": row group " + std::to_string(g);
      if (rg.columns.size() != leaves.size())
        fail(gwhere, "has " + std::to_string(rg.columns.size()) + " column chunks, the schema " + std::to_string(leaves.size()) + " columns");
      if (rg.num_rows < 0) fail(gwhere, "negative row count");
      if (rg.num_rows > meta.num_rows - total)
        fail(gwhere, "row groups hold more rows than the footer's " + std::to_string(meta.num_rows));
      std::vector<json> rows;
      {
        std::vector<ColumnData> cols(leaves.size());
        for (size_t c = 0; c < leaves.size(); ++c) cols[c] = read_chunk(rg, g, rg.columns[c], leaves[c]);
        assemble(root, leaves, cols, rg.num_rows, gwhere, rows);
      }
      sink(std::move(rows), total);
      total += rg.num_rows;
    }
    if (total != meta.num_rows)
      fail(path_, "row groups hold " + std::to_string(total) + " rows, the footer says " + std::to_string(meta.num_rows));
  }

 private:
  ColumnData read_chunk(const RowGroup& rg, size_t g, const ColumnChunk& chunk, const Leaf& leaf) {
    const std::string where = path_ + ": column '" + leaf.path + "' (row group " + std::to_string(g) + ")";
    if (!chunk.file_path.empty()) fail(where, "column data in another file ('" + chunk.file_path + "') is not supported");
    if (!chunk.meta_data) fail(where, "no column metadata (encrypted?)");
    const ColumnMetaData& m = *chunk.meta_data;
    std::string joined;
    for (const auto& p : m.path_in_schema) joined += (joined.empty() ? "" : ".") + p;
    if (joined != leaf.path) fail(where, "chunk metadata names column '" + joined + "'");
    if (m.type != leaf.physical) fail(where, "chunk's physical type differs from the schema's");
    if (!codec_supported(m.codec))
      fail(where, "compression " + codec_name(m.codec) + " is not supported (only UNCOMPRESSED, SNAPPY, GZIP, ZSTD)");
    if (m.num_values < 0) fail(where, "negative value count");
    if (leaf.max_rep == 0 && m.num_values != rg.num_rows)
      fail(where, "holds " + std::to_string(m.num_values) + " values for " + std::to_string(rg.num_rows) + " rows");

    ColumnData col;
    if (m.num_values == 0) return col;  // (pyarrow writes empty row groups with offset 0)
    int64_t start = m.data_page_offset;
    if (m.dictionary_page_offset && *m.dictionary_page_offset > 0 && *m.dictionary_page_offset < start)
      start = *m.dictionary_page_offset;
    if (start < 4 || m.total_compressed_size < 0 || uint64_t(start) > footer_start_ ||
        uint64_t(m.total_compressed_size) > footer_start_ - uint64_t(start))
      fail(where, "chunk at offset " + std::to_string(start) + " of " + std::to_string(m.total_compressed_size) +
                      " bytes lies outside the file's data");
    size_t pos = size_t(start);
    const size_t end = pos + size_t(m.total_compressed_size);

    std::vector<json> dict;
    bool have_dict = false;
    std::vector<uint8_t> page, values_buf;
    int64_t seen = 0;
    for (int page_no = 0; seen < m.num_values; ++page_no) {
      const std::string pwhere = where.substr(0, where.size() - 1) + ", page " + std::to_string(page_no) + ")";
      if (pos >= end)
        fail(where, "chunk ends after " + std::to_string(seen) + " of its " + std::to_string(m.num_values) + " values");
      size_t hlen = 0;
      PageHeader h = read_page_header(data_ + pos, end - pos, &hlen, pwhere + ": page header");
      pos += hlen;
      if (h.compressed_page_size < 0 || size_t(h.compressed_page_size) > end - pos || h.uncompressed_page_size < 0)
        fail(pwhere, "page of " + std::to_string(h.compressed_page_size) + " bytes runs past its column chunk");
      const uint8_t* body = data_ + pos;
      const size_t body_n = size_t(h.compressed_page_size);
      pos += body_n;

      if (h.type == DICTIONARY_PAGE) {
        if (!h.dictionary_page) fail(pwhere, "dictionary page without its header");
        if (have_dict) fail(pwhere, "a second dictionary page");
        const auto& dh = *h.dictionary_page;
        if (dh.encoding != PLAIN && dh.encoding != PLAIN_DICTIONARY)
          fail(pwhere, "dictionary page encoding " + std::to_string(dh.encoding) + " is not supported");
        if (dh.num_values < 0 || dh.num_values > kMaxPageValues) fail(pwhere, "implausible dictionary size");
        decompress(m.codec, body, body_n, size_t(h.uncompressed_page_size), page, pwhere);
        decode_plain(leaf, page.data(), page.size(), size_t(dh.num_values), dict, pwhere);
        have_dict = true;
        continue;
      }
      if (h.type != DATA_PAGE && h.type != DATA_PAGE_V2) continue;  // index pages and unknown kinds

      int64_t n;
      int encoding_id;
      const uint8_t* levels;  // repetition levels, then definition levels
      size_t rep_len = 0, def_len = 0;
      const uint8_t* vals;
      size_t vals_n;
      bool prefixed;  // v1: each level run is preceded by its 4-byte length
      if (h.type == DATA_PAGE) {
        if (!h.data_page) fail(pwhere, "data page without its header");
        const auto& dp = *h.data_page;
        n = dp.num_values;
        encoding_id = dp.encoding;
        if ((leaf.max_rep > 0 && dp.repetition_level_encoding != RLE) || (leaf.max_def > 0 && dp.definition_level_encoding != RLE))
          fail(pwhere, "level encoding other than RLE (BIT_PACKED) is not supported");
        decompress(m.codec, body, body_n, size_t(h.uncompressed_page_size), page, pwhere);
        levels = page.data();
        size_t at = 0;
        for (int which = 0; which < 2; ++which) {
          int max = which == 0 ? leaf.max_rep : leaf.max_def;
          if (max == 0) continue;
          if (page.size() - at < 4) fail(pwhere, "page ends inside its level lengths");
          uint32_t len = load_le<uint32_t>(page.data() + at);
          if (len > page.size() - at - 4) fail(pwhere, "levels run past the page");
          (which == 0 ? rep_len : def_len) = len;
          at += 4 + len;
        }
        vals = page.data() + at;
        vals_n = page.size() - at;
        prefixed = true;
      } else {
        if (!h.data_page_v2) fail(pwhere, "data page v2 without its header");
        const auto& dp = *h.data_page_v2;
        n = dp.num_values;
        encoding_id = dp.encoding;
        if (dp.repetition_levels_byte_length < 0 || dp.definition_levels_byte_length < 0 ||
            size_t(dp.repetition_levels_byte_length) + size_t(dp.definition_levels_byte_length) > body_n ||
            int64_t(dp.repetition_levels_byte_length) + dp.definition_levels_byte_length > h.uncompressed_page_size)
          fail(pwhere, "level lengths run past the page");
        rep_len = size_t(dp.repetition_levels_byte_length);
        def_len = size_t(dp.definition_levels_byte_length);
        levels = body;  // v2 levels are never compressed
        const size_t lv = rep_len + def_len;
        const size_t want = size_t(h.uncompressed_page_size) - lv;
        if (dp.is_compressed && m.codec != UNCOMPRESSED) {
          decompress(m.codec, body + lv, body_n - lv, want, values_buf, pwhere);
        } else {
          if (body_n - lv != want) fail(pwhere, "uncompressed page size differs from its header");
          values_buf.assign(body + lv, body + body_n);
        }
        vals = values_buf.data();
        vals_n = values_buf.size();
        prefixed = false;
      }
      if (n < 0 || n > kMaxPageValues || n > m.num_values - seen)
        fail(pwhere, "page claims " + std::to_string(n) + " values, the chunk has " + std::to_string(m.num_values - seen) + " left");
      const size_t cnt = size_t(n);

      // Levels.
      const uint8_t* lp = levels;
      for (int which = 0; which < 2; ++which) {
        const int max = which == 0 ? leaf.max_rep : leaf.max_def;
        const size_t len = which == 0 ? rep_len : def_len;
        if (prefixed && max > 0) lp += 4;
        if (max > 0) {
          std::vector<uint32_t>& out = which == 0 ? col.rep : col.def;
          const size_t before = out.size();
          encoding::rle_hybrid(lp, len, encoding::bit_width(uint64_t(max)), cnt, out,
                               pwhere + (which == 0 ? ": repetition levels" : ": definition levels"));
          for (size_t i = before; i < out.size(); ++i)
            if (out[i] > uint32_t(max)) fail(pwhere, "level " + std::to_string(out[i]) + " above the column's maximum " + std::to_string(max));
          if (which == 0 && cnt > 0 && out[before] != 0 && col.count == 0)
            fail(pwhere, "the column chunk does not start a row");
        }
        lp += len;
      }
      size_t non_null = cnt;
      if (leaf.max_def > 0)
        non_null = size_t(std::count(col.def.end() - std::ptrdiff_t(cnt), col.def.end(), uint32_t(leaf.max_def)));
      decode_values(leaf, encoding_id, vals, vals_n, non_null, have_dict ? &dict : nullptr, col.values, pwhere);
      col.count += cnt;
      seen += n;
    }
    return col;
  }

  // ---- record assembly ---------------------------------------------------------------------------

  struct Assembler {
    const std::vector<Leaf>& leaves;
    std::vector<ColumnData>& cols;
    const std::string& where;
    int64_t row = 0;

    [[noreturn]] void corrupt(int c, const std::string& msg) {
      fail(where, "column '" + leaves[size_t(c)].path + "', row " + std::to_string(row) + ": " + msg);
    }
    int def_at(int c) {
      ColumnData& d = cols[size_t(c)];
      if (d.pos >= d.count) corrupt(c, "the column ends early");
      return d.def.empty() ? leaves[size_t(c)].max_def : int(d.def[d.pos]);
    }
    int rep_at(int c) {
      const ColumnData& d = cols[size_t(c)];
      return d.rep.empty() ? 0 : int(d.rep[d.pos]);
    }
    // A null or empty node: every leaf below it holds one entry for it, none a value.
    void skip(const Node& n, int below) {
      for (int c = n.first_leaf; c < n.leaf_end; ++c) {
        if (def_at(c) >= below) corrupt(c, "levels disagree between columns of one group");
        cols[size_t(c)].pos++;
      }
    }
    json value(const Node& n) {
      const int d = def_at(n.first_leaf);
      if (n.nullable && d < n.def) {
        skip(n, n.def);
        return nullptr;
      }
      switch (n.type) {
        case Node::LEAF: {
          ColumnData& col = cols[size_t(n.column)];
          if (d != leaves[size_t(n.column)].max_def) corrupt(n.column, "a required value is missing");
          if (col.vpos >= col.values.size()) corrupt(n.column, "fewer values than levels say");
          col.pos++;
          return std::move(col.values[col.vpos++]);
        }
        case Node::STRUCT: {
          json obj = json::object();
          for (const Node& k : n.children) obj[k.name] = value(k);
          return obj;
        }
        case Node::LIST: {
          json arr = json::array();
          if (d < n.elem_def) {
            skip(n, n.elem_def);
            return arr;
          }
          const int lead = n.first_leaf;
          do {
            arr.push_back(value(n.children[0]));
          } while (cols[size_t(lead)].pos < cols[size_t(lead)].count && rep_at(lead) == n.elem_rep);
          return arr;
        }
      }
      return nullptr;
    }
  };

  void assemble(const Node& root, const std::vector<Leaf>& leaves, std::vector<ColumnData>& cols, int64_t num_rows,
                const std::string& where, std::vector<json>& rows) {
    Assembler a{leaves, cols, where};
    size_t entries = 0;
    for (const auto& c : cols) entries = std::max(entries, c.count);
    if (uint64_t(num_rows) > entries) fail(where, "claims " + std::to_string(num_rows) + " rows, its columns hold " + std::to_string(entries) + " entries");
    rows.reserve(rows.size() + size_t(num_rows));
    for (int64_t r = 0; r < num_rows; ++r) {
      a.row = r;
      for (int c = 0; c < int(leaves.size()); ++c)
        if (a.def_at(c) >= 0 && a.rep_at(c) != 0) a.corrupt(c, "repetition levels do not start a new row here");
      json obj = json::object();
      for (const Node& k : root.children) obj[k.name] = a.value(k);
      rows.push_back(std::move(obj));
    }
    for (size_t c = 0; c < cols.size(); ++c)
      if (cols[c].pos != cols[c].count || cols[c].vpos != cols[c].values.size())
        fail(where, "column '" + leaves[c].path + "' holds more entries than the row group's " + std::to_string(num_rows) + " rows");
  }

  std::string path_;
  data::MappedFile file_;
  const uint8_t* data_ = nullptr;
  size_t size_ = 0;
  size_t footer_start_ = 0;
};

}  // namespace

void for_each_row_group(const std::string& path,
                        const std::function<void(std::vector<nlohmann::json>&& rows, int64_t first_row)>& sink) {
  FileReader(path).scan(sink);
}

std::vector<nlohmann::json> read_rows(const std::string& path) {
  std::vector<json> all;
  for_each_row_group(path, [&all](std::vector<json>&& rows, int64_t) {
    if (all.empty()) {
      all = std::move(rows);
    } else {
      all.insert(all.end(), std::make_move_iterator(rows.begin()), std::make_move_iterator(rows.end()));
    }
  });
  return all;
}

}  // namespace packbench::parquet
