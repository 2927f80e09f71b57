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

// Flushes every regular file under `dir` and the folders themselves to disk (fsync), so that a
// folder renamed into place afterwards survives a power loss whole. Throws packbench::Error.
void fsync_tree(const std::string& dir);

// fsync of one folder (after a rename inside it). Throws packbench::Error.
void fsync_dir(const std::string& dir);

// Reads a whole file; throws packbench::Error naming the path when it cannot.
std::string read_file(const std::string& path);

}  // namespace packbench
