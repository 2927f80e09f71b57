// replace_folder: a finished folder takes the target's place whole, the old one goes, errors name the paths.
#include <gtest/gtest.h>

#include <filesystem>

#include "core/atomic_file.h"
#include "core/error.h"
#include "core/replace_folder.h"
#include "tests/common/test_paths.h"

namespace fs = std::filesystem;
namespace pb = packbench;

TEST(ReplaceFolder, NewTargetAndReplacedTarget) {
  const std::string dir = pb::testing::temp_dir("replace-folder");
  fs::create_directories(dir + "/tmp1");
  pb::write_file_atomic(dir + "/tmp1/a.txt", "one");
  pb::replace_folder(dir + "/tmp1", dir + "/out");
  EXPECT_EQ(pb::read_file(dir + "/out/a.txt"), "one");
  EXPECT_FALSE(fs::exists(dir + "/tmp1"));
  fs::create_directories(dir + "/tmp2");
  pb::write_file_atomic(dir + "/tmp2/b.txt", "two");
  pb::replace_folder(dir + "/tmp2", dir + "/out");
  EXPECT_EQ(pb::read_file(dir + "/out/b.txt"), "two");
  EXPECT_FALSE(fs::exists(dir + "/out/a.txt"));  // the old folder is gone, not merged
  size_t entries = 0;
  for (const auto& e : fs::directory_iterator(dir)) entries += e.path().filename() != "out";
  EXPECT_EQ(entries, 0u) << "nothing left aside";
}

TEST(ReplaceFolder, AMissingSourceKeepsTheTargetAndNamesThePaths) {
  const std::string dir = pb::testing::temp_dir("replace-folder-missing");
  fs::create_directories(dir + "/out");
  pb::write_file_atomic(dir + "/out/keep.txt", "kept");
  try {
    pb::replace_folder(dir + "/nope", dir + "/out");
    ADD_FAILURE() << "expected an error";
  } catch (const pb::Error& e) {
    EXPECT_NE(std::string(e.what()).find(dir + "/nope"), std::string::npos) << e.what();
  }
  EXPECT_EQ(pb::read_file(dir + "/out/keep.txt"), "kept");  // restored
}
