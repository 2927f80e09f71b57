// Runs a child command (packbench itself, for each stage of a cell), teeing its output to a log.
#pragma once

#include <string>
#include <vector>

namespace packbench::cli {

// Path of the running packbench binary (/proc/self/exe).
std::string self_exe();

struct SubprocessResult {
  int exit_code = 0;       // 128 + signal when killed by a signal
  std::string output;      // stdout (captured when capture_stdout)
};

// Runs argv[0] with argv. stderr (and stdout unless captured) is appended to `log_path` when
// given and echoed to this process's stderr. Extra environment entries are "KEY=VALUE".
SubprocessResult run_subprocess(const std::vector<std::string>& argv, const std::string& log_path,
                                bool capture_stdout = false, const std::vector<std::string>& extra_env = {});

// Shell-quoted rendering of a command line, for messages and scripts.
std::string shell_join(const std::vector<std::string>& argv);

}  // namespace packbench::cli
