// 'packbench env' through the binary: the JSON keys a bug report needs, consistent with the build and machine.
#include <gtest/gtest.h>

#include <nlohmann/json.hpp>

#include "tests/common/test_paths.h"

using packbench::testing::run_command;

namespace {
nlohmann::json env_json() {
  std::string out;
  EXPECT_EQ(run_command(packbench::testing::packbench_bin() + " env --json 2>/dev/null", &out), 0) << out;
  return nlohmann::json::parse(out);
}
}  // namespace

TEST(EnvCli, JsonHasTheKeysABugReportNeeds) {
  const auto j = env_json();
  for (const char* k : {"packbench_version", "git_commit", "torch_version", "cuda_compiled", "cuda_version",
                        "nccl_compiled", "nccl_version", "cudnn_version", "devices", "blas", "threads", "cpu",
                        "compiler", "folders"})
    EXPECT_TRUE(j.contains(k)) << "missing " << k << " in " << j.dump();
  EXPECT_TRUE(j["devices"].is_array());
  EXPECT_GT(j["threads"].get<int>(), 0);
  EXPECT_FALSE(j["cpu"].get<std::string>().empty());
  for (const char* f : {"cache", "tokenizer", "python_venv", "shared_benchmarks"})
    EXPECT_TRUE(j["folders"].contains(f)) << f;
  // The version is the CMake project's; the commit is this source tree's.
  EXPECT_EQ(j["packbench_version"], "0.1.0");
  std::string head;
  if (run_command("git -C " + packbench::testing::source_dir() + " rev-parse HEAD", &head) == 0 && head.size() >= 40) {
    EXPECT_EQ(j["git_commit"].get<std::string>().substr(0, 40), head.substr(0, 40));
  }
}

TEST(EnvCli, CudaFactsAgreeWithEachOther) {
  const auto j = env_json();
  if (!j["with_torch"].get<bool>()) {
    EXPECT_TRUE(j["torch_version"].is_null());
    EXPECT_FALSE(j["cuda_compiled"].get<bool>());
    return;
  }
  EXPECT_FALSE(j["torch_version"].get<std::string>().empty());
  if (j["cuda_compiled"].get<bool>()) {
    EXPECT_TRUE(j["cuda_version"].is_string());
    EXPECT_TRUE(j["nccl_compiled"].get<bool>());
    EXPECT_TRUE(j["nccl_version"].is_string());
  } else {
    EXPECT_TRUE(j["cuda_version"].is_null());
    EXPECT_FALSE(j["nccl_compiled"].get<bool>());
  }
  // No device visible: the report says why rather than leaving it to be guessed.
  if (j["devices"].empty()) {
    EXPECT_TRUE(j["cuda_unavailable_reason"].is_string());
    std::string text;
    ASSERT_EQ(run_command(packbench::testing::packbench_bin() + " env 2>/dev/null", &text), 0) << text;
    EXPECT_NE(text.find("CUDA devices"), std::string::npos) << text;
    EXPECT_NE(text.find("none ("), std::string::npos) << text;
  } else {
    EXPECT_TRUE(j["cuda_unavailable_reason"].is_null());
    EXPECT_GT(j["devices"][0]["memory_bytes"].get<int64_t>(), 0);
  }
}
