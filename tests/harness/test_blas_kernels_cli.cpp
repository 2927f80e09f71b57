// OpenBLAS kernel selection: which choices count as fallbacks, and that the packbench binary runs
// with fast kernels unless OPENBLAS_CORETYPE says otherwise.
#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <algorithm>

#include "tests/common/test_paths.h"
#include "trainers/parallel/blas_kernels.h"

namespace packbench {
namespace {

using ::testing::HasSubstr;
using ::testing::Not;
using train::blas_core_is_fallback;

TEST(BlasKernels, GenericKernelsOnAnAvx512CpuAreAFallback) {
  EXPECT_TRUE(blas_core_is_fallback("Prescott", "Cooperlake"));
  EXPECT_TRUE(blas_core_is_fallback("Sandybridge", "SkylakeX"));
  EXPECT_TRUE(blas_core_is_fallback("Haswell", "Cooperlake"));  // AVX2 kernels leave half the FMA width idle
  EXPECT_FALSE(blas_core_is_fallback("Cooperlake", "Cooperlake"));
  EXPECT_FALSE(blas_core_is_fallback("SkylakeX", "Cooperlake"));
  EXPECT_FALSE(blas_core_is_fallback("SAPPHIRERAPIDS", "SkylakeX"));
}

TEST(BlasKernels, Avx2Choices) {
  EXPECT_TRUE(blas_core_is_fallback("Nehalem", "Haswell"));
  EXPECT_TRUE(blas_core_is_fallback("Prescott", "Haswell"));
  EXPECT_FALSE(blas_core_is_fallback("Haswell", "Haswell"));
  EXPECT_FALSE(blas_core_is_fallback("Zen", "Haswell"));
}

TEST(BlasKernels, NothingToSayWithoutOpenBlasOrWithoutASuggestion) {
  EXPECT_FALSE(blas_core_is_fallback("", "Cooperlake"));
  EXPECT_FALSE(blas_core_is_fallback("Prescott", ""));
}

std::string model_dir() { return testing::fixtures_dir() + "/llama_ref/tied"; }

TEST(BlasKernelsCli, TheBinaryRunsWithTheBestKernelsForThisCpu) {
  std::string out;
  ASSERT_EQ(testing::run_command("env -u OPENBLAS_CORETYPE " + testing::packbench_bin() + " model info " + model_dir(),
                                 &out),
            0)
      << out;
  const auto pos = out.find("BLAS kernels OpenBLAS ");
  if (pos == std::string::npos) GTEST_SKIP() << "the BLAS in use is not OpenBLAS: " << out;
  const std::string chosen = out.substr(pos + 22, out.find('\n', pos) - pos - 22);
  const std::string best = train::best_blas_core_for_cpu();
  EXPECT_FALSE(blas_core_is_fallback(chosen, best)) << "ran with " << chosen << " on a CPU that can run " << best;
}

TEST(BlasKernelsCli, AnExplicitCoreTypeIsKept) {
  if (train::best_blas_core_for_cpu().empty()) GTEST_SKIP() << "not an AVX2/AVX-512 CPU";
  std::string out;
  ASSERT_EQ(testing::run_command("OPENBLAS_CORETYPE=Haswell " + testing::packbench_bin() + " model info " + model_dir(),
                                 &out),
            0)
      << out;
  if (out.find("BLAS kernels OpenBLAS") == std::string::npos) GTEST_SKIP() << "the BLAS in use is not OpenBLAS";
  EXPECT_THAT(out, HasSubstr("BLAS kernels OpenBLAS Haswell"));
  EXPECT_THAT(out, Not(HasSubstr("re-running")));
}

TEST(BlasKernelsCli, TheReRunIsSilentUnlessVerbose) {
  std::string out;
  ASSERT_EQ(testing::run_command("env -u OPENBLAS_CORETYPE -u PACKBENCH_VERBOSE " + testing::packbench_bin() + " --version", &out), 0);
  // One line, the version and commit alone: nothing about the re-run.
  EXPECT_THAT(out, ::testing::StartsWith("packbench 0.1.0 ("));
  EXPECT_EQ(std::count(out.begin(), out.end(), '\n'), 1) << out;
}

}  // namespace
}  // namespace packbench
