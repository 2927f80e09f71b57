// What this packbench binary is: version, commit, compiler and build type.
#include "harness/build_info.h"

namespace packbench {

std::string version() { return PACKBENCH_VERSION; }

std::string compiler() {
#if defined(__clang__)
  return std::string("Clang ") + __clang_version__;
#elif defined(__GNUC__)
  return std::string("GCC ") + __VERSION__;
#else
  return "unknown";
#endif
}

std::string build_type() { return PACKBENCH_BUILD_TYPE; }

}  // namespace packbench
