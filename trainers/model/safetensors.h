// safetensors files (8-byte header length, JSON header, raw little-endian bytes): validated mmap
// reading, atomic writing, and sharded checkpoints with model.safetensors.index.json. No LibTorch.
#pragma once

#include <cstddef>
#include <cstdint>
#include <map>
#include <memory>
#include <string>
#include <vector>

namespace packbench::train {

enum class StDtype { kF32, kF16, kBF16, kF64, kI64, kI32 };

const char* st_dtype_name(StDtype d);   // "F32", "BF16", ...
size_t st_dtype_size(StDtype d);        // bytes per element
bool st_dtype_parse(const std::string& name, StDtype* out);

// One tensor's bytes inside a file (or inside a caller's buffer, for writing).
struct StTensorView {
  std::string name;
  StDtype dtype = StDtype::kF32;
  std::vector<int64_t> shape;
  const uint8_t* data = nullptr;
  size_t nbytes = 0;
  int64_t numel() const;
};

// A safetensors file mapped read-only. The constructor validates the whole header (length,
// JSON, dtypes, shapes against byte counts, offsets inside the file, no overlaps) and throws
// packbench::Error naming the file and the tensor at fault.
class SafetensorsFile {
 public:
  explicit SafetensorsFile(const std::string& path);
  ~SafetensorsFile();
  SafetensorsFile(const SafetensorsFile&) = delete;
  SafetensorsFile& operator=(const SafetensorsFile&) = delete;

  const std::string& path() const { return path_; }
  uint64_t file_size() const { return size_; }
  const std::vector<StTensorView>& tensors() const { return tensors_; }  // in data order
  const StTensorView* find(const std::string& name) const;
  const StTensorView& at(const std::string& name) const;  // throws naming file and tensor
  const std::map<std::string, std::string>& metadata() const { return metadata_; }

 private:
  std::string path_;
  uint64_t size_ = 0;
  void* map_ = nullptr;
  std::vector<StTensorView> tensors_;
  std::map<std::string, size_t> index_;
  std::map<std::string, std::string> metadata_;
};

// Writes `tensors` (in this order) to `path` atomically; the header is padded to 8 bytes.
// Returns the bytes written. Throws packbench::Error on a bad view or an I/O failure.
uint64_t write_safetensors(const std::string& path, const std::vector<StTensorView>& tensors,
                           const std::map<std::string, std::string>& metadata = {{"format", "pt"}});

// Writes a checkpoint's weights into folder `dir`: model.safetensors when the data fits in
// `max_shard_bytes`, else model-0000i-of-0000n.safetensors plus model.safetensors.index.json
// (Hugging Face's layout). Returns the file names written.
std::vector<std::string> write_safetensors_checkpoint(const std::string& dir, const std::vector<StTensorView>& tensors,
                                                      uint64_t max_shard_bytes);

// The weights of a checkpoint folder: model.safetensors, or the shards that
// model.safetensors.index.json lists (each name must be in the file the index says).
class SafetensorsCheckpoint {
 public:
  explicit SafetensorsCheckpoint(const std::string& dir);
  const std::vector<std::string>& names() const { return names_; }
  const StTensorView* find(const std::string& name) const;
  const StTensorView& at(const std::string& name) const;
  const std::vector<std::unique_ptr<SafetensorsFile>>& files() const { return files_; }
  const std::string& dir() const { return dir_; }

 private:
  std::string dir_;
  std::vector<std::unique_ptr<SafetensorsFile>> files_;
  std::vector<std::string> names_;
  std::map<std::string, const StTensorView*> by_name_;
};

}  // namespace packbench::train
