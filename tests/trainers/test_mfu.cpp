// The GEMM ceiling behind MFU: measured, cached, and raised when the cached value is too low.
#include <gtest/gtest.h>

#include <nlohmann/json.hpp>

#include <cstdlib>
#include <fstream>

#include "core/atomic_file.h"
#include "trainers/mfu.h"
#include "tests/common/test_paths.h"

namespace pt = packbench::testing;
using packbench::train::gemm_ceiling;
using nlohmann::json;

namespace {

// Points packbench's cache folder at a fresh folder for one test, and back afterwards.
class CacheFolder {
 public:
  explicit CacheFolder(const std::string& tag) : dir_(pt::temp_dir(tag)) {
    if (const char* v = std::getenv("PACKBENCH_CACHE")) old_ = v, had_ = true;
    setenv("PACKBENCH_CACHE", dir_.c_str(), 1);
  }
  ~CacheFolder() { had_ ? setenv("PACKBENCH_CACHE", old_.c_str(), 1) : unsetenv("PACKBENCH_CACHE"); }
  std::string file() const { return dir_ + "/gemm_ceiling.json"; }

 private:
  std::string dir_, old_;
  bool had_ = false;
};

json read_cache(const std::string& path) { return json::parse(packbench::read_file(path)); }

}  // namespace

TEST(GemmCeiling, MeasuredOnceThenReadFromTheCache) {
  CacheFolder cache("mfu_cache");
  auto first = gemm_ceiling(torch::kCPU, false, 0.05);
  EXPECT_FALSE(first.cached);
  EXPECT_GT(first.flops_per_second, 1e8);  // any CPU does 0.1 GFLOP/s of fp32 matmul
  json c = read_cache(cache.file());
  ASSERT_EQ(c.size(), 1u);
  const std::string key = c.begin().key();
  EXPECT_EQ(c[key].get<double>(), first.flops_per_second);
  // A cached value no short window can beat is used as it is.
  c[key] = 1e30;
  packbench::write_file_atomic(cache.file(), c.dump());
  auto again = gemm_ceiling(torch::kCPU, false, 0.05);
  EXPECT_TRUE(again.cached);
  EXPECT_EQ(again.flops_per_second, 1e30);
}

// A ceiling cached while the machine was busy reads too low, and MFU then comes out above 1: the
// quick check finds a faster window, measures again, and keeps the higher value.
TEST(GemmCeiling, ACachedCeilingThatIsTooLowIsRaised) {
  CacheFolder cache("mfu_low");
  gemm_ceiling(torch::kCPU, false, 0.05);
  json c = read_cache(cache.file());
  const std::string key = c.begin().key();
  c[key] = 1000.0;  // 1 kFLOP/s: far below anything real
  packbench::write_file_atomic(cache.file(), c.dump());
  auto g = gemm_ceiling(torch::kCPU, false, 0.05);
  EXPECT_FALSE(g.cached);
  EXPECT_GT(g.flops_per_second, 1e8);
  EXPECT_EQ(read_cache(cache.file())[key].get<double>(), g.flops_per_second);
}

// Without the cache, nothing is read or written.
TEST(GemmCeiling, UncachedMeasurementLeavesNoFile) {
  CacheFolder cache("mfu_nocache");
  auto g = gemm_ceiling(torch::kCPU, false, 0.05, /*use_cache=*/false);
  EXPECT_GT(g.flops_per_second, 1e8);
  EXPECT_FALSE(g.cached);
  EXPECT_FALSE(std::ifstream(cache.file()).good());
}
