// Paths tests need: the source tree, fixtures, the built packbench binary, shared benchmarks.
#pragma once

#include <string>
#include <vector>

namespace packbench::testing {

std::string source_dir();     // the repository root
std::string fixtures_dir();   // tests/fixtures
std::string binary_dir();     // the CMake build folder
std::string packbench_bin();  // <build>/bin/packbench
// The shared benchmark folder ($PACKBENCH_SHARED or ../shared/benchmarks), or "" when absent.
std::string shared_benchmarks();
// The LLaMA-3 tokenizer folder from scripts/setup.sh, or "" when it is missing.
std::string llama3_tokenizer_dir();
// The pinned Python of scripts/setup.sh's virtual environment, or "" when it is missing.
std::string venv_python();
// A benchmark root laid out as the shared folder is, made of links to the fixtures: `tasks` from
// mmlu, gsm8k, math, bbh, humaneval and ifeval (its small input file); created as <dir>/benchmarks.
std::string fixture_benchmarks(const std::string& dir, const std::vector<std::string>& tasks);
// A fresh empty temporary folder, removed at process exit.
std::string temp_dir(const std::string& tag);
// Runs a shell command, returns its exit status; stdout+stderr go to *output when given.
int run_command(const std::string& cmd, std::string* output = nullptr);

}  // namespace packbench::testing

// Skips the current test with a message when the shared benchmark folder is absent.
#define PB_REQUIRE_SHARED(var)                                                        \
  const std::string var = ::packbench::testing::shared_benchmarks();                  \
  if (var.empty()) GTEST_SKIP() << "shared benchmarks not found: set PACKBENCH_SHARED"
// Skips the current test with a message when the LLaMA-3 tokenizer is absent.
#define PB_REQUIRE_LLAMA3(var)                                                        \
  const std::string var = ::packbench::testing::llama3_tokenizer_dir();               \
  if (var.empty()) GTEST_SKIP() << "LLaMA-3 tokenizer not found: run scripts/setup.sh"
// Skips the current test with a message when setup's Python environment is absent.
#define PB_REQUIRE_VENV(var)                                                          \
  const std::string var = ::packbench::testing::venv_python();                        \
  if (var.empty()) GTEST_SKIP() << "packbench's Python environment not found: run scripts/setup.sh"
