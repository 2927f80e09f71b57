// packbench study commands: synth (data), cell (one cell), matrix (the whole study), tables, report.
#include <CLI/CLI.hpp>
#include <fmt/format.h>

#include <cstdlib>
#include <filesystem>
#include <iostream>
#include <sstream>

#include "core/atomic_file.h"
#include "core/error.h"
#include "harness/commands.h"
#include "harness/executor_slurm.h"
#include "harness/study_runner.h"
#include "harness/synth_data.h"
#include "core/paths.h"
#include "results/paper_reference.h"
#include "results/study_report.h"
#include "results/study_tables.h"
#include "results/table.h"

namespace packbench::cli {
namespace fs = std::filesystem;

namespace {

std::vector<std::string> split_list(const std::string& s) {
  std::vector<std::string> out;
  std::stringstream ss(s);
  std::string item;
  while (std::getline(ss, item, ',')) {
    if (!item.empty()) out.push_back(item);
  }
  return out;
}

std::vector<int> parse_tables(const std::string& s) {
  if (s == "all") return {1, 2, 3};
  std::vector<int> out;
  for (const auto& t : split_list(s)) {
    if (t != "1" && t != "2" && t != "3") throw Error("--table: '" + t + "' is not 1, 2, 3 or all");
    out.push_back(std::stoi(t));
  }
  if (out.empty()) throw Error("--table: give 1, 2, 3 or all");
  return out;
}

std::vector<std::string> parse_stages(const std::string& s) {
  auto out = split_list(s);
  for (const auto& st : out) {
    if (st != "data" && st != "train" && st != "eval" && st != "wildbench")
      throw Error("--stages: '" + st + "' is not one of data, train, eval, wildbench");
  }
  return out;
}

struct StudyArgs {
  std::string config, out;
};

void add_study_options(CLI::App* cmd, StudyArgs& a) {
  cmd->add_option("--config", a.config, "study YAML (default: the embedded mini study)");
  cmd->add_option("--out", a.out, "matrix folder (default: the study's 'out')");
}

StudyRunner make_runner(const StudyArgs& a) { return StudyRunner(load_study_config(a.config), a.out); }

// The paper's README next to the shared benchmarks ($PACKBENCH_SHARED or ../shared), or "".
std::string default_paper_readme() {
  std::string b = shared_benchmarks_dir(fs::current_path().string());
  if (b.empty()) return "";
  fs::path p = fs::path(b).parent_path() / "paper" / "packing-analysis-README.md";
  std::error_code ec;
  return fs::exists(p, ec) ? p.string() : "";
}

// <runs>/report.html; returns its path.
std::string write_study_report(const std::string& runs, const std::string& paper, const std::string& out) {
  results::ReportOptions o;
  o.runs_dir = runs;
  o.paper_readme = paper.empty() ? default_paper_readme() : paper;
  std::string path = out.empty() ? (fs::path(runs) / "report.html").string() : out;
  results::write_report(o, path);
  return path;
}

}  // namespace

void add_study_commands(CLI::App& app) {
  // ---- synth ----
  auto* synth = app.add_subcommand("synth", "write a synthetic sharegpt SFT dataset with dataset_info.json");
  static std::string synth_out, synth_name = "synth";
  static SynthOptions so;
  synth->add_option("--out", synth_out, "folder for <name>.json and dataset_info.json")->required();
  synth->add_option("--name", synth_name, "dataset name in dataset_info.json");
  synth->add_option("--samples", so.samples, "number of conversations");
  synth->add_option("--seed", so.seed, "random seed");
  synth->add_option("--max-turns", so.max_turns, "exchanges per conversation, 1..N");
  synth->callback([] {
    write_synth_dataset(synth_out, synth_name, so);
    fmt::print("wrote {} conversations to {}/{}.json\n", so.samples, synth_out, synth_name);
  });

  // ---- cell ----
  auto* cell = app.add_subcommand("cell", "run one (model, dataset, method) cell of the study, or list the cells");
  static StudyArgs cell_args;
  static std::string cell_id, cell_stages = "data,train,eval";
  static bool cell_force = false, cell_list = false;
  add_study_options(cell, cell_args);
  cell->add_option("--cell", cell_id, "cell id (see --list)");
  cell->add_option("--stages", cell_stages, "comma-separated: data, train, eval");
  cell->add_flag("--force", cell_force, "rerun stages whose outputs exist");
  cell->add_flag("--list", cell_list, "list the matrix's cells and exit");
  cell->callback([] {
    StudyRunner runner = make_runner(cell_args);
    if (cell_list) {
      for (const auto& c : runner.cells()) fmt::print("{}\n", c.id);
      return;
    }
    if (cell_id.empty()) throw Error("cell: give --cell ID (or --list)");
    auto stages = parse_stages(cell_stages);
    for (const auto& c : runner.cells()) {
      if (c.id == cell_id) {
        const char* rank = std::getenv("RANK");
        if (!rank || std::string(rank) == "0") runner.prepare();
        runner.run_cell(c, stages, cell_force);
        return;
      }
    }
    throw Error("cell: no cell '" + cell_id + "' in " + runner.config().source + " (see --list)");
  });

  // ---- matrix ----
  auto* matrix = app.add_subcommand("matrix", "the whole experiment matrix: run, list, status, slurm");
  matrix->require_subcommand(1);
  static StudyArgs m_args;
  static std::string m_table = "3", m_stages;
  static bool m_force = false;
  static std::string m_executor;
  static bool m_leave_running = false;
  auto* run = matrix->add_subcommand("run", "run every unfinished cell (locally or through Slurm), then write the table(s)");
  add_study_options(run, m_args);
  run->add_option("--table", m_table, "1, 2, 3 or all: which table to produce (decides the stages)");
  run->add_option("--stages", m_stages, "override the stages (data,train,eval)");
  run->add_flag("--force", m_force, "rerun stages whose outputs exist");
  run->add_option("--executor", m_executor, "local or slurm (default: the study's executor.type)");
  run->add_flag("--leave-running", m_leave_running,
                "slurm: on Ctrl-C leave the submitted jobs running (a later run follows them) instead of cancelling them");
  run->callback([] {
    auto tables = parse_tables(m_table);
    std::vector<std::string> stages = {"data", "train"};
    for (int t : tables) {
      if (t == 1) stages = StudyRunner::stages_for_table(1);
    }
    for (int t : tables) {
      if (t == 2) stages.push_back("wildbench");
    }
    if (!m_stages.empty()) stages = parse_stages(m_stages);
    StudyRunner runner = make_runner(m_args);
    std::string executor = m_executor.empty() ? runner.config().executor.value("type", "local") : m_executor;
    if (executor != "local" && executor != "slurm") throw Error("--executor: '" + executor + "' is not one of local, slurm");
    fmt::print(stderr, "packbench: study '{}' from {}: {} cells, stages {}, executor {}, output {}\n", runner.config().name,
               runner.config().source, runner.cells().size(), fmt::join(stages, ","), executor, runner.out_dir());
    if (executor == "slurm") {
      SlurmRunOptions o;
      o.stages = stages;
      o.force = m_force;
      o.leave_running = m_leave_running;
      // Tables follow the results as cells finish, so a long study can be looked at midway.
      o.on_cell_finished = [&](const Cell& c) {
        try {
          runner.write_tables(tables);
        } catch (const Error& e) {
          fmt::print(stderr, "packbench: tables not refreshed after {}: {}\n", c.id, e.what());
        }
      };
      SlurmRunResult r = run_study_on_slurm(runner, m_args.config, o);
      if (r.interrupted) {
        fmt::print(stderr, "packbench: stopped before the study finished ({} cells done)\n", r.finished.size());
        std::exit(130);
      }
      if (!r.failed.empty()) {
        if (!r.finished.empty()) runner.write_tables(tables);
        throw Error(fmt::format("{} cell(s) failed on Slurm:\n  {}", r.failed.size(), fmt::join(r.failed, "\n  ")));
      }
    } else {
      runner.run_all(stages, m_force);
    }
    std::string md = runner.write_tables(tables);
    std::cout << md;
    fmt::print(stderr, "packbench: tables written to {}/tables/\n", runner.out_dir());
    fmt::print(stderr, "packbench: report written to {}\n", write_study_report(runner.out_dir(), "", ""));
  });
  auto* list = matrix->add_subcommand("list", "list the cells");
  add_study_options(list, m_args);
  list->callback([] {
    for (const auto& c : make_runner(m_args).cells()) fmt::print("{}\n", c.id);
  });
  auto* status = matrix->add_subcommand("status", "which stages of which cells are finished");
  add_study_options(status, m_args);
  status->callback([] {
    StudyRunner runner = make_runner(m_args);
    for (const auto& c : runner.cells()) {
      fs::path d = runner.cell_dir(c);
      auto mark = [&](const fs::path& p) { return fs::exists(p) ? "done" : "-"; };
      fmt::print("{:<48} data:{:<5} train:{:<5} eval:{}\n", c.id, mark(d / "data_stats.json"),
                 mark(d / "train" / "train_results.json"), mark(d / "eval" / "results.json"));
    }
  });
  auto* slurm = matrix->add_subcommand("slurm", "write one sbatch script per cell (and submit_all.sh)");
  add_study_options(slurm, m_args);
  slurm->callback([] {
    StudyRunner runner = make_runner(m_args);
    runner.prepare();
    auto paths = write_slurm_scripts(runner, m_args.config);
    fmt::print("wrote {} scripts; submit with: bash {}/slurm/submit_all.sh\n", paths.size(), runner.out_dir());
  });

  // ---- report ----
  auto* report = app.add_subcommand("report", "write a study's report: one self-contained HTML page");
  static std::string r_runs, r_paper, r_out;
  report->add_option("--runs", r_runs, "matrix folder holding cell folders")->required();
  report->add_option("--paper", r_paper, "the paper's README (default: next to the shared benchmarks)");
  report->add_option("--out", r_out, "output file (default: <runs>/report.html)");
  report->callback([] { fmt::print("{}\n", write_study_report(r_runs, r_paper, r_out)); });

  // ---- tables ----
  auto* tables = app.add_subcommand("tables", "regenerate tables from stored cell results (no training)");
  static std::string t_runs, t_table = "all", t_format = "csv,md,html,tex", t_out, t_paper;
  tables->add_option("--runs", t_runs, "matrix folder holding cell folders");
  tables->add_option("--table", t_table, "1, 2, 3, a list, or all");
  tables->add_option("--format", t_format, "comma-separated: csv, md, html, tex");
  tables->add_option("--out", t_out, "output folder (default: <runs>/tables)");
  tables->add_option("--paper", t_paper, "render the paper's published tables from its README instead");
  tables->callback([] {
    auto nums = parse_tables(t_table);
    auto formats = split_list(t_format);
    if (!t_paper.empty()) {
      std::vector<std::string> cols;
      auto rows = results::parse_paper_tables(read_file(t_paper), &cols);
      auto cells = results::paper_cells(rows, cols);
      std::string out = t_out.empty() ? "paper_tables" : t_out;
      for (int n : nums) {
        auto t = results::build_table(n, cells);
        for (const auto& f : formats) {
          write_file_atomic((fs::path(out) / (t.id + "." + f)).string(), results::render(t, f));
        }
        std::cout << results::to_markdown(t) << "\n";
      }
      return;
    }
    if (t_runs.empty()) throw Error("tables: give --runs DIR (a matrix folder) or --paper README");
    std::string out = t_out.empty() ? (fs::path(t_runs) / "tables").string() : t_out;
    for (int n : nums) std::cout << write_tables_from_runs(t_runs, {n}, formats, out) << "\n";
    fmt::print(stderr, "packbench: tables written to {}\n", out);
  });
}

}  // namespace packbench::cli
