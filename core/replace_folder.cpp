// Puts a finished folder in place of another by rename, so readers see the old or the new one whole.
#include "core/replace_folder.h"

#include <unistd.h>

#include <filesystem>
#include <system_error>

#include "core/atomic_file.h"
#include "core/error.h"

namespace packbench {

void replace_folder(const std::string& tmp, const std::string& target) {
  namespace fs = std::filesystem;
  std::error_code ec;
  const std::string old = target + ".old." + std::to_string(getpid());
  const bool existed = fs::exists(target);
  if (existed) {
    fs::rename(target, old, ec);
    if (ec) throw Error("cannot move " + target + " aside: " + ec.message());
  }
  fs::rename(tmp, target, ec);
  if (ec) {
    const std::string why = ec.message();
    if (existed) fs::rename(old, target, ec);
    throw Error("cannot rename " + tmp + " to " + target + ": " + why);
  }
  if (existed) fs::remove_all(old, ec);
  const fs::path parent = fs::path(target).parent_path();
  fsync_dir(parent.empty() ? "." : parent.string());
}

}  // namespace packbench
