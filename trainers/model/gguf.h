// GGUF files (llama.cpp's model format): header, typed metadata, tensor infos, mmap'd tensor data. No LibTorch.
#pragma once

#include <cstddef>
#include <cstdint>
#include <map>
#include <memory>
#include <string>
#include <vector>

namespace packbench::data { class MappedFile; }

namespace packbench::train {

// ggml tensor types, numbered as in the file. Names and block layouts: ggml_type_info().
enum class GgmlType : uint32_t {
  kF32 = 0, kF16 = 1, kQ4_0 = 2, kQ4_1 = 3, kQ5_0 = 6, kQ5_1 = 7, kQ8_0 = 8, kQ8_1 = 9,
  kQ2_K = 10, kQ3_K = 11, kQ4_K = 12, kQ5_K = 13, kQ6_K = 14, kQ8_K = 15,
  kIQ2_XXS = 16, kIQ2_XS = 17, kIQ3_XXS = 18, kIQ1_S = 19, kIQ4_NL = 20, kIQ3_S = 21, kIQ2_S = 22,
  kIQ4_XS = 23, kI8 = 24, kI16 = 25, kI32 = 26, kI64 = 27, kF64 = 28, kIQ1_M = 29, kBF16 = 30,
  kTQ1_0 = 34, kTQ2_0 = 35, kMXFP4 = 39,
};

struct GgmlTypeInfo {
  const char* name;     // "Q4_K"
  int64_t block_size;   // elements per block
  int64_t type_size;    // bytes per block
};
// The layout of a known type, or nullptr for a number the format does not define.
const GgmlTypeInfo* ggml_type_info(uint32_t type);
std::string ggml_type_name(GgmlType type);

// Metadata value types, numbered as in the file.
enum class GgufType : uint32_t {
  kUint8 = 0, kInt8 = 1, kUint16 = 2, kInt16 = 3, kUint32 = 4, kInt32 = 5, kFloat32 = 6, kBool = 7,
  kString = 8, kArray = 9, kUint64 = 10, kInt64 = 11, kFloat64 = 12,
};
const char* gguf_type_name(GgufType type);  // "UINT32", "ARRAY", ...

// One metadata value. Integers keep their exact value in `u` or `i` (by signedness), floats in
// `f`; an array holds its element type and items.
struct GgufValue {
  GgufType type = GgufType::kUint8;
  uint64_t u = 0;
  int64_t i = 0;
  double f = 0;
  bool b = false;
  std::string s;
  GgufType elem_type = GgufType::kUint8;  // arrays only
  std::vector<GgufValue> items;           // arrays only

  bool is_integer() const;
  bool is_float() const { return type == GgufType::kFloat32 || type == GgufType::kFloat64; }
};

// One tensor: name, dims in ggml order (ne[0] is the fastest-varying axis, so the row-major
// shape is the reverse), type, and its bytes inside the mapped file.
struct GgufTensorInfo {
  std::string name;
  std::vector<int64_t> ne;
  GgmlType type = GgmlType::kF32;
  uint64_t offset = 0;  // relative to the data section
  const uint8_t* data = nullptr;
  uint64_t nbytes = 0;
  int64_t numel() const;
  std::vector<int64_t> shape() const;  // row-major (numpy / PyTorch) order: ne reversed
};

// A GGUF file (versions 2 and 3), mapped read-only. The constructor reads and checks the whole
// header: magic, version, every key/value (types, lengths inside the file), every tensor info
// (known type, dims a whole number of blocks, data aligned and inside the file, no overlaps).
// Anything malformed or truncated is a packbench::Error naming the file and the key or tensor.
class GgufFile {
 public:
  explicit GgufFile(const std::string& path);
  ~GgufFile();
  GgufFile(const GgufFile&) = delete;
  GgufFile& operator=(const GgufFile&) = delete;

  const std::string& path() const { return path_; }
  uint32_t version() const { return version_; }
  uint64_t file_size() const;
  uint64_t alignment() const { return alignment_; }
  uint64_t data_offset() const { return data_offset_; }  // start of the tensor data section

  const std::vector<std::string>& keys() const { return keys_; }  // in file order
  const GgufValue* find(const std::string& key) const;
  const GgufValue& at(const std::string& key) const;  // throws naming the file and key

  // Typed access; throws naming the file and key when absent or of another type.
  std::string get_string(const std::string& key) const;
  uint64_t get_uint(const std::string& key) const;  // any non-negative integer type
  int64_t get_int(const std::string& key) const;    // any integer type that fits
  double get_float(const std::string& key) const;   // FLOAT32/FLOAT64 (integers accepted)
  bool get_bool(const std::string& key) const;
  std::vector<std::string> get_strings(const std::string& key) const;  // ARRAY of STRING
  std::vector<int64_t> get_ints(const std::string& key) const;         // ARRAY of an integer type

  const std::vector<GgufTensorInfo>& tensors() const { return tensors_; }  // in file order
  const GgufTensorInfo* find_tensor(const std::string& name) const;
  const GgufTensorInfo& tensor(const std::string& name) const;  // throws naming file and tensor

 private:
  std::string path_;
  std::unique_ptr<data::MappedFile> map_;
  uint32_t version_ = 0;
  uint64_t alignment_ = 32, data_offset_ = 0;
  std::vector<std::string> keys_;
  std::map<std::string, GgufValue> values_;
  std::vector<GgufTensorInfo> tensors_;
  std::map<std::string, size_t> tensor_index_;
};

}  // namespace packbench::train
