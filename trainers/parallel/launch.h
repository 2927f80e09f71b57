// `packbench launch`: N local training processes with torchrun's environment, failing together.
#pragma once

#include <string>
#include <utility>
#include <vector>

namespace packbench::train {

struct LaunchOptions {
  int nproc = 1;
  std::string master_addr = "127.0.0.1";
  int master_port = 0;          // 0: a free port
  double grace_seconds = 10.0;  // after a failure: the others may fail by themselves; then SIGTERM, SIGKILL 5 s later
  std::vector<std::pair<std::string, std::string>> extra_env;
};

// Runs argv (argv[0] is the program; PATH is not searched) nproc times with RANK, WORLD_SIZE,
// LOCAL_RANK, LOCAL_WORLD_SIZE, MASTER_ADDR and MASTER_PORT set. SIGINT/SIGTERM are forwarded.
// When a process exits non-zero or is killed, the others are stopped (after grace_seconds). Returns 0 when all
// succeed, else the first failure's exit status (128 + signal for a signal). Prints which rank
// failed on stderr.
int launch_local(const std::vector<std::string>& argv, const LaunchOptions& options);

// A TCP port that was free a moment ago on 127.0.0.1.
int find_free_port();

}  // namespace packbench::train
