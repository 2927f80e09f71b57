// The smoke study through a real single-node Slurm started here (munged, slurmctld, slurmd), compared with the local executor.
#include <arpa/inet.h>
#include <fcntl.h>
#include <gtest/gtest.h>
#include <netinet/in.h>
#include <signal.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include <chrono>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <map>
#include <set>
#include <sstream>
#include <thread>

#include <nlohmann/json.hpp>

#include "core/atomic_file.h"
#include "tests/common/test_paths.h"

namespace fs = std::filesystem;
using nlohmann::json;
using packbench::testing::run_command;

namespace {

// ---- a local Slurm cluster ------------------------------------------------------------------

bool executable(const std::string& p) { return access(p.c_str(), X_OK) == 0; }

std::string tail_of(const std::string& text, size_t lines = 8) {
  size_t pos = text.size();
  for (size_t i = 0; i <= lines && pos != std::string::npos && pos > 0; ++i) pos = text.rfind('\n', pos - 1);
  return pos == std::string::npos ? text : text.substr(pos + 1);
}

std::string file_tail(const fs::path& p) {
  std::error_code ec;
  if (!fs::exists(p, ec)) return "(no " + p.filename().string() + ")";
  return p.filename().string() + ": " + tail_of(packbench::read_file(p.string()));
}

// Installs Debian's slurm-wlm and munge when they are missing and this process may (root with
// apt-get); returns why not, or "".
std::string ensure_slurm_packages() {
  auto present = [] {
    return executable("/usr/sbin/slurmctld") && executable("/usr/sbin/slurmd") && executable("/usr/sbin/munged") &&
           executable("/usr/bin/sbatch") && executable("/usr/bin/squeue");
  };
  if (present()) return "";
  if (geteuid() != 0) return "slurm-wlm and munge are not installed and installing them needs root (apt-get install slurm-wlm munge)";
  if (!executable("/usr/bin/apt-get")) return "slurm-wlm and munge are not installed and there is no apt-get";
  const std::string install = "DEBIAN_FRONTEND=noninteractive apt-get install -y --no-install-recommends slurm-wlm munge";
  std::string out;
  if (run_command(install, &out) != 0 && run_command("apt-get update && " + install, &out) != 0) {
    return "apt-get install slurm-wlm munge failed: " + tail_of(out, 4);
  }
  return present() ? "" : "slurm-wlm installed but slurmctld/slurmd/sbatch are still missing";
}

int free_port() {
  int fd = socket(AF_INET, SOCK_STREAM, 0);
  sockaddr_in a{};
  a.sin_family = AF_INET;
  a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  a.sin_port = 0;
  socklen_t len = sizeof a;
  int port = -1;
  if (bind(fd, reinterpret_cast<sockaddr*>(&a), sizeof a) == 0 && getsockname(fd, reinterpret_cast<sockaddr*>(&a), &len) == 0) {
    port = ntohs(a.sin_port);
  }
  close(fd);
  return port;
}

long mem_total_mb() {
  std::ifstream f("/proc/meminfo");
  std::string key;
  long kb = 0;
  while (f >> key >> kb) {
    if (key == "MemTotal:") return kb / 1024;
    f.ignore(1 << 10, '\n');
  }
  return 1024;
}

// munged + slurmctld + slurmd for this host, with every file under one folder. The destructor
// stops them (by the pids in their pid files) even when the test failed.
class LocalSlurm {
 public:
  explicit LocalSlurm(std::string dir) : dir_(std::move(dir)) {}
  ~LocalSlurm() { stop(); }

  // Starts the daemons and waits for the node to be idle; false (with why()) when it cannot.
  bool start() {
    if (geteuid() != 0) return fail("starting slurmd needs root (SlurmUser=root)");
    if (std::string w = ensure_slurm_packages(); !w.empty()) return fail(w);
    fs::path d(dir_);
    fs::create_directories(d / "munge");
    fs::create_directories(d / "munge-key");
    fs::create_directories(d / "state");
    fs::create_directories(d / "spool");
    fs::permissions(d / "munge-key", fs::perms::owner_all, fs::perm_options::replace);
    fs::permissions(d, fs::perms::owner_all | fs::perms::group_read | fs::perms::group_exec | fs::perms::others_read |
                           fs::perms::others_exec, fs::perm_options::replace);
    const std::string key = (d / "munge-key" / "munge.key").string(), sock = (d / "munge" / "munge.sock").string();
    std::string out;
    if (run_command("mungekey -c -k " + key + " || dd if=/dev/urandom of=" + key + " bs=1 count=1024", &out) != 0) {
      return fail("cannot create a munge key: " + out);
    }
    fs::permissions(key, fs::perms::owner_read | fs::perms::owner_write, fs::perm_options::replace);
    started_ = true;
    if (run_command("/usr/sbin/munged -f --socket=" + sock + " --key-file=" + key + " --log-file=" + dir_ +
                        "/munged.log --pid-file=" + dir_ + "/munged.pid --seed-file=" + dir_ + "/munge-key/munged.seed",
                    &out) != 0) {
      return fail("munged did not start: " + out + " " + file_tail(d / "munged.log"));
    }
    char host[256] = {0};
    gethostname(host, sizeof host - 1);
    std::string node = std::string(host).substr(0, std::string(host).find('.'));
    int ctld_port = free_port(), slurmd_port = free_port();
    while (slurmd_port == ctld_port) slurmd_port = free_port();
    const long cpus = sysconf(_SC_NPROCESSORS_ONLN);
    conf_ = (d / "slurm.conf").string();
    std::ostringstream c;
    c << "# packbench test cluster: one node, this host\n"
      << "ClusterName=packbench\nSlurmctldHost=" << node << "(127.0.0.1)\n"
      << "SlurmUser=root\nSlurmdUser=root\n"
      << "SlurmctldPort=" << ctld_port << "\nSlurmdPort=" << slurmd_port << "\n"
      << "AuthType=auth/munge\nCredType=cred/munge\nAuthInfo=socket=" << sock << "\n"
      << "StateSaveLocation=" << dir_ << "/state\nSlurmdSpoolDir=" << dir_ << "/spool\n"
      << "SlurmctldPidFile=" << dir_ << "/slurmctld.pid\nSlurmdPidFile=" << dir_ << "/slurmd.pid\n"
      << "SlurmctldLogFile=" << dir_ << "/slurmctld.log\nSlurmdLogFile=" << dir_ << "/slurmd.log\n"
      << "ProctrackType=proctrack/linuxproc\nTaskPlugin=task/none\n"
      << "SelectType=select/cons_tres\nSelectTypeParameters=CR_Core\nSchedulerType=sched/builtin\n"
      << "AccountingStorageType=accounting_storage/none\nJobCompType=jobcomp/none\n"
      << "JobAcctGatherType=jobacct_gather/none\nMpiDefault=none\nReturnToService=2\nMinJobAge=600\n"
      << "NodeName=" << node << " NodeAddr=127.0.0.1 CPUs=" << cpus << " RealMemory=" << mem_total_mb() * 9 / 10
      << " State=UNKNOWN\n"
      << "PartitionName=packbench Nodes=" << node << " Default=YES MaxTime=INFINITE State=UP\n";
    packbench::write_file_atomic(conf_, c.str());
    setenv("SLURM_CONF", conf_.c_str(), 1);
    node_ = node;
    if (run_command("/usr/sbin/slurmctld -f " + conf_, &out) != 0) {
      return fail("slurmctld did not start: " + out + " " + file_tail(d / "slurmctld.log"));
    }
    if (run_command("/usr/sbin/slurmd -f " + conf_ + " -N " + node, &out) != 0) {
      return fail("slurmd did not start: " + out + " " + file_tail(d / "slurmd.log"));
    }
    for (int i = 0; i < 120; ++i) {
      if (run_command("sinfo -h -N -o %T", &out) == 0 && out.find("idle") != std::string::npos) return true;
      std::this_thread::sleep_for(std::chrono::milliseconds(500));
    }
    return fail("the node did not become idle in 60 s (sinfo: " + out + ") " + file_tail(d / "slurmctld.log") + " " +
                file_tail(d / "slurmd.log"));
  }

  void stop() {
    if (!started_) return;
    started_ = false;
    std::string out;
    if (!node_.empty()) run_command("scancel --user=root", &out);  // only this cluster: SLURM_CONF points here
    for (const char* daemon : {"slurmd", "slurmctld", "munged"}) {
      fs::path pid_file = fs::path(dir_) / (std::string(daemon) + ".pid");
      std::error_code ec;
      if (!fs::exists(pid_file, ec)) continue;
      pid_t pid = static_cast<pid_t>(std::atol(packbench::read_file(pid_file.string()).c_str()));
      if (pid <= 1) continue;
      kill(pid, SIGTERM);
      for (int i = 0; i < 100 && kill(pid, 0) == 0; ++i) std::this_thread::sleep_for(std::chrono::milliseconds(100));
      if (kill(pid, 0) == 0) kill(pid, SIGKILL);
    }
    unsetenv("SLURM_CONF");
  }

  const std::string& why() const { return why_; }
  const std::string& node() const { return node_; }

 private:
  bool fail(const std::string& why) {
    why_ = why;
    stop();
    return false;
  }
  std::string dir_, conf_, node_, why_;
  bool started_ = false;
};

#define PB_START_SLURM(cluster, dir)                                                  \
  LocalSlurm cluster(dir);                                                            \
  if (!cluster.start()) GTEST_SKIP() << "cannot start a local Slurm: " << cluster.why()

// ---- helpers ----------------------------------------------------------------------------------

// A table CSV as rows of named fields, without the columns that measure time.
std::vector<std::map<std::string, std::string>> csv_without_time(const std::string& path) {
  std::istringstream in(packbench::read_file(path));
  std::string line;
  auto split = [](const std::string& l) {
    std::vector<std::string> f;
    std::string cur;
    bool q = false;
    for (char ch : l) {
      if (ch == '"') q = !q;
      else if (ch == ',' && !q) {
        f.push_back(cur);
        cur.clear();
      } else cur += ch;
    }
    f.push_back(cur);
    return f;
  };
  std::getline(in, line);
  auto header = split(line);
  std::vector<std::map<std::string, std::string>> rows;
  while (std::getline(in, line)) {
    auto f = split(line);
    std::map<std::string, std::string> r;
    for (size_t i = 0; i < header.size() && i < f.size(); ++i) {
      const std::string& h = header[i];
      bool time = h.rfind("train_runtime", 0) == 0 || h.rfind("train_steps_per_second", 0) == 0 ||
                  h.rfind("train_samples_per_second", 0) == 0 || h.rfind("train_tokens_per_second", 0) == 0;
      if (!time) r[h] = f[i];
    }
    rows.push_back(r);
  }
  return rows;
}

int count_files(const fs::path& dir, const std::string& prefix) {
  int n = 0;
  std::error_code ec;
  if (!fs::is_directory(dir, ec)) return 0;
  for (const auto& e : fs::directory_iterator(dir)) n += e.path().filename().string().rfind(prefix, 0) == 0;
  return n;
}

std::string smoke_config() { return packbench::testing::source_dir() + "/configs/smoke.yaml"; }

// Starts packbench with its output in `log`; returns its pid.
pid_t spawn_packbench(const std::vector<std::string>& args, const std::string& log) {
  pid_t pid = fork();
  if (pid == 0) {
    int fd = open(log.c_str(), O_WRONLY | O_CREAT | O_TRUNC, 0644);
    dup2(fd, 1);
    dup2(fd, 2);
    std::vector<std::string> argv = {packbench::testing::packbench_bin()};
    argv.insert(argv.end(), args.begin(), args.end());
    std::vector<char*> a;
    for (auto& s : argv) a.push_back(s.data());
    a.push_back(nullptr);
    execv(a[0], a.data());
    _exit(127);
  }
  return pid;
}

int wait_exit(pid_t pid) {
  int status = 0;
  waitpid(pid, &status, 0);
  return WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
}

// Waits until `log` mentions `text` `times` times (or `seconds` pass).
bool wait_for_log(const std::string& log, const std::string& text, int times, int seconds) {
  for (int i = 0; i < seconds * 10; ++i) {
    std::error_code ec;
    std::string s = fs::exists(log, ec) ? packbench::read_file(log) : "";
    int n = 0;
    for (size_t p = s.find(text); p != std::string::npos; p = s.find(text, p + 1)) ++n;
    if (n >= times) return true;
    std::this_thread::sleep_for(std::chrono::milliseconds(100));
  }
  return false;
}

int queued_jobs() {
  std::string out;
  run_command("squeue -h -t PD,R,CG -o %i", &out);
  int n = 0;
  std::istringstream in(out);
  std::string l;
  while (std::getline(in, l)) n += !l.empty();
  return n;
}

}  // namespace

// Data, training and evaluation of every cell as dependent Slurm jobs give the same tables as
// the local executor (time columns aside); a stage that keeps failing is resubmitted once, then
// the cell is given up with its log named.
TEST(SlurmStudy, SmokeStudyThroughSlurmMatchesLocalRun) {
  const std::string dir = packbench::testing::temp_dir("slurm");
  PB_START_SLURM(cluster, dir + "/cluster");
  const bool with_eval = !packbench::testing::shared_benchmarks().empty();
  const std::string tables = with_eval ? "1,3" : "3";
  if (!with_eval) std::printf("shared benchmarks not found: comparing Table 3 only (data and training)\n");
  if (with_eval) setenv("PACKBENCH_SHARED", packbench::testing::shared_benchmarks().c_str(), 1);  // for every job's cwd
  const std::string pb = packbench::testing::packbench_bin();
  std::string local_out, slurm_out;
  ASSERT_EQ(run_command(pb + " matrix run --config " + smoke_config() + " --out " + dir + "/local --table " + tables +
                            " --executor local",
                        &local_out),
            0)
      << tail_of(local_out, 30);
  auto t0 = std::chrono::steady_clock::now();
  ASSERT_EQ(run_command(pb + " matrix run --config " + smoke_config() + " --out " + dir + "/slurm --table " + tables +
                            " --executor slurm",
                        &slurm_out),
            0)
      << tail_of(slurm_out, 40) << "\n" << file_tail(fs::path(dir) / "cluster" / "slurmctld.log");
  std::printf("smoke study through Slurm: %.1f s\n",
              std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count());
  EXPECT_NE(slurm_out.find("submitted: data job"), std::string::npos) << slurm_out;

  for (const std::string t : {"table1", "table3"}) {
    if (t == "table1" && !with_eval) continue;
    auto local = csv_without_time(dir + "/local/tables/" + t + ".csv");
    auto slurm = csv_without_time(dir + "/slurm/tables/" + t + ".csv");
    ASSERT_EQ(local.size(), 2u) << t;  // padding and greedy, each the mean of two seeds
    EXPECT_EQ(local, slurm) << t;
    EXPECT_FALSE(local[0].at(t == "table1" ? "gsm8k_std" : "padding_fraction_std").empty()) << t;
  }
  // The report of the Slurm run: three tables and one loss curve per cell.
  const std::string report = packbench::read_file(dir + "/slurm/report.html");
  for (const char* id : {"id=\"table1\"", "id=\"table2\"", "id=\"table3\""}) EXPECT_NE(report.find(id), std::string::npos) << id;
  int curves = 0;
  for (size_t p = report.find("<polyline class=\"series\""); p != std::string::npos; p = report.find("<polyline class=\"series\"", p + 1)) ++curves;
  EXPECT_EQ(curves, 4);
  // The run recorded `packbench env` of its machine, and the report shows it.
  const auto env = nlohmann::json::parse(packbench::read_file(dir + "/slurm/env.json"));
  EXPECT_EQ(env.at("packbench_version"), "0.1.0");
  EXPECT_EQ(report.find("id=\"env-missing\""), std::string::npos);
  // Every stage ran as its own job, with its log in the cell folder; nothing is left queued.
  for (const char* seed : {"1", "2"}) {
    for (const char* method : {"padding", "greedy"}) {
      fs::path logs = fs::path(dir) / "slurm" / (std::string("tiny__synth_smoke__") + method + "__seed" + seed) / "logs";
      EXPECT_EQ(count_files(logs, "slurm-data-"), 1) << logs;
      EXPECT_EQ(count_files(logs, "slurm-train-"), 1) << logs;
      EXPECT_EQ(count_files(logs, "slurm-eval-"), with_eval ? 1 : 0) << logs;
    }
  }
  json jobs = json::parse(packbench::read_file(dir + "/slurm/slurm/jobs.json"));
  EXPECT_TRUE(jobs["cells"].empty()) << jobs.dump();
  EXPECT_EQ(queued_jobs(), 0);

  // An evaluation that cannot find its benchmarks fails twice (first try and one resubmission).
  std::string bad = packbench::read_file(smoke_config());
  bad.replace(bad.find("seeds: [1, 2]"), 13, "seeds: [1]");
  bad.replace(bad.find("methods: [padding, greedy]"), 26, "methods: [padding]");
  bad.replace(bad.find("  max_new_tokens: 16\n"), 21, "  max_new_tokens: 16\n  data_root: " + dir + "/no-benchmarks\n");
  packbench::write_file_atomic(dir + "/bad.yaml", bad);
  fs::path logs = fs::path(dir) / "slurm" / "tiny__synth_smoke__padding__seed1" / "logs";
  const int before = count_files(logs, "slurm-eval-");
  std::string fail_out;
  EXPECT_EQ(run_command(pb + " matrix run --config " + dir + "/bad.yaml --out " + dir +
                            "/slurm --stages eval --force --executor slurm",
                        &fail_out),
            1)
      << fail_out;
  EXPECT_EQ(count_files(logs, "slurm-eval-"), before + 2) << fail_out;
  EXPECT_NE(fail_out.find("submitting it again"), std::string::npos) << fail_out;
  EXPECT_NE(fail_out.find("giving up on this cell"), std::string::npos) << fail_out;
  EXPECT_NE(fail_out.find("1 cell(s) failed on Slurm"), std::string::npos) << fail_out;
  EXPECT_NE(fail_out.find("logs/slurm-eval-"), std::string::npos) << fail_out;
}

// Ctrl-C cancels the jobs a run submitted; with --leave-running it leaves them queued and a
// later run follows them instead of submitting them twice.
TEST(SlurmStudy, InterruptCancelsOrLeavesJobsAndALaterRunFollowsThem) {
  const std::string dir = packbench::testing::temp_dir("slurm-int");
  PB_START_SLURM(cluster, dir + "/cluster");
  std::string out;
  // A drained node keeps every job pending, so the interrupt always finds them queued.
  ASSERT_EQ(run_command("scontrol update NodeName=" + cluster.node() + " State=DRAIN Reason=packbench-test", &out), 0) << out;
  const std::vector<std::string> run = {"matrix", "run", "--config", smoke_config(), "--out", dir + "/study",
                                        "--stages", "data", "--executor", "slurm"};
  const std::string log1 = dir + "/run1.log";
  pid_t pid = spawn_packbench(run, log1);
  ASSERT_TRUE(wait_for_log(log1, " submitted: ", 4, 120)) << packbench::read_file(log1);
  EXPECT_EQ(queued_jobs(), 4);
  kill(pid, SIGINT);
  EXPECT_EQ(wait_exit(pid), 130) << packbench::read_file(log1);
  EXPECT_NE(packbench::read_file(log1).find("cancelled 4 job(s)"), std::string::npos) << packbench::read_file(log1);
  for (int i = 0; i < 50 && queued_jobs() > 0; ++i) std::this_thread::sleep_for(std::chrono::milliseconds(100));
  EXPECT_EQ(queued_jobs(), 0);

  std::vector<std::string> leave = run;
  leave.push_back("--leave-running");
  const std::string log2 = dir + "/run2.log";
  pid = spawn_packbench(leave, log2);
  ASSERT_TRUE(wait_for_log(log2, " submitted: ", 4, 120)) << packbench::read_file(log2);
  kill(pid, SIGINT);
  EXPECT_EQ(wait_exit(pid), 130) << packbench::read_file(log2);
  EXPECT_NE(packbench::read_file(log2).find("4 job(s) left in the queue"), std::string::npos) << packbench::read_file(log2);
  EXPECT_EQ(queued_jobs(), 4);

  ASSERT_EQ(run_command("scontrol update NodeName=" + cluster.node() + " State=RESUME", &out), 0) << out;
  std::string log3;
  ASSERT_EQ(run_command(packbench::testing::packbench_bin() + " matrix run --config " + smoke_config() + " --out " + dir +
                            "/study --stages data --table 3 --executor slurm",
                        &log3),
            0)
      << log3;
  EXPECT_NE(log3.find("follows jobs submitted earlier"), std::string::npos) << log3;
  EXPECT_EQ(log3.find(" submitted: "), std::string::npos) << log3;
  for (const char* seed : {"1", "2"}) {
    for (const char* method : {"padding", "greedy"}) {
      fs::path cell = fs::path(dir) / "study" / (std::string("tiny__synth_smoke__") + method + "__seed" + seed);
      EXPECT_TRUE(fs::exists(cell / "data_stats.json")) << cell;
      EXPECT_EQ(count_files(cell / "logs", "slurm-data-"), 1) << cell;  // the first run's jobs were cancelled before starting
    }
  }
}
