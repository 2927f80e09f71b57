// Crash-safe file writing: write to a temporary name in the same folder, fsync, then rename.
#pragma once

#include <cstdio>
#include <string>
#include <string_view>

namespace packbench {

// Replaces `path` with `content` atomically; creates parent folders. Throws packbench::Error.
void write_file_atomic(const std::string& path, std::string_view content);

// Streams into "<path>.tmp.<pid>" and renames onto `path` on commit(); a writer destroyed
// without commit() removes the temporary file, so `path` is never left half-written.
class AtomicFileWriter {
 public:
  explicit AtomicFileWriter(std::string path);
  ~AtomicFileWriter();
  AtomicFileWriter(const AtomicFileWriter&) = delete;
  AtomicFileWriter& operator=(const AtomicFileWriter&) = delete;
  void write(std::string_view bytes);
  FILE* file() { return f_; }
  void commit();
  const std::string& path() const { return path_; }

 private:
  std::string path_, tmp_;
  FILE* f_ = nullptr;
  bool committed_ = false;
};

// Reads a whole file; throws packbench::Error naming the path when it cannot.
std::string read_file(const std::string& path);

}  // namespace packbench
