// A `packbench serve` child process on a free loopback port, for runs that need a model behind an HTTP endpoint.
#pragma once

#include <sys/types.h>

#include <string>
#include <vector>

namespace packbench::cli {

// Starts `packbench serve --checkpoint DIR --host 127.0.0.1 --port 0 <extra>` with its output in
// `log`, waits until it prints its address (up to `wait_seconds`), and stops it (SIGTERM, then
// SIGKILL after 20 s) when destroyed. Throws packbench::Error, quoting the log, when it exits or
// does not come up.
class LocalServer {
 public:
  LocalServer(const std::string& checkpoint, const std::string& log, const std::vector<std::string>& extra = {},
              double wait_seconds = 300);
  ~LocalServer();
  LocalServer(const LocalServer&) = delete;
  LocalServer& operator=(const LocalServer&) = delete;
  // http://127.0.0.1:PORT/v1
  std::string url() const { return "http://127.0.0.1:" + std::to_string(port_) + "/v1"; }
  void stop();

 private:
  pid_t pid_ = -1;
  int port_ = 0;
  std::string log_;
};

}  // namespace packbench::cli
