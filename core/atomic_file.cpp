// Crash-safe file writing: write to a temporary name in the same folder, fsync, then rename.
#include "core/atomic_file.h"

#include <fcntl.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <sstream>

#include "core/error.h"

namespace packbench {
namespace fs = std::filesystem;

AtomicFileWriter::AtomicFileWriter(std::string path) : path_(std::move(path)) {
  fs::path p(path_);
  if (p.has_parent_path()) {
    std::error_code ec;
    fs::create_directories(p.parent_path(), ec);
    if (ec) throw Error("cannot create folder " + p.parent_path().string() + ": " + ec.message());
  }
  tmp_ = path_ + ".tmp." + std::to_string(getpid());
  f_ = std::fopen(tmp_.c_str(), "wb");
  if (!f_) throw Error("cannot write " + tmp_ + ": " + std::strerror(errno));
}

AtomicFileWriter::~AtomicFileWriter() {
  if (!committed_) {
    if (f_) std::fclose(f_);
    std::remove(tmp_.c_str());
  }
}

void AtomicFileWriter::write(std::string_view bytes) {
  if (bytes.empty()) return;
  if (std::fwrite(bytes.data(), 1, bytes.size(), f_) != bytes.size()) {
    throw Error("write failed for " + tmp_ + ": " + std::strerror(errno));
  }
}

void AtomicFileWriter::commit() {
  if (committed_) return;
  if (std::fflush(f_) != 0 || fsync(fileno(f_)) != 0) {
    throw Error("flush failed for " + tmp_ + ": " + std::strerror(errno));
  }
  std::fclose(f_);
  f_ = nullptr;
  if (std::rename(tmp_.c_str(), path_.c_str()) != 0) {
    std::string why = std::strerror(errno);
    std::remove(tmp_.c_str());
    throw Error("cannot rename " + tmp_ + " to " + path_ + ": " + why);
  }
  committed_ = true;
}

void write_file_atomic(const std::string& path, std::string_view content) {
  AtomicFileWriter w(path);
  w.write(content);
  w.commit();
}

namespace {

void fsync_path(const std::string& path, bool directory) {
  const int fd = ::open(path.c_str(), (directory ? O_RDONLY | O_DIRECTORY : O_RDONLY) | O_CLOEXEC);
  if (fd < 0) throw Error("cannot open " + path + " to flush it to disk: " + std::strerror(errno));
  const int rc = ::fsync(fd);
  const int err = errno;
  ::close(fd);
  if (rc != 0) throw Error("cannot flush " + path + " to disk: " + std::strerror(err));
}

}  // namespace

void fsync_tree(const std::string& dir) {
  std::error_code ec;
  for (auto it = fs::recursive_directory_iterator(dir, ec); !ec && it != fs::recursive_directory_iterator();
       it.increment(ec)) {
    if (it->is_regular_file()) fsync_path(it->path().string(), false);
    else if (it->is_directory()) fsync_path(it->path().string(), true);
  }
  if (ec) throw Error("cannot list " + dir + ": " + ec.message());
  fsync_path(dir, true);
}

void fsync_dir(const std::string& dir) { fsync_path(dir, true); }

std::string read_file(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  if (!in) throw Error("cannot read " + path + ": " + std::strerror(errno));
  std::ostringstream ss;
  ss << in.rdbuf();
  return ss.str();
}

}  // namespace packbench
