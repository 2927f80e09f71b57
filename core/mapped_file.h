// A read-only memory map of a whole file, followed by zeroed padding so simdjson may read past the end.
#pragma once

#include <cstddef>
#include <string>
#include <string_view>

namespace packbench::data {

// Maps `path` read-only. The mapping is followed by at least kPadding readable zero bytes (an
// anonymous mapping placed right after the file's pages), which simdjson's on-demand parser needs.
// Throws packbench::Error naming the path when it cannot open or map the file.
class MappedFile {
 public:
  static constexpr size_t kPadding = 64;
  explicit MappedFile(const std::string& path);
  ~MappedFile();
  MappedFile(const MappedFile&) = delete;
  MappedFile& operator=(const MappedFile&) = delete;
  const char* data() const { return data_; }
  size_t size() const { return size_; }
  std::string_view view() const { return {data_, size_}; }
  const std::string& path() const { return path_; }

 private:
  std::string path_;
  char* data_ = nullptr;
  size_t size_ = 0, mapped_ = 0;
};

}  // namespace packbench::data
