// OpenBLAS kernel selection: detect a fallback to generic kernels and re-run with the right ones.
#include "trainers/parallel/blas_kernels.h"

#include <dlfcn.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cctype>
#include <cstdio>
#include <cstdlib>
#include <cstring>

namespace packbench::train {

std::string blas_core_name() {
  using CoreName = char* (*)();
  auto fn = reinterpret_cast<CoreName>(::dlsym(RTLD_DEFAULT, "openblas_get_corename"));
  if (!fn) return {};
  const char* name = fn();
  return name ? std::string(name) : std::string();
}

std::string blas_kernels_description() {
  const std::string name = blas_core_name();
  return name.empty() ? "not OpenBLAS" : "OpenBLAS " + name;
}

std::string best_blas_core_for_cpu() {
#if defined(__x86_64__) && defined(__GNUC__)
  __builtin_cpu_init();
  const bool avx512 = __builtin_cpu_supports("avx512f") && __builtin_cpu_supports("avx512bw") &&
                      __builtin_cpu_supports("avx512vl") && __builtin_cpu_supports("avx512dq");
  if (avx512) return __builtin_cpu_supports("avx512bf16") ? "Cooperlake" : "SkylakeX";
  if (__builtin_cpu_supports("avx2") && __builtin_cpu_supports("fma")) return "Haswell";
#endif
  return {};
}

bool blas_core_is_fallback(const std::string& current, const std::string& best) {
  if (current.empty() || best.empty()) return false;
  auto lower = [](std::string s) {
    std::transform(s.begin(), s.end(), s.begin(), [](unsigned char c) { return static_cast<char>(std::tolower(c)); });
    return s;
  };
  const std::string c = lower(current);
  // Kernel families at least as fast as `best` on a CPU that supports `best`.
  static const char* kAvx512[] = {"skylakex", "cooperlake", "sapphirerapids"};
  static const char* kAvx2[] = {"haswell", "skylakex", "cooperlake", "sapphirerapids", "zen"};
  const std::string b = lower(best);
  if (b == "skylakex" || b == "cooperlake") {
    return std::none_of(std::begin(kAvx512), std::end(kAvx512), [&](const char* k) { return c == k; });
  }
  if (b == "haswell") {
    return std::none_of(std::begin(kAvx2), std::end(kAvx2), [&](const char* k) { return c == k; });
  }
  return false;
}

void ensure_fast_blas_kernels(char** argv) {
  if (std::getenv("OPENBLAS_CORETYPE") != nullptr) return;  // the user's (or our re-run's) choice
  const std::string current = blas_core_name();
  const std::string best = best_blas_core_for_cpu();
  if (!blas_core_is_fallback(current, best)) return;
  ::setenv("OPENBLAS_CORETYPE", best.c_str(), 1);
  if (std::getenv("PACKBENCH_VERBOSE") != nullptr) {
    std::fprintf(stderr, "packbench: OpenBLAS chose its generic '%s' kernels on this CPU; re-running with OPENBLAS_CORETYPE=%s\n",
                 current.c_str(), best.c_str());
    std::fflush(stderr);
  }
  ::execv("/proc/self/exe", argv);
  std::fprintf(stderr, "packbench: could not re-run with OPENBLAS_CORETYPE=%s (%s); continuing with '%s'\n",
               best.c_str(), std::strerror(errno), current.c_str());
}

}  // namespace packbench::train
