// What this packbench binary is: version, commit, compiler and build type.
#pragma once

#include <string>

namespace packbench {

std::string version();      // "0.1.0" (the CMake project version)
const char* git_commit();   // the commit built from, "-dirty" appended for uncommitted changes, or "unknown"
std::string compiler();     // e.g. "GCC 12.2.0"
std::string build_type();   // CMAKE_BUILD_TYPE, e.g. "Release"

}  // namespace packbench
