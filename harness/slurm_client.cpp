// Talks to Slurm through its command-line tools: submit (sbatch), follow (squeue, sacct, scontrol), cancel (scancel).
#include "harness/slurm_client.h"

#include <pwd.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cerrno>
#include <cstdlib>
#include <cstring>
#include <set>
#include <sstream>

#include "core/error.h"
#include "harness/subprocess.h"

namespace packbench::cli {

namespace {

bool on_path(const std::string& tool) {
  const char* path = std::getenv("PATH");
  std::stringstream ss(path ? path : "/usr/bin:/bin");
  std::string dir;
  while (std::getline(ss, dir, ':')) {
    if (!dir.empty() && access((dir + "/" + tool).c_str(), X_OK) == 0) return true;
  }
  return false;
}

std::string trim(const std::string& s) {
  size_t b = s.find_first_not_of(" \t\r\n");
  size_t e = s.find_last_not_of(" \t\r\n");
  return b == std::string::npos ? "" : s.substr(b, e - b + 1);
}

std::vector<std::string> split(const std::string& s, char sep) {
  std::vector<std::string> out;
  std::stringstream ss(s);
  std::string item;
  while (std::getline(ss, item, sep)) out.push_back(item);
  return out;
}

std::string join(const std::vector<std::string>& v, const char* sep) {
  std::string out;
  for (const auto& s : v) out += (out.empty() ? "" : sep) + s;
  return out;
}

std::string user_name() {
  if (const passwd* pw = getpwuid(getuid())) return pw->pw_name;
  return std::to_string(getuid());
}

// "KEY=value" from one line of `scontrol -o show job`.
std::string scontrol_field(const std::string& line, const std::string& key) {
  size_t p = line.find(" " + key + "=");
  if (p == std::string::npos) {
    if (line.rfind(key + "=", 0) != 0) return "";
    p = 0;
  } else {
    p += 1;
  }
  p += key.size() + 1;
  size_t e = line.find(' ', p);
  return line.substr(p, e == std::string::npos ? std::string::npos : e - p);
}

}  // namespace

std::string normalise_slurm_state(const std::string& s) {
  std::string t = trim(s);
  size_t sp = t.find(' ');
  if (sp != std::string::npos) t = t.substr(0, sp);
  size_t plus = t.find('+');  // sacct: "CANCELLED+"
  if (plus != std::string::npos) t = t.substr(0, plus);
  return t.empty() ? "UNKNOWN" : t;
}

bool SlurmJobState::active() const {
  static const std::set<std::string> active_states = {
      "PENDING", "RUNNING", "CONFIGURING", "COMPLETING", "SUSPENDED", "REQUEUED", "REQUEUE_HOLD",
      "REQUEUE_FED", "RESIZING", "SIGNALING", "STAGE_OUT", "STOPPED", "RESV_DEL_HOLD"};
  return active_states.count(state) > 0;
}

bool SlurmJobState::succeeded() const {
  return state == "COMPLETED" && (exit_code.empty() || exit_code == "0:0");
}

int run_tool(const std::vector<std::string>& argv, std::string* output) {
  int fds[2];
  if (pipe(fds) != 0) throw Error(std::string("pipe: ") + std::strerror(errno));
  pid_t pid = fork();
  if (pid < 0) throw Error(std::string("fork: ") + std::strerror(errno));
  if (pid == 0) {
    setpgid(0, 0);
    dup2(fds[1], 1);
    dup2(fds[1], 2);
    close(fds[0]);
    close(fds[1]);
    std::vector<char*> args;
    for (const auto& a : argv) args.push_back(const_cast<char*>(a.c_str()));
    args.push_back(nullptr);
    execvp(args[0], args.data());
    std::fprintf(stderr, "cannot run %s: %s\n", args[0], std::strerror(errno));
    _exit(127);
  }
  close(fds[1]);
  std::string out;
  char buf[8192];
  for (;;) {
    ssize_t n = read(fds[0], buf, sizeof buf);
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) break;
    out.append(buf, n);
  }
  close(fds[0]);
  int status = 0;
  while (waitpid(pid, &status, 0) < 0 && errno == EINTR) {
  }
  if (output) *output = out;
  return WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
}

void SlurmClient::require_tools() {
  for (const char* t : {"sbatch", "squeue", "scancel"}) {
    if (!on_path(t)) {
      throw Error(std::string("executor slurm: '") + t +
                  "' is not on PATH (install Slurm's client tools, e.g. Debian's slurm-client, or run with "
                  "--executor local)");
    }
  }
}

std::string SlurmClient::submit(const std::string& script, const std::vector<std::string>& after_ok) const {
  std::vector<std::string> argv = {"sbatch", "--parsable"};
  if (!after_ok.empty()) argv.push_back("--dependency=afterok:" + join(after_ok, ":"));
  argv.push_back(script);
  std::string out;
  int rc = run_tool(argv, &out);
  if (rc != 0) throw Error("sbatch refused " + script + " (exit " + std::to_string(rc) + "): " + trim(out));
  // --parsable prints "<id>" or "<id>;<cluster>", possibly after warnings on earlier lines.
  std::string last;
  for (const auto& line : split(out, '\n')) {
    if (!trim(line).empty()) last = trim(line);
  }
  std::string id = last.substr(0, last.find(';'));
  if (id.empty() || id.find_first_not_of("0123456789_") != std::string::npos) {
    throw Error("sbatch " + script + ": cannot read a job id from its output: " + trim(out));
  }
  return id;
}

std::map<std::string, SlurmJobState> SlurmClient::query(const std::vector<std::string>& ids) const {
  std::map<std::string, SlurmJobState> states;
  if (ids.empty()) return states;
  std::set<std::string> wanted(ids.begin(), ids.end());
  std::string out;
  int rc = run_tool({"squeue", "-h", "-u", user_name(), "-o", "%i|%T|%r"}, &out);
  if (rc != 0) throw Error("squeue failed (exit " + std::to_string(rc) + "): " + trim(out));
  for (const auto& line : split(out, '\n')) {
    auto f = split(trim(line), '|');
    if (f.size() >= 2 && wanted.count(f[0])) {
      states[f[0]] = {normalise_slurm_state(f[1]), "", f.size() > 2 ? f[2] : ""};
    }
  }
  std::vector<std::string> gone;
  for (const auto& id : ids) {
    if (!states.count(id)) gone.push_back(id);
  }
  if (gone.empty()) return states;
  // Accounting (slurmdbd) knows every finished job; without it sacct fails and scontrol still
  // remembers jobs for MinJobAge seconds after they end.
  if (on_path("sacct") &&
      run_tool({"sacct", "-n", "-X", "-P", "-o", "JobID,State,ExitCode", "-j", join(gone, ",")}, &out) == 0) {
    for (const auto& line : split(out, '\n')) {
      auto f = split(trim(line), '|');
      if (f.size() >= 3 && wanted.count(f[0]) && !states.count(f[0])) {
        states[f[0]] = {normalise_slurm_state(f[1]), f[2], ""};
      }
    }
  }
  for (const auto& id : gone) {
    if (states.count(id)) continue;
    SlurmJobState s{"UNKNOWN", "", ""};
    if (run_tool({"scontrol", "-o", "show", "job", id}, &out) == 0) {
      std::string st = scontrol_field(out, "JobState");
      if (!st.empty()) s = {normalise_slurm_state(st), scontrol_field(out, "ExitCode"), scontrol_field(out, "Reason")};
    }
    states[id] = s;
  }
  return states;
}

void SlurmClient::cancel(const std::vector<std::string>& ids) const {
  if (ids.empty()) return;
  std::vector<std::string> argv = {"scancel"};
  argv.insert(argv.end(), ids.begin(), ids.end());
  std::string out;
  int rc = run_tool(argv, &out);
  if (rc != 0 && !trim(out).empty()) std::fprintf(stderr, "packbench: scancel: %s\n", trim(out).c_str());
}

}  // namespace packbench::cli
