// File helpers tests share: plain reads and writes, line counts, float32 .npy arrays, error messages, this executable.
#pragma once

#include <cstdint>
#include <functional>
#include <nlohmann/json.hpp>
#include <string>
#include <vector>

namespace packbench::testing {

// The whole file, bytes as they are ("" when it cannot be opened: the caller's assertions say why).
std::string slurp(const std::string& path);
// Writes `text` to `path` (created or truncated); returns `path`.
std::string write_text(const std::string& path, const std::string& text);
// Writes `text` to <dir>/<name>; returns that path.
std::string write_text(const std::string& dir, const std::string& name, const std::string& text);
// The records of a JSONL file (blank lines skipped).
std::vector<nlohmann::json> read_json_lines(const std::string& path);
// The number of non-empty lines of a text file (records of a JSONL file).
int64_t count_lines(const std::string& path);
// A float32 C-order .npy file: its values, and its shape in *shape when given.
std::vector<float> read_npy(const std::string& path, std::vector<int64_t>* shape = nullptr);
// What `f` throws as packbench::Error, or "(no error)" when it returns.
std::string error_of(const std::function<void()>& f);
// The path of the running test program (tests that re-run themselves as child processes).
std::string self_exe();
// Runs the built packbench with `args` (a shell word list); its exit status, output in *out.
int run_packbench(const std::string& args, std::string* out = nullptr);

}  // namespace packbench::testing
