// Slurm executor: sbatch scripts per cell or per stage, and a run that submits, follows and collects them.
#include "harness/executor_slurm.h"

#include <fmt/format.h>
#include <unistd.h>

#include <chrono>
#include <csignal>
#include <filesystem>
#include <map>
#include <set>

#include "core/atomic_file.h"
#include "core/error.h"
#include "core/progress.h"
#include "harness/slurm_client.h"
#include "harness/subprocess.h"

namespace packbench::cli {
namespace fs = std::filesystem;
using nlohmann::json;

namespace {

struct SlurmShape {
  int nodes = 1, gpus_per_node = 0, ntasks_per_node = 1;
};

SlurmShape shape_of(const json& slurm, const std::string& where) {
  auto int_of = [&](const char* key, int def, int min) {
    auto it = slurm.find(key);
    if (it == slurm.end()) return def;
    if (!it->is_number_integer() || it->get<int>() < min) {
      throw Error(fmt::format("{}.executor.slurm.{}: expected an integer >= {}", where, key, min));
    }
    return it->get<int>();
  };
  SlurmShape s;
  s.nodes = int_of("nodes", 1, 1);
  s.gpus_per_node = int_of("gpus_per_node", 8, 0);
  s.ntasks_per_node = int_of("ntasks_per_node", s.gpus_per_node > 0 ? s.gpus_per_node : 1, 1);
  return s;
}

// The #SBATCH lines every script shares (account, partition, time, ...) after the shape lines.
std::string common_sbatch_lines(const json& slurm) {
  std::string s;
  if (slurm.contains("cpus_per_task")) s += fmt::format("#SBATCH --cpus-per-task={}\n", slurm["cpus_per_task"].get<int>());
  if (slurm.contains("partition")) s += "#SBATCH --partition=" + slurm["partition"].get<std::string>() + "\n";
  if (slurm.contains("account")) s += "#SBATCH --account=" + slurm["account"].get<std::string>() + "\n";
  if (slurm.contains("time")) s += "#SBATCH --time=" + slurm["time"].get<std::string>() + "\n";
  if (slurm.contains("mem")) s += "#SBATCH --mem=" + slurm["mem"].get<std::string>() + "\n";
  for (const auto& line : slurm.value("extra", json::array())) s += "#SBATCH " + line.get<std::string>() + "\n";
  return s;
}

std::string cell_command(const StudyRunner& runner, const Cell& cell, const std::string& config_path) {
  const std::string out = fs::absolute(runner.out_dir()).string();
  const std::string cfg = config_path.empty() ? "" : fs::absolute(config_path).string();
  return "cell " + (cfg.empty() ? std::string() : "--config " + shell_join({cfg}) + " ") + "--out " +
         shell_join({out}) + " --cell " + cell.id;
}

// srun starts one packbench per rank with the variables torchrun would set.
const char* kSrunTrain =
    "srun --kill-on-bad-exit=1 bash -c 'export RANK=$SLURM_PROCID WORLD_SIZE=$SLURM_NTASKS "
    "LOCAL_RANK=$SLURM_LOCALID; exec \"$0\" \"$@\"' \"$PB\" ";
const char* kMaster =
    "export MASTER_ADDR=$(scontrol show hostnames \"$SLURM_JOB_NODELIST\" | head -n 1)\n"
    "export MASTER_PORT=${MASTER_PORT:-29500}\n";

}  // namespace

std::string slurm_script(const StudyRunner& runner, const Cell& cell, const std::string& config_path) {
  const json slurm = runner.config().executor.value("slurm", json::object());
  const SlurmShape sh = shape_of(slurm, runner.config().source);
  const std::string out = fs::absolute(runner.out_dir()).string();
  const std::string args = cell_command(runner, cell, config_path);
  std::string s = "#!/bin/bash\n";
  s += "# packbench cell " + cell.id + " (study " + runner.config().name + ")\n";
  s += fmt::format("#SBATCH --job-name=pb-{}\n", cell.id);
  s += fmt::format("#SBATCH --nodes={}\n#SBATCH --ntasks-per-node={}\n", sh.nodes, sh.ntasks_per_node);
  if (sh.gpus_per_node > 0) s += fmt::format("#SBATCH --gpus-per-node={}\n", sh.gpus_per_node);
  s += common_sbatch_lines(slurm);
  s += fmt::format("#SBATCH --output={}/{}/logs/slurm-%j.out\n", out, cell.id);
  s += "set -euo pipefail\n";
  for (const auto& line : slurm.value("setup", json::array())) s += line.get<std::string>() + "\n";
  s += kMaster;
  s += "PB=" + shell_join({self_exe()}) + "\n";
  s += "mkdir -p " + shell_join({out + "/" + cell.id + "/logs"}) + "\n";
  s += "WORLD_SIZE=$SLURM_NTASKS \"$PB\" " + args + " --stages data\n";
  s += std::string(kSrunTrain) + args + " --stages train\n";
  s += "\"$PB\" " + args + " --stages eval\n";
  return s;
}

std::string slurm_stage_script(const StudyRunner& runner, const Cell& cell, const std::string& stage,
                               const std::string& config_path, bool force) {
  if (stage != "data" && stage != "train" && stage != "eval" && stage != "wildbench") {
    throw Error("unknown stage '" + stage + "': choose data, train, eval or wildbench");
  }
  const json slurm = runner.config().executor.value("slurm", json::object());
  const SlurmShape sh = shape_of(slurm, runner.config().source);
  const std::string out = fs::absolute(runner.out_dir()).string();
  const std::string args = cell_command(runner, cell, config_path) + " --stages " + stage + (force ? " --force" : "");
  std::string s = "#!/bin/bash\n";
  s += "# packbench cell " + cell.id + ", stage " + stage + " (study " + runner.config().name +
       "), submitted by packbench matrix run --executor slurm\n";
  s += fmt::format("#SBATCH --job-name=pb-{}-{}\n", stage, cell.id);
  if (stage == "train") {
    s += fmt::format("#SBATCH --nodes={}\n#SBATCH --ntasks-per-node={}\n", sh.nodes, sh.ntasks_per_node);
    if (sh.gpus_per_node > 0) s += fmt::format("#SBATCH --gpus-per-node={}\n", sh.gpus_per_node);
  } else {
    s += "#SBATCH --nodes=1\n#SBATCH --ntasks=1\n";
    if ((stage == "eval" || stage == "wildbench") && sh.gpus_per_node > 0) s += "#SBATCH --gpus-per-node=1\n";
  }
  s += common_sbatch_lines(slurm);
  s += fmt::format("#SBATCH --output={}/{}/logs/slurm-{}-%j.out\n", out, cell.id, stage);
  s += "set -euo pipefail\n";
  for (const auto& line : slurm.value("setup", json::array())) s += line.get<std::string>() + "\n";
  s += "PB=" + shell_join({self_exe()}) + "\n";
  if (stage == "train") {
    s += kMaster;
    s += std::string(kSrunTrain) + args + "\n";
  } else if (stage == "data") {
    // The global batch, and so the step count, depends on the number of training ranks.
    s += fmt::format("export WORLD_SIZE={}\n", sh.nodes * sh.ntasks_per_node);
    s += "exec \"$PB\" " + args + "\n";
  } else {
    s += "exec \"$PB\" " + args + "\n";
  }
  return s;
}

std::vector<std::string> write_slurm_scripts(const StudyRunner& runner, const std::string& config_path) {
  fs::path dir = fs::path(runner.out_dir()) / "slurm";
  std::vector<std::string> paths;
  std::string submit = "#!/bin/bash\n# Submits every cell of study " + runner.config().name + "\nset -euo pipefail\n";
  for (const auto& c : runner.cells()) {
    fs::path p = dir / (c.id + ".sbatch");
    write_file_atomic(p.string(), slurm_script(runner, c, config_path));
    fs::permissions(p, fs::perms::owner_exec | fs::perms::group_exec, fs::perm_options::add);
    submit += "sbatch " + shell_join({fs::absolute(p).string()}) + "\n";
    paths.push_back(p.string());
  }
  fs::path sp = dir / "submit_all.sh";
  write_file_atomic(sp.string(), submit);
  fs::permissions(sp, fs::perms::owner_exec, fs::perm_options::add);
  return paths;
}

// ---- submitting and following a study ---------------------------------------------------------

namespace {

volatile std::sig_atomic_t g_interrupted = 0;
extern "C" void on_interrupt(int) { g_interrupted = 1; }

// Installs SIGINT/SIGTERM handlers for its lifetime.
class InterruptGuard {
 public:
  InterruptGuard() {
    g_interrupted = 0;
    struct sigaction sa {};
    sa.sa_handler = on_interrupt;
    sigemptyset(&sa.sa_mask);
    sigaction(SIGINT, &sa, &old_int_);
    sigaction(SIGTERM, &sa, &old_term_);
  }
  ~InterruptGuard() {
    sigaction(SIGINT, &old_int_, nullptr);
    sigaction(SIGTERM, &old_term_, nullptr);
  }

 private:
  struct sigaction old_int_ {}, old_term_ {};
};

// One cell's chain of jobs: the stages still to finish and the job running each.
struct CellChain {
  Cell cell;
  std::vector<std::string> todo;     // stages not finished yet, in order
  std::vector<std::string> jobs;     // job id per todo stage (same length once submitted)
  std::map<std::string, int> failures;
  std::string last_state;            // state of the head job last printed
  bool failed = false;
  bool finished() const { return !failed && todo.empty(); }
};

std::string now_iso() {
  std::time_t t = std::time(nullptr);
  char buf[32];
  std::strftime(buf, sizeof buf, "%Y-%m-%dT%H:%M:%SZ", std::gmtime(&t));
  return buf;
}

class SlurmStudyRun {
 public:
  SlurmStudyRun(StudyRunner& runner, const std::string& config_path, const SlurmRunOptions& o)
      : runner_(runner), config_path_(config_path), o_(o), jobs_file_((fs::path(runner.out_dir()) / "slurm" / "jobs.json").string()) {}

  SlurmRunResult run() {
    SlurmClient::require_tools();
    runner_.prepare();
    const json slurm = runner_.config().executor.value("slurm", json::object());
    double poll = o_.poll_seconds > 0 ? o_.poll_seconds : slurm.value("poll_seconds", 10.0);
    if (!(poll > 0)) throw Error(runner_.config().source + ".executor.slurm.poll_seconds: expected a positive number");

    for (const auto& c : runner_.cells()) {
      CellChain ch{c, {}, {}, {}, "", false};
      for (const auto& st : o_.stages) {
        if (o_.force || !runner_.stage_done(c, st)) ch.todo.push_back(st);
      }
      if (ch.todo.empty()) fmt::print(stderr, "packbench: {} already done, skipped\n", c.id);
      chains_.push_back(std::move(ch));
    }
    int64_t total = 0;
    for (const auto& ch : chains_) total += static_cast<int64_t>(ch.todo.size());
    InterruptGuard guard;
    adopt_or_submit();
    Progress progress("slurm study " + runner_.config().name, total, "stages");
    SlurmRunResult result;
    int query_failures = 0;
    while (!g_interrupted) {
      std::vector<std::string> ids;
      for (const auto& ch : chains_) ids.insert(ids.end(), ch.jobs.begin(), ch.jobs.end());
      if (ids.empty()) break;
      std::map<std::string, SlurmJobState> states;
      try {
        states = client_.query(ids);
        query_failures = 0;
      } catch (const Error& e) {
        if (++query_failures >= 30) throw;
        fmt::print(stderr, "packbench: {} (will ask again)\n", e.what());
      }
      int running = 0, pending = 0;
      for (auto& ch : chains_) {
        if (!states.empty()) progress.add(follow(ch, states));
        if (ch.jobs.empty()) continue;
        auto it = states.find(ch.jobs.front());
        if (it != states.end() && it->second.state == "RUNNING") ++running;
        else ++pending;
      }
      int done = 0, failed = 0;
      for (const auto& ch : chains_) {
        done += ch.finished();
        failed += ch.failed;
      }
      progress.set_postfix(fmt::format("cells: {} running, {} waiting, {} done, {} failed", running, pending, done, failed));
      for (int i = 0; i < static_cast<int>(poll * 10) && !g_interrupted; ++i) usleep(100000);
    }
    progress.finish();
    if (g_interrupted) {
      result.interrupted = true;
      std::vector<std::string> active;
      for (const auto& ch : chains_) active.insert(active.end(), ch.jobs.begin(), ch.jobs.end());
      if (o_.leave_running) {
        result.left_running = active;
        fmt::print(stderr,
                   "packbench: interrupted; {} job(s) left in the queue ({}). Run the same command again to follow "
                   "them, or cancel them with: scancel {}\n",
                   active.size(), fmt::join(active, " "), fmt::join(active, " "));
      } else {
        client_.cancel(active);
        for (auto& ch : chains_) ch.jobs.clear();
        save_jobs();
        fmt::print(stderr, "packbench: interrupted; cancelled {} job(s){}{}\n", active.size(),
                   active.empty() ? "" : ": ", fmt::join(active, " "));
      }
    }
    for (const auto& ch : chains_) {
      if (ch.finished()) result.finished.push_back(ch.cell.id);
      if (ch.failed) result.failed.push_back(ch.cell.id + ": " + failure_.at(ch.cell.id));
    }
    return result;
  }

 private:
  std::string script_for(const Cell& c, const std::string& stage) {
    fs::path p = fs::path(runner_.out_dir()) / "slurm" / (c.id + "." + stage + ".sbatch");
    write_file_atomic(p.string(), slurm_stage_script(runner_, c, stage, config_path_, o_.force));
    fs::permissions(p, fs::perms::owner_exec, fs::perm_options::add);
    return fs::absolute(p).string();
  }

  // Submits the chain of every still unfinished stage of a cell (each after the previous).
  void submit_chain(CellChain& ch) {
    fs::create_directories(fs::path(runner_.cell_dir(ch.cell)) / "logs");  // sbatch's --output folder
    ch.jobs.clear();
    ch.last_state.clear();
    std::string prev;
    for (const auto& st : ch.todo) {
      std::string id = client_.submit(script_for(ch.cell, st), prev.empty() ? std::vector<std::string>{}
                                                                            : std::vector<std::string>{prev});
      ch.jobs.push_back(id);
      prev = id;
    }
    save_jobs();
    fmt::print(stderr, "packbench: {} submitted: {}\n", ch.cell.id, describe_chain(ch));
  }

  static std::string describe_chain(const CellChain& ch) {
    std::string s;
    for (size_t i = 0; i < ch.todo.size() && i < ch.jobs.size(); ++i) {
      s += (i ? " -> " : "") + ch.todo[i] + " job " + ch.jobs[i];
    }
    return s;
  }

  // Follows jobs an earlier, interrupted run left in the queue; submits the rest.
  void adopt_or_submit() {
    json recorded = json::object();
    std::error_code ec;
    if (fs::exists(jobs_file_, ec)) {
      try {
        recorded = json::parse(read_file(jobs_file_)).value("cells", json::object());
      } catch (const json::exception& e) {
        throw Error(jobs_file_ + ": not valid JSON: " + e.what() + " (remove it to submit afresh)");
      }
    }
    std::vector<std::string> ids;
    for (const auto& ch : chains_) {
      auto it = recorded.find(ch.cell.id);
      if (it == recorded.end() || !it->is_object()) continue;
      for (const auto& st : ch.todo) {
        if (it->contains(st) && (*it)[st].is_string()) ids.push_back((*it)[st].get<std::string>());
      }
    }
    std::map<std::string, SlurmJobState> states = client_.query(ids);
    for (auto& ch : chains_) {
      if (ch.todo.empty()) continue;
      if (g_interrupted) break;  // Ctrl-C while submitting: what was submitted is cancelled or left below
      auto it = recorded.find(ch.cell.id);
      std::vector<std::string> mine, active;
      if (it != recorded.end() && it->is_object()) {
        for (const auto& st : ch.todo) {
          if (!it->contains(st) || !(*it)[st].is_string()) continue;
          std::string id = (*it)[st].get<std::string>();
          mine.push_back(id);
          if (states.count(id) && states[id].active()) active.push_back(id);
        }
      }
      if (!mine.empty() && active.size() == ch.todo.size() && mine.size() == ch.todo.size()) {
        ch.jobs = mine;
        fmt::print(stderr, "packbench: {} follows jobs submitted earlier: {}\n", ch.cell.id, describe_chain(ch));
        continue;
      }
      client_.cancel(active);  // a broken chain from an earlier run: start it again
      submit_chain(ch);
    }
    save_jobs();
  }

  // Advances one cell's chain from the job states; returns how many stages finished or were given up.
  int64_t follow(CellChain& ch, const std::map<std::string, SlurmJobState>& states) {
    int64_t advanced = 0;
    while (!ch.todo.empty() && !ch.jobs.empty()) {
      const std::string id = ch.jobs.front(), stage = ch.todo.front();
      auto it = states.find(id);
      if (it == states.end()) break;  // submitted after this query
      const SlurmJobState& st = it->second;
      if (st.active()) {
        if (st.state != ch.last_state && st.state == "RUNNING") {
          fmt::print(stderr, "packbench: {} [{}] running (job {})\n", ch.cell.id, stage, id);
        }
        ch.last_state = st.state;
        break;
      }
      const bool output = runner_.stage_done(ch.cell, stage);
      const bool ok = st.known() ? st.succeeded() && output : output;
      if (ok) {
        fmt::print(stderr, "packbench: {} [{}] finished (job {})\n", ch.cell.id, stage, id);
        ch.todo.erase(ch.todo.begin());
        ch.jobs.erase(ch.jobs.begin());
        ch.last_state.clear();
        ++advanced;
        save_jobs();
        if (ch.todo.empty() && o_.on_cell_finished) o_.on_cell_finished(ch.cell);
        continue;
      }
      std::string log = (fs::path(runner_.cell_dir(ch.cell)) / "logs" / fmt::format("slurm-{}-{}.out", stage, id)).string();
      std::string why = fmt::format("stage {} failed in job {} ({}{}{}); its output is in {}", stage, id, st.state,
                                    st.exit_code.empty() ? "" : ", exit " + st.exit_code,
                                    st.known() && st.succeeded() && !output ? ", but its output files are missing" : "",
                                    log);
      std::vector<std::string> rest(ch.jobs.begin() + 1, ch.jobs.end());
      client_.cancel(rest);  // they wait on this job and would never start
      if (++ch.failures[stage] <= o_.retries) {
        fmt::print(stderr, "packbench: {}: {}; submitting it again\n", ch.cell.id, why);
        submit_chain(ch);
      } else {
        fmt::print(stderr, "packbench: {}: {}; giving up on this cell\n", ch.cell.id, why);
        failure_[ch.cell.id] = why;
        advanced += static_cast<int64_t>(ch.todo.size());
        ch.failed = true;
        ch.todo.clear();
        ch.jobs.clear();
        save_jobs();
      }
      break;
    }
    return advanced;
  }

  // <out>/slurm/jobs.json: the job of every stage still queued, per cell.
  void save_jobs() {
    json cells = json::object();
    for (const auto& ch : chains_) {
      if (ch.jobs.empty()) continue;
      json j = json::object();
      for (size_t i = 0; i < ch.jobs.size() && i < ch.todo.size(); ++i) j[ch.todo[i]] = ch.jobs[i];
      cells[ch.cell.id] = j;
    }
    write_file_atomic(jobs_file_, json{{"study", runner_.config().name}, {"updated_at", now_iso()}, {"cells", cells}}.dump(2));
  }

  StudyRunner& runner_;
  std::string config_path_;
  SlurmRunOptions o_;
  std::string jobs_file_;
  SlurmClient client_;
  std::vector<CellChain> chains_;
  std::map<std::string, std::string> failure_;
};

}  // namespace

SlurmRunResult run_study_on_slurm(StudyRunner& runner, const std::string& config_path, const SlurmRunOptions& options) {
  return SlurmStudyRun(runner, config_path, options).run();
}

}  // namespace packbench::cli
