// A read-only memory map of a whole file, followed by zeroed padding so simdjson may read past the end.
#include "core/mapped_file.h"

#include <fcntl.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>

#include "core/error.h"

namespace packbench::data {

MappedFile::MappedFile(const std::string& path) : path_(path) {
  int fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC);
  if (fd < 0) throw Error(path + ": cannot open: " + std::strerror(errno));
  struct stat st {};
  if (::fstat(fd, &st) != 0 || !S_ISREG(st.st_mode)) {
    ::close(fd);
    throw Error(path + ": not a regular file");
  }
  size_ = static_cast<size_t>(st.st_size);
  size_t page = static_cast<size_t>(::sysconf(_SC_PAGESIZE));
  size_t file_pages = (size_ + page - 1) / page * page;
  mapped_ = file_pages + page;  // at least one whole zero page after the file's last page
  // Reserve the whole range with anonymous zero pages, then map the file over its start.
  void* base = ::mmap(nullptr, mapped_, PROT_READ, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
  if (base == MAP_FAILED) {
    ::close(fd);
    throw Error(path + ": cannot map: " + std::strerror(errno));
  }
  if (size_ > 0) {
    void* f = ::mmap(base, size_, PROT_READ, MAP_PRIVATE | MAP_FIXED, fd, 0);
    if (f == MAP_FAILED) {
      int err = errno;
      ::munmap(base, mapped_);
      ::close(fd);
      throw Error(path + ": cannot map: " + std::strerror(err));
    }
    ::madvise(base, size_, MADV_SEQUENTIAL);
  }
  ::close(fd);
  data_ = static_cast<char*>(base);
}

MappedFile::~MappedFile() {
  if (data_) ::munmap(data_, mapped_);
}

}  // namespace packbench::data
