// A `packbench serve` child process on a free loopback port, for runs that need a model behind an HTTP endpoint.
#include "harness/local_server.h"

#include <fcntl.h>
#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <chrono>
#include <filesystem>
#include <fstream>
#include <regex>
#include <thread>

#include "core/error.h"
#include "harness/subprocess.h"

namespace packbench::cli {

namespace {

std::string read_all(const std::string& path) {
  std::ifstream in(path);
  return std::string(std::istreambuf_iterator<char>(in), {});
}

std::string tail(const std::string& s, size_t n = 2000) { return s.size() > n ? "..." + s.substr(s.size() - n) : s; }

}  // namespace

LocalServer::LocalServer(const std::string& checkpoint, const std::string& log, const std::vector<std::string>& extra,
                         double wait_seconds)
    : log_(log) {
  std::filesystem::create_directories(std::filesystem::path(log).parent_path());
  std::vector<std::string> argv = {self_exe(), "serve", "--checkpoint", checkpoint, "--host", "127.0.0.1", "--port", "0"};
  argv.insert(argv.end(), extra.begin(), extra.end());
  const int fd = ::open(log.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
  if (fd < 0) throw Error(log + ": cannot open for writing");
  pid_ = fork();
  if (pid_ == 0) {
    dup2(fd, 1);
    dup2(fd, 2);
    std::vector<char*> args;
    for (auto& a : argv) args.push_back(a.data());
    args.push_back(nullptr);
    execv(args[0], args.data());
    _exit(127);
  }
  ::close(fd);
  if (pid_ < 0) throw Error("cannot start " + shell_join(argv));
  const std::regex re("listening on http://127\\.0\\.0\\.1:(\\d+)");
  const auto deadline = std::chrono::steady_clock::now() + std::chrono::duration<double>(wait_seconds);
  while (port_ == 0) {
    std::smatch m;
    const std::string text = read_all(log_);
    if (std::regex_search(text, m, re)) {
      port_ = std::stoi(m[1]);
      break;
    }
    int st = 0;
    if (waitpid(pid_, &st, WNOHANG) == pid_) {
      pid_ = -1;
      throw Error(shell_join(argv) + " exited before serving; its log " + log_ + " ends:\n" + tail(text));
    }
    if (std::chrono::steady_clock::now() > deadline) {
      stop();
      throw Error(shell_join(argv) + " did not come up within " + std::to_string(static_cast<int>(wait_seconds)) +
                  " s; see " + log_);
    }
    std::this_thread::sleep_for(std::chrono::milliseconds(100));
  }
}

LocalServer::~LocalServer() { stop(); }

void LocalServer::stop() {
  if (pid_ <= 0) return;
  kill(pid_, SIGTERM);
  for (int i = 0; i < 200; ++i) {
    int st = 0;
    if (waitpid(pid_, &st, WNOHANG) == pid_) {
      pid_ = -1;
      return;
    }
    std::this_thread::sleep_for(std::chrono::milliseconds(100));
  }
  kill(pid_, SIGKILL);
  waitpid(pid_, nullptr, 0);
  pid_ = -1;
}

}  // namespace packbench::cli
