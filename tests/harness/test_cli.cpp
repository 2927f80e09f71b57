// The packbench binary: help, version, and clear failures for unknown commands.
#include <gtest/gtest.h>

#include "tests/common/test_paths.h"

using packbench::testing::packbench_bin;
using packbench::testing::run_command;

TEST(Cli, HelpListsSubcommands) {
  std::string out;
  ASSERT_EQ(run_command(packbench_bin() + " --help", &out), 0) << out;
  EXPECT_NE(out.find("data"), std::string::npos) << out;
  EXPECT_NE(out.find("score"), std::string::npos) << out;
}

TEST(Cli, VersionPrints) {
  std::string out;
  ASSERT_EQ(run_command(packbench_bin() + " --version", &out), 0) << out;
  EXPECT_NE(out.find("packbench"), std::string::npos) << out;
}

TEST(Cli, UnknownSubcommandFails) {
  std::string out;
  EXPECT_NE(run_command(packbench_bin() + " frobnicate", &out), 0) << out;
}

TEST(Cli, NoSubcommandFails) {
  std::string out;
  EXPECT_NE(run_command(packbench_bin(), &out), 0) << out;
}
