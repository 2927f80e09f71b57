// `packbench launch`: N local training processes with torchrun's environment, failing together.
#include "trainers/parallel/launch.h"

#include <arpa/inet.h>
#include <fmt/format.h>
#include <netinet/in.h>
#include <signal.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include <atomic>
#include <chrono>
#include <cstdlib>
#include <thread>

#include "core/error.h"

namespace packbench::train {
namespace {

std::atomic<int> g_forward_signal{0};
void on_signal(int sig) { g_forward_signal = sig; }

}  // namespace

int find_free_port() {
  int fd = ::socket(AF_INET, SOCK_STREAM, 0);
  if (fd < 0) throw Error("launch: cannot open a socket to find a free port");
  sockaddr_in a{};
  a.sin_family = AF_INET;
  a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  a.sin_port = 0;
  socklen_t len = sizeof(a);
  if (::bind(fd, reinterpret_cast<sockaddr*>(&a), sizeof(a)) != 0 ||
      ::getsockname(fd, reinterpret_cast<sockaddr*>(&a), &len) != 0) {
    ::close(fd);
    throw Error("launch: cannot find a free port");
  }
  const int port = ntohs(a.sin_port);
  ::close(fd);
  return port;
}

int launch_local(const std::vector<std::string>& argv, const LaunchOptions& o) {
  if (argv.empty()) throw Error("launch: no command to run (use: packbench launch --nproc N -- train ...)");
  if (o.nproc < 1) throw Error("launch: --nproc must be at least 1");
  const int port = o.master_port > 0 ? o.master_port : find_free_port();
  std::vector<pid_t> pids(o.nproc, -1);
  struct sigaction sa {}, old_int{}, old_term{};
  sa.sa_handler = on_signal;
  sigemptyset(&sa.sa_mask);
  sigaction(SIGINT, &sa, &old_int);
  sigaction(SIGTERM, &sa, &old_term);
  g_forward_signal = 0;
  for (int r = 0; r < o.nproc; ++r) {
    const pid_t pid = ::fork();
    if (pid < 0) throw Error("launch: fork failed");
    if (pid == 0) {
      ::setenv("RANK", std::to_string(r).c_str(), 1);
      ::setenv("LOCAL_RANK", std::to_string(r).c_str(), 1);
      ::setenv("WORLD_SIZE", std::to_string(o.nproc).c_str(), 1);
      ::setenv("LOCAL_WORLD_SIZE", std::to_string(o.nproc).c_str(), 1);
      ::setenv("MASTER_ADDR", o.master_addr.c_str(), 1);
      ::setenv("MASTER_PORT", std::to_string(port).c_str(), 1);
      for (const auto& [k, v] : o.extra_env) ::setenv(k.c_str(), v.c_str(), 1);
      std::vector<char*> args;
      for (const auto& a : argv) args.push_back(const_cast<char*>(a.c_str()));
      args.push_back(nullptr);
      ::execv(args[0], args.data());
      fmt::print(stderr, "packbench launch: cannot run {}\n", argv[0]);
      ::_exit(127);
    }
    pids[r] = pid;
  }
  int result = 0, running = o.nproc;
  bool stopping = false;
  auto stop_start = std::chrono::steady_clock::now();
  bool killed = false, termed = false;
  while (running > 0) {
    int status = 0;
    const pid_t done = ::waitpid(-1, &status, WNOHANG);
    if (done > 0) {
      int rank = -1;
      for (int r = 0; r < o.nproc; ++r)
        if (pids[r] == done) rank = r;
      if (rank < 0) continue;
      pids[rank] = -1;
      --running;
      const int code = WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
      if (code != 0 && result == 0) {
        result = code;
        if (WIFSIGNALED(status))
          fmt::print(stderr, "packbench launch: rank {} was killed by signal {}; stopping the other ranks\n", rank,
                     WTERMSIG(status));
        else
          fmt::print(stderr, "packbench launch: rank {} exited with status {}; stopping the other ranks\n", rank, code);
      }
      if (code != 0 && !stopping) {
        // The others usually fail by themselves (their collectives lose the peer); give them
        // grace_seconds to say so, then SIGTERM, then SIGKILL.
        stopping = true;
        stop_start = std::chrono::steady_clock::now();
      }
      continue;
    }
    if (const int sig = g_forward_signal.exchange(0); sig != 0) {
      for (pid_t p : pids)
        if (p > 0) ::kill(p, sig);
      if (!stopping) {
        stopping = true;
        stop_start = std::chrono::steady_clock::now();
      }
      if (result == 0) result = 128 + sig;
    }
    const double waited =
        stopping ? std::chrono::duration<double>(std::chrono::steady_clock::now() - stop_start).count() : 0.0;
    if (stopping && !termed && waited > o.grace_seconds) {
      for (pid_t p : pids)
        if (p > 0) ::kill(p, SIGTERM);
      termed = true;
    }
    if (stopping && !killed && waited > o.grace_seconds + 5.0) {
      for (pid_t p : pids)
        if (p > 0) ::kill(p, SIGKILL);
      killed = true;
    }
    std::this_thread::sleep_for(std::chrono::milliseconds(20));
  }
  sigaction(SIGINT, &old_int, nullptr);
  sigaction(SIGTERM, &old_term, nullptr);
  return result;
}

}  // namespace packbench::train
