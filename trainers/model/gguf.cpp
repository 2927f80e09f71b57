// GGUF reader: parses and validates the header, metadata and tensor infos of a mapped file.
#include "trainers/model/gguf.h"

#include <algorithm>
#include <cstring>
#include <limits>

#include <fmt/core.h>

#include "core/error.h"
#include "core/mapped_file.h"

namespace packbench::train {

namespace {

constexpr uint32_t kMagic = 0x46554747;  // "GGUF" read as a little-endian uint32
constexpr uint32_t kMaxDims = 4;         // GGML_MAX_DIMS
constexpr uint32_t kMaxDepth = 8;        // arrays of arrays, nested at most this deep

// Reads little-endian values from the mapped bytes; every read checks the bytes are there.
class Cursor {
 public:
  Cursor(const uint8_t* data, uint64_t size) : data_(data), size_(size) {}
  uint64_t pos() const { return pos_; }
  uint64_t left() const { return size_ - pos_; }

  // `what` names the file and what was being read, for the message.
  void need(uint64_t n, const std::string& what) const {
    if (n > left())
      throw Error(fmt::format("{}: truncated: needs {} bytes at offset {}, the file has {} bytes", what, n, pos_, size_));
  }
  template <class T>
  T read(const std::string& what) {
    need(sizeof(T), what);
    T v;
    std::memcpy(&v, data_ + pos_, sizeof(T));
    pos_ += sizeof(T);
    return v;
  }
  std::string read_string(const std::string& what) {
    const uint64_t n = read<uint64_t>(what + " (string length)");
    need(n, what + " (" + std::to_string(n) + "-byte string)");
    std::string s(reinterpret_cast<const char*>(data_ + pos_), n);
    pos_ += n;
    return s;
  }

 private:
  const uint8_t* data_;
  uint64_t size_, pos_ = 0;
};

// Smallest encoded size of one value of a type (to refuse array counts the file cannot hold).
uint64_t min_encoded_size(GgufType t) {
  switch (t) {
    case GgufType::kUint8: case GgufType::kInt8: case GgufType::kBool: return 1;
    case GgufType::kUint16: case GgufType::kInt16: return 2;
    case GgufType::kUint32: case GgufType::kInt32: case GgufType::kFloat32: return 4;
    case GgufType::kUint64: case GgufType::kInt64: case GgufType::kFloat64: case GgufType::kString: return 8;
    case GgufType::kArray: return 12;  // element type + count
  }
  return 1;
}

bool known_value_type(uint32_t t) { return t <= static_cast<uint32_t>(GgufType::kFloat64); }

GgufValue read_value(Cursor& c, GgufType type, const std::string& what, uint32_t depth) {
  GgufValue v;
  v.type = type;
  switch (type) {
    case GgufType::kUint8: v.u = c.read<uint8_t>(what); break;
    case GgufType::kInt8: v.i = c.read<int8_t>(what); break;
    case GgufType::kUint16: v.u = c.read<uint16_t>(what); break;
    case GgufType::kInt16: v.i = c.read<int16_t>(what); break;
    case GgufType::kUint32: v.u = c.read<uint32_t>(what); break;
    case GgufType::kInt32: v.i = c.read<int32_t>(what); break;
    case GgufType::kUint64: v.u = c.read<uint64_t>(what); break;
    case GgufType::kInt64: v.i = c.read<int64_t>(what); break;
    case GgufType::kFloat32: v.f = c.read<float>(what); break;
    case GgufType::kFloat64: v.f = c.read<double>(what); break;
    case GgufType::kBool: {
      const uint8_t b = c.read<uint8_t>(what);
      if (b > 1) throw Error(what + ": BOOL value " + std::to_string(b) + " is neither 0 nor 1");
      v.b = b != 0;
      break;
    }
    case GgufType::kString: v.s = c.read_string(what); break;
    case GgufType::kArray: {
      if (depth >= kMaxDepth) throw Error(what + ": arrays nested more than " + std::to_string(kMaxDepth) + " deep");
      const uint32_t et = c.read<uint32_t>(what + " (array element type)");
      if (!known_value_type(et)) throw Error(what + ": unknown array element type " + std::to_string(et));
      v.elem_type = static_cast<GgufType>(et);
      const uint64_t n = c.read<uint64_t>(what + " (array length)");
      if (n > c.left() / min_encoded_size(v.elem_type))
        throw Error(fmt::format("{}: truncated: an array of {} {} values cannot fit in the {} bytes left", what, n,
                                gguf_type_name(v.elem_type), c.left()));
      v.items.reserve(n);
      for (uint64_t k = 0; k < n; ++k) v.items.push_back(read_value(c, v.elem_type, what, depth + 1));
      break;
    }
  }
  return v;
}

std::string dims_text(const std::vector<int64_t>& ne) {
  std::string s = "[";
  for (size_t i = 0; i < ne.size(); ++i) s += (i ? ", " : "") + std::to_string(ne[i]);
  return s + "]";
}

}  // namespace

// ---------------------------------------------------------------------------------------------
// Types
// ---------------------------------------------------------------------------------------------

const GgmlTypeInfo* ggml_type_info(uint32_t type) {
  static const GgmlTypeInfo kUnknown{nullptr, 0, 0};
  static const GgmlTypeInfo table[] = {
      {"F32", 1, 4},          {"F16", 1, 2},           {"Q4_0", 32, 18},       {"Q4_1", 32, 20},
      kUnknown,               kUnknown,                {"Q5_0", 32, 22},       {"Q5_1", 32, 24},
      {"Q8_0", 32, 34},       {"Q8_1", 32, 40},        {"Q2_K", 256, 84},      {"Q3_K", 256, 110},
      {"Q4_K", 256, 144},     {"Q5_K", 256, 176},      {"Q6_K", 256, 210},     {"Q8_K", 256, 292},
      {"IQ2_XXS", 256, 66},   {"IQ2_XS", 256, 74},     {"IQ3_XXS", 256, 98},   {"IQ1_S", 256, 50},
      {"IQ4_NL", 32, 18},     {"IQ3_S", 256, 110},     {"IQ2_S", 256, 82},     {"IQ4_XS", 256, 136},
      {"I8", 1, 1},           {"I16", 1, 2},           {"I32", 1, 4},          {"I64", 1, 8},
      {"F64", 1, 8},          {"IQ1_M", 256, 56},      {"BF16", 1, 2},         kUnknown,
      kUnknown,               kUnknown,                {"TQ1_0", 256, 54},     {"TQ2_0", 256, 66},
      kUnknown,               kUnknown,                kUnknown,               {"MXFP4", 32, 17},
  };
  if (type >= sizeof(table) / sizeof(table[0]) || table[type].name == nullptr) return nullptr;
  return &table[type];
}

std::string ggml_type_name(GgmlType type) {
  const GgmlTypeInfo* t = ggml_type_info(static_cast<uint32_t>(type));
  return t ? t->name : "type " + std::to_string(static_cast<uint32_t>(type));
}

const char* gguf_type_name(GgufType type) {
  static const char* names[] = {"UINT8", "INT8",   "UINT16", "INT16", "UINT32", "INT32", "FLOAT32",
                                "BOOL",  "STRING", "ARRAY",  "UINT64", "INT64", "FLOAT64"};
  const auto t = static_cast<uint32_t>(type);
  return t < 13 ? names[t] : "UNKNOWN";
}

bool GgufValue::is_integer() const {
  switch (type) {
    case GgufType::kUint8: case GgufType::kInt8: case GgufType::kUint16: case GgufType::kInt16:
    case GgufType::kUint32: case GgufType::kInt32: case GgufType::kUint64: case GgufType::kInt64: return true;
    default: return false;
  }
}

int64_t GgufTensorInfo::numel() const {
  int64_t n = 1;
  for (int64_t d : ne) n *= d;
  return n;
}

std::vector<int64_t> GgufTensorInfo::shape() const { return {ne.rbegin(), ne.rend()}; }

// ---------------------------------------------------------------------------------------------
// The file
// ---------------------------------------------------------------------------------------------

GgufFile::GgufFile(const std::string& path) : path_(path) {
  map_ = std::make_unique<data::MappedFile>(path);
  const auto* bytes = reinterpret_cast<const uint8_t*>(map_->data());
  Cursor c(bytes, map_->size());

  const uint32_t magic = c.read<uint32_t>(path_ + ": the magic number");
  if (magic != kMagic) throw Error(path_ + ": not a GGUF file (the first 4 bytes are not \"GGUF\")");
  version_ = c.read<uint32_t>(path_ + ": the version");
  if (version_ == 1) throw Error(path_ + ": GGUF version 1 (32-bit counts) is not supported; convert the file again with current llama.cpp");
  if (version_ != 2 && version_ != 3) throw Error(path_ + ": unknown GGUF version " + std::to_string(version_) + " (expected 2 or 3)");
  const uint64_t n_tensors = c.read<uint64_t>(path_ + ": the tensor count");
  const uint64_t n_kv = c.read<uint64_t>(path_ + ": the metadata count");
  for (uint64_t k = 0; k < n_kv; ++k) {
    const std::string key = c.read_string(fmt::format("{}: the key of metadata entry {}", path_, k));
    const std::string what = path_ + ": metadata key '" + key + "'";
    if (values_.count(key)) throw Error(what + ": appears twice");
    const uint32_t t = c.read<uint32_t>(what + " (value type)");
    if (!known_value_type(t)) throw Error(what + ": unknown value type " + std::to_string(t));
    values_.emplace(key, read_value(c, static_cast<GgufType>(t), what, 0));
    keys_.push_back(key);
  }

  if (const GgufValue* a = find("general.alignment")) {
    if (a->type != GgufType::kUint32) throw Error(path_ + ": metadata key 'general.alignment': expected UINT32, got " + gguf_type_name(a->type));
    if (a->u == 0 || (a->u & (a->u - 1)) != 0)
      throw Error(path_ + ": metadata key 'general.alignment': " + std::to_string(a->u) + " is not a power of two");
    alignment_ = a->u;
  }

  tensors_.reserve(std::min<uint64_t>(n_tensors, c.left() / 24));  // each info takes at least 24 bytes
  for (uint64_t k = 0; k < n_tensors; ++k) {
    GgufTensorInfo t;
    t.name = c.read_string(fmt::format("{}: the name of tensor {}", path_, k));
    const std::string what = path_ + ": tensor '" + t.name + "'";
    if (tensor_index_.count(t.name)) throw Error(what + ": appears twice");
    const uint32_t n_dims = c.read<uint32_t>(what + " (number of dims)");
    if (n_dims == 0 || n_dims > kMaxDims) throw Error(what + ": " + std::to_string(n_dims) + " dims (expected 1 to 4)");
    for (uint32_t d = 0; d < n_dims; ++d) {
      const uint64_t v = c.read<uint64_t>(what + " (dims)");
      if (v == 0 || v > static_cast<uint64_t>(std::numeric_limits<int64_t>::max() / 2))
        throw Error(what + ": dim " + std::to_string(d) + " is " + std::to_string(v));
      t.ne.push_back(static_cast<int64_t>(v));
    }
    const uint32_t type = c.read<uint32_t>(what + " (type)");
    const GgmlTypeInfo* info = ggml_type_info(type);
    if (!info) throw Error(what + ": unknown tensor type " + std::to_string(type));
    t.type = static_cast<GgmlType>(type);
    t.offset = c.read<uint64_t>(what + " (data offset)");
    if (t.ne[0] % info->block_size != 0)
      throw Error(fmt::format("{}: dims {}: the first dim is not a multiple of {}'s block size {}", what, dims_text(t.ne),
                              info->name, info->block_size));
    // numel and bytes without overflow: every partial product stays below 2^62.
    uint64_t blocks = static_cast<uint64_t>(t.ne[0] / info->block_size);
    for (size_t d = 1; d < t.ne.size(); ++d) {
      if (blocks > (uint64_t{1} << 62) / static_cast<uint64_t>(t.ne[d])) throw Error(what + ": dims " + dims_text(t.ne) + " are too large");
      blocks *= static_cast<uint64_t>(t.ne[d]);
    }
    if (blocks > (uint64_t{1} << 62) / static_cast<uint64_t>(info->type_size)) throw Error(what + ": dims " + dims_text(t.ne) + " are too large");
    t.nbytes = blocks * static_cast<uint64_t>(info->type_size);
    if (t.offset % alignment_ != 0)
      throw Error(fmt::format("{}: data offset {} is not a multiple of the alignment {}", what, t.offset, alignment_));
    tensor_index_[t.name] = tensors_.size();
    tensors_.push_back(std::move(t));
  }

  data_offset_ = (c.pos() + alignment_ - 1) / alignment_ * alignment_;
  const uint64_t size = map_->size();
  if (data_offset_ > size && !tensors_.empty())
    throw Error(fmt::format("{}: truncated: the tensor data section would start at offset {}, the file has {} bytes", path_,
                            data_offset_, size));
  const uint64_t data_bytes = size > data_offset_ ? size - data_offset_ : 0;
  std::vector<const GgufTensorInfo*> by_offset;
  for (GgufTensorInfo& t : tensors_) {
    if (t.offset > data_bytes || t.nbytes > data_bytes - t.offset)
      throw Error(fmt::format("{}: truncated: tensor '{}' ({} {}, {} bytes at data offset {}) ends past the end of the file ({} bytes of tensor data)",
                              path_, t.name, ggml_type_name(t.type), dims_text(t.ne), t.nbytes, t.offset, data_bytes));
    t.data = bytes + data_offset_ + t.offset;
    by_offset.push_back(&t);
  }
  std::sort(by_offset.begin(), by_offset.end(), [](auto* a, auto* b) { return a->offset < b->offset; });
  for (size_t i = 1; i < by_offset.size(); ++i) {
    if (by_offset[i - 1]->offset + by_offset[i - 1]->nbytes > by_offset[i]->offset)
      throw Error(path_ + ": tensors '" + by_offset[i - 1]->name + "' and '" + by_offset[i]->name + "' overlap");
  }
}

GgufFile::~GgufFile() = default;

uint64_t GgufFile::file_size() const { return map_->size(); }

const GgufValue* GgufFile::find(const std::string& key) const {
  auto it = values_.find(key);
  return it == values_.end() ? nullptr : &it->second;
}

const GgufValue& GgufFile::at(const std::string& key) const {
  const GgufValue* v = find(key);
  if (!v) throw Error(path_ + ": metadata key '" + key + "' is missing");
  return *v;
}

namespace {
[[noreturn]] void wrong_type(const std::string& path, const std::string& key, const char* want, const GgufValue& v) {
  std::string got = gguf_type_name(v.type);
  if (v.type == GgufType::kArray) got += std::string(" of ") + gguf_type_name(v.elem_type);
  throw Error(path + ": metadata key '" + key + "': expected " + want + ", got " + got);
}
}  // namespace

std::string GgufFile::get_string(const std::string& key) const {
  const GgufValue& v = at(key);
  if (v.type != GgufType::kString) wrong_type(path_, key, "STRING", v);
  return v.s;
}

uint64_t GgufFile::get_uint(const std::string& key) const {
  const GgufValue& v = at(key);
  if (!v.is_integer()) wrong_type(path_, key, "an integer", v);
  if (v.type == GgufType::kUint8 || v.type == GgufType::kUint16 || v.type == GgufType::kUint32 || v.type == GgufType::kUint64) return v.u;
  if (v.i < 0) throw Error(path_ + ": metadata key '" + key + "': " + std::to_string(v.i) + " is negative");
  return static_cast<uint64_t>(v.i);
}

int64_t GgufFile::get_int(const std::string& key) const {
  const GgufValue& v = at(key);
  if (!v.is_integer()) wrong_type(path_, key, "an integer", v);
  if (v.type == GgufType::kUint8 || v.type == GgufType::kUint16 || v.type == GgufType::kUint32 || v.type == GgufType::kUint64) {
    if (v.u > static_cast<uint64_t>(std::numeric_limits<int64_t>::max()))
      throw Error(path_ + ": metadata key '" + key + "': " + std::to_string(v.u) + " is out of range");
    return static_cast<int64_t>(v.u);
  }
  return v.i;
}

double GgufFile::get_float(const std::string& key) const {
  const GgufValue& v = at(key);
  if (v.is_float()) return v.f;
  if (v.is_integer()) return static_cast<double>(get_int(key));
  wrong_type(path_, key, "FLOAT32", v);
}

bool GgufFile::get_bool(const std::string& key) const {
  const GgufValue& v = at(key);
  if (v.type != GgufType::kBool) wrong_type(path_, key, "BOOL", v);
  return v.b;
}

std::vector<std::string> GgufFile::get_strings(const std::string& key) const {
  const GgufValue& v = at(key);
  if (v.type != GgufType::kArray || v.elem_type != GgufType::kString) wrong_type(path_, key, "ARRAY of STRING", v);
  std::vector<std::string> out;
  out.reserve(v.items.size());
  for (const GgufValue& x : v.items) out.push_back(x.s);
  return out;
}

std::vector<int64_t> GgufFile::get_ints(const std::string& key) const {
  const GgufValue& v = at(key);
  GgufValue probe;
  probe.type = v.elem_type;
  if (v.type != GgufType::kArray || !probe.is_integer()) wrong_type(path_, key, "ARRAY of an integer type", v);
  std::vector<int64_t> out;
  out.reserve(v.items.size());
  for (size_t k = 0; k < v.items.size(); ++k) {
    const GgufValue& x = v.items[k];
    if (x.type == GgufType::kUint64 && x.u > static_cast<uint64_t>(std::numeric_limits<int64_t>::max()))
      throw Error(path_ + ": metadata key '" + key + "': item " + std::to_string(k) + " is out of range");
    const bool is_unsigned = x.type == GgufType::kUint8 || x.type == GgufType::kUint16 || x.type == GgufType::kUint32 || x.type == GgufType::kUint64;
    out.push_back(is_unsigned ? static_cast<int64_t>(x.u) : x.i);
  }
  return out;
}

const GgufTensorInfo* GgufFile::find_tensor(const std::string& name) const {
  auto it = tensor_index_.find(name);
  return it == tensor_index_.end() ? nullptr : &tensors_[it->second];
}

const GgufTensorInfo& GgufFile::tensor(const std::string& name) const {
  const GgufTensorInfo* t = find_tensor(name);
  if (!t) throw Error(path_ + ": tensor '" + name + "' is missing");
  return *t;
}

}  // namespace packbench::train
