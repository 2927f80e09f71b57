// The study report: one self-contained HTML page (tables beside the paper's, loss curves, throughput, data, config, environment).
#include "results/study_report.h"

#include <fmt/format.h>

#include <algorithm>
#include <cmath>
#include <ctime>
#include <filesystem>
#include <map>
#include <set>

#include "core/atomic_file.h"
#include "core/error.h"
#include "results/study_tables.h"
#include "results/svg_chart.h"
#include "results/table.h"

namespace packbench::results {
namespace fs = std::filesystem;
using nlohmann::json;

std::vector<TimeIdentity> paper_time_identity(const std::vector<PaperRow>& rows) {
  std::vector<TimeIdentity> out;
  for (const auto& r : rows) {
    if (r.table != 3 || r.values.size() < 4 || !(r.values[3] > 0)) continue;
    TimeIdentity t;
    for (const auto& g : r.groups) t.row += g + " / ";
    t.row += r.label;
    t.steps = r.values[1];
    t.runtime = r.values[2];
    t.steps_per_second = r.values[3];
    t.ratio = t.runtime / (t.steps / t.steps_per_second);
    out.push_back(t);
  }
  return out;
}

std::vector<TimeIdentity> measured_time_identity(const std::vector<CellRecord>& cells) {
  std::vector<TimeIdentity> out;
  for (const auto& c : cells) {
    auto steps = c.train_metric("global_step"), rate = c.train_metric("train_steps_per_second"),
         runtime = c.train_metric("train_runtime");
    if (!steps || !rate || !runtime || !(*rate > 0) || !(*steps > 0)) continue;
    out.push_back({c.cell_id, *steps, *rate, *runtime, *runtime / (*steps / *rate)});
  }
  return out;
}

std::vector<std::pair<double, double>> loss_curve(const CellRecord& c) {
  std::vector<std::pair<double, double>> pts;
  auto steps = c.train_metric("global_step");
  auto tokens = c.train_metric("train_tokens");
  const double per_step = steps && tokens && *steps > 0 ? *tokens / *steps : 0.0;
  for (const auto& e : c.log_history) {
    if (!e.is_object() || !e.contains("loss") || !e["loss"].is_number() || !e.contains("step")) continue;
    double x = e.value("num_input_tokens_seen", 0.0);
    if (!(x > 0)) {
      if (!(per_step > 0)) continue;
      x = e["step"].get<double>() * per_step;
    }
    pts.emplace_back(x, e["loss"].get<double>());
  }
  return pts;
}

namespace {

const char* method_color(const std::string& m) {
  if (m == "padding") return "#555555";
  if (m == "random") return "#1f77b4";
  if (m == "greedy") return "#2ca02c";
  if (m == "bfd") return "#9467bd";
  return "#d62728";
}

std::string seed_of(const CellRecord& c) {
  auto it = c.cell.find("seed");
  return it != c.cell.end() && it->is_number_integer() ? std::to_string(it->get<int64_t>()) : "";
}

std::string pre(const std::string& text) { return "<pre>" + html_escape(text) + "</pre>\n"; }

std::string now_utc() {
  std::time_t t = std::time(nullptr);
  char buf[32];
  std::strftime(buf, sizeof buf, "%Y-%m-%d %H:%M:%S UTC", std::gmtime(&t));
  return buf;
}

// Distinct values of one group level, in table order.
std::vector<std::string> distinct_groups(const Table& t, size_t level) {
  std::vector<std::string> out;
  for (const auto& r : t.rows) {
    if (level < r.groups.size() && std::find(out.begin(), out.end(), r.groups[level]) == out.end()) {
      out.push_back(r.groups[level]);
    }
  }
  return out;
}

// Pairs the measured table's groups with the paper's: by equal name, else by position (the
// study's first model with the paper's first, and so on).
class PaperMatch {
 public:
  PaperMatch(const Table& measured, const Table* paper) : paper_(paper) {
    if (!paper) return;
    const size_t levels = measured.group_names.size();
    maps_.resize(levels);
    for (size_t l = 0; l < levels; ++l) {
      auto mine = distinct_groups(measured, l), theirs = distinct_groups(*paper, l);
      for (size_t i = 0; i < mine.size(); ++i) {
        if (std::find(theirs.begin(), theirs.end(), mine[i]) != theirs.end()) maps_[l][mine[i]] = mine[i];
        else if (i < theirs.size()) maps_[l][mine[i]] = theirs[i];
      }
    }
  }
  const TableRow* find(const TableRow& r) const {
    if (!paper_) return nullptr;
    std::vector<std::string> g;
    for (size_t l = 0; l < r.groups.size(); ++l) {
      auto it = l < maps_.size() ? maps_[l].find(r.groups[l]) : maps_.front().end();
      if (l >= maps_.size() || it == maps_[l].end()) return nullptr;
      g.push_back(it->second);
    }
    for (const auto& p : paper_->rows) {
      if (p.groups == g && p.label == r.label) return &p;
    }
    return nullptr;
  }
  const Table* paper() const { return paper_; }

 private:
  const Table* paper_;
  std::vector<std::map<std::string, std::string>> maps_;
};

std::string paper_row_html(const Table& measured, const PaperMatch& match, const TableRow& r) {
  const TableRow* p = match.find(r);
  if (!p) return "";
  std::string where;
  for (const auto& g : p->groups) where += (where.empty() ? "" : ", ") + g;
  std::string out = "<tr class=\"paper\"><td class=\"l\" title=\"" + html_escape(where) + "\">paper: " +
                    html_escape(p->groups.empty() ? p->label : p->groups.back()) + "</td>";
  for (size_t c = 0; c < measured.columns.size(); ++c) {
    out += "<td>" + (c < match.paper()->columns.size() ? html_escape(cell_text(*match.paper(), *p, c)) : "-") + "</td>";
  }
  return out + "</tr>\n";
}

std::string signed_text(double d, int precision) {
  double r = std::round(d * std::pow(10.0, precision)) / std::pow(10.0, precision);
  if (r == 0) r = 0;
  return fmt::format("{}{:.{}f}", r >= 0 ? "+" : "", r, precision);
}

// Measured against published direction of every delta of a table.
std::string directions_html(const Table& measured, const PaperMatch& match, int* same_out, int* total_out) {
  if (!match.paper()) return "";
  std::string rows;
  int same = 0, total = 0, opposite = 0;
  for (const auto& r : measured.rows) {
    if (r.baseline) continue;
    const TableRow* p = match.find(r);
    if (!p) continue;
    std::string line = "<tr><td class=\"l\">";
    for (const auto& g : r.groups) line += html_escape(g) + " / ";
    line += html_escape(r.label) + "</td>";
    bool any = false;
    for (size_t c = 0; c < measured.columns.size(); ++c) {
      if (!measured.columns[c].show_delta) continue;
      auto d = c < r.deltas.size() ? r.deltas[c] : std::nullopt;
      auto pd = c < p->deltas.size() ? p->deltas[c] : std::nullopt;
      if (!d || !pd) {
        line += "<td class=\"na\">-</td>";
        continue;
      }
      any = true;
      const int prec = measured.columns[c].precision;
      const int s1 = std::fabs(*d) < 0.5 * std::pow(10.0, -prec) ? 0 : (*d > 0 ? 1 : -1);
      const int s2 = std::fabs(*pd) < 0.5 * std::pow(10.0, -prec) ? 0 : (*pd > 0 ? 1 : -1);
      const bool mine_beyond = c < r.beyond_noise.size() && r.beyond_noise[c] && *r.beyond_noise[c];
      const bool theirs_beyond = c < p->beyond_noise.size() && p->beyond_noise[c] && *p->beyond_noise[c];
      std::string cls = s1 == 0 || s2 == 0 ? "flat" : (s1 == s2 ? "agree" : "disagree");
      if (s1 != 0 && s2 != 0) {
        ++total;
        same += s1 == s2;
        opposite += s1 != s2;
      }
      line += fmt::format("<td class=\"{}\">{}{} / {}{}</td>", cls, signed_text(*d, prec), mine_beyond ? "*" : "",
                          signed_text(*pd, prec), theirs_beyond ? "*" : "");
    }
    if (any) rows += line + "</tr>\n";
  }
  if (rows.empty()) return "<p>No delta has both a measured and a published value.</p>\n";
  std::string out = fmt::format(
      "<p>Same direction as the paper in <b>{} of {}</b> deltas that are non-zero on both sides ({} opposite). Each "
      "cell: measured / paper; * beyond two standard errors.</p>\n<table class=\"pb-table directions\"><tr><th class=\"l\">row</th>",
      same, total, opposite);
  for (const auto& c : measured.columns) {
    if (c.show_delta) out += "<th>" + html_escape(c.header) + "</th>";
  }
  out += "</tr>\n" + rows + "</table>\n";
  if (same_out) *same_out += same;
  if (total_out) *total_out += total;
  return out;
}

std::string identity_html(const std::vector<TimeIdentity>& ids, const std::string& what, double expect, double tol,
                          bool show_rows) {
  if (ids.empty()) return "<p>" + html_escape(what) + ": no rows with steps, rate and time.</p>\n";
  std::vector<double> ratios;
  for (const auto& t : ids) ratios.push_back(t.ratio);
  std::sort(ratios.begin(), ratios.end());
  const double median = ratios[ratios.size() / 2];
  int off = 0;
  for (double r : ratios) off += std::fabs(r - expect) > tol * expect;
  std::string out = fmt::format(
      "<p class=\"check\" id=\"{}\">{}: Total Training Time / (Total Steps / Steps per Second) is between "
      "<b>{:.3f}</b> and <b>{:.3f}</b> (median {:.3f}) over {} rows; {} of them differ from {} by more than {:.0f}%.</p>\n",
      what == "packbench" ? "identity-measured" : "identity-paper", html_escape(what), ratios.front(), ratios.back(), median,
      ratios.size(), off, expect, tol * 100);
  if (!show_rows) return out;
  out += "<details><summary>rows</summary><table class=\"pb-table\"><tr><th class=\"l\">row</th><th>Total Steps</th>"
         "<th>Steps per Second</th><th>Steps / rate (s)</th><th>Total Training Time (s)</th><th>ratio</th></tr>\n";
  for (const auto& t : ids) {
    out += fmt::format("<tr><td class=\"l\">{}</td><td>{:.0f}</td><td>{:.3f}</td><td>{:.1f}</td><td>{:.3f}</td><td>{:.3f}</td></tr>\n",
                       html_escape(t.row), t.steps, t.steps_per_second, t.steps / t.steps_per_second, t.runtime, t.ratio);
  }
  return out + "</table></details>\n";
}

std::string number_or_dash(const json& j, const char* key, int precision, double scale = 1.0) {
  auto it = j.find(key);
  if (it == j.end() || !it->is_number()) return "-";
  return fmt::format("{:.{}f}", it->get<double>() * scale, precision);
}

}  // namespace

std::string build_report(const ReportOptions& o) {
  std::vector<CellRecord> cells = load_cells(o.runs_dir);
  if (cells.empty()) throw Error(o.runs_dir + ": no cells found (folders with cell.json)");
  std::vector<PaperRow> paper_rows;
  std::vector<CellRecord> paper;
  std::string paper_note;
  if (!o.paper_readme.empty()) {
    std::vector<std::string> cols;
    paper_rows = parse_paper_tables(read_file(o.paper_readme), &cols);
    paper = paper_cells(paper_rows, cols);
  } else {
    paper_note = "The paper's README was not found, so its numbers are not shown (packbench report --paper FILE).";
  }
  const fs::path runs(o.runs_dir);
  std::string study = cells.front().cell.value("study", runs.filename().string());

  std::string h = "<!DOCTYPE html>\n<html lang=\"en\"><head><meta charset=\"utf-8\"><title>packbench study " +
                  html_escape(study) + "</title>\n<style>body{font-family:sans-serif;margin:2em;max-width:1300px}" +
                  table_css() +
                  "tr.paper td{color:#666;font-style:italic;background:#fafafa;font-size:90%}"
                  "td.agree{background:#e3f4e3}td.disagree{background:#fbe3e3}td.flat,td.na{color:#999}"
                  "pre{background:#f5f5f5;padding:1em;overflow:auto;font-size:85%}p.check{background:#fff7e0;"
                  "padding:.5em}.charts{display:flex;flex-wrap:wrap;gap:1em}h2{border-bottom:1px solid #ccc}"
                  "</style></head><body>\n";
  h += "<h1>packbench study <code>" + html_escape(study) + "</code></h1>\n";
  h += fmt::format("<p>{} cells from <code>{}</code>; report written {}. Tables come from the same records as "
                   "tables/table*.csv; the paper's published numbers (Wang et al., 2024, <i>Packing Analysis</i>) "
                   "are printed in grey under each row, paired by name or else by position.</p>\n",
                   cells.size(), html_escape(fs::absolute(runs).lexically_normal().string()), now_utc());
  if (!paper_note.empty()) h += "<p class=\"check\">" + html_escape(paper_note) + "</p>\n";

  // ---- consistency checks ----
  h += "<h2 id=\"checks\">Consistency checks</h2>\n";
  if (!paper_rows.empty()) {
    h += identity_html(paper_time_identity(paper_rows), "The paper's Table 3", 1.0, 0.05, true);
    h += "<p>In the paper's Table 3 the published Total Training Time is about one tenth of Total Steps / Steps per "
         "Second in every row, so one of the three columns is not in the unit its header gives; its time deltas "
         "are compared below as printed.</p>\n";
  }
  h += identity_html(measured_time_identity(cells), "packbench", 1.0, 0.05, true);

  // ---- tables ----
  int same = 0, total = 0;
  std::string directions;
  for (int n : {1, 2, 3}) {
    Table t = build_table(n, cells);
    std::optional<Table> pt;
    if (!paper.empty()) pt = build_table(n, paper);
    PaperMatch match(t, pt ? &*pt : nullptr);
    h += "<h2 id=\"" + t.id + "\">" + html_escape(t.title) + "</h2>\n";
    h += to_html_table(t, [&](const TableRow& r) { return paper_row_html(t, match, r); });
    if (pt && n != 2) {
      directions += "<h3>" + html_escape(t.title.substr(0, t.title.find(':'))) + "</h3>\n" +
                    directions_html(t, match, &same, &total);
    }
  }
  if (!paper.empty()) {
    h += fmt::format("<h2 id=\"directions\">Direction of every delta: measured against the paper</h2>\n"
                     "<p>Over Tables 1 and 3: {} of {} deltas point the same way as the paper's.</p>\n",
                     same, total) +
         directions;
  }

  // ---- loss curves ----
  h += "<h2 id=\"loss\">Training loss against tokens seen</h2>\n<p>Packing changes the number of steps, so the "
       "curves are drawn against real (non-padding) tokens seen: the log's num_input_tokens_seen when recorded, "
       "else step x the run's mean real tokens per step.</p>\n<div class=\"charts\">\n";
  std::map<std::pair<std::string, std::string>, std::vector<const CellRecord*>> groups;
  std::vector<std::pair<std::string, std::string>> group_order;
  for (const auto& c : cells) {
    auto key = std::make_pair(dataset_title(c), c.model);
    if (!groups.count(key)) group_order.push_back(key);
    groups[key].push_back(&c);
  }
  for (const auto& key : group_order) {
    std::vector<Series> series;
    auto members = groups[key];
    std::stable_sort(members.begin(), members.end(),
                     [](const CellRecord* a, const CellRecord* b) { return method_rank(a->method) < method_rank(b->method); });
    std::map<std::string, int> seen;
    for (const CellRecord* c : members) {
      Series s;
      s.name = method_label(c->method) + (seed_of(*c).empty() ? "" : ", seed " + seed_of(*c));
      s.color = method_color(c->method);
      s.dashed = seen[c->method]++ > 0;
      s.points = loss_curve(*c);
      series.push_back(std::move(s));
    }
    h += svg_line_chart(key.second + " — " + key.first, "tokens seen", "training loss", series);
  }
  h += "</div>\n";

  // ---- throughput ----
  std::vector<Bar> tps, runtime;
  for (const auto& c : cells) {
    if (auto v = c.train_metric("train_tokens_per_second")) tps.push_back({c.cell_id, *v, method_color(c.method)});
    if (auto v = c.train_metric("train_runtime")) runtime.push_back({c.cell_id, *v, method_color(c.method)});
  }
  h += "<h2 id=\"throughput\">Tokens per second and total training time per cell</h2>\n<div class=\"charts\">\n";
  h += svg_bar_chart("Tokens per second (real tokens)", "tok/s", tps, 820);
  h += svg_bar_chart("Total training time", "s", runtime, 820);
  h += "</div>\n";

  // ---- data ----
  h += "<h2 id=\"data\">Rows, padding and lost samples per cell</h2>\n<table class=\"pb-table\" id=\"data-table\"><tr>"
       "<th class=\"l\">cell</th><th>samples</th><th>rows</th><th>train rows</th><th>steps</th><th>padding (%)</th>"
       "<th>truncated samples</th><th>dropped samples</th></tr>\n";
  for (const auto& c : cells) {
    const json& d = c.data_stats;
    h += "<tr><td class=\"l\">" + html_escape(c.cell_id) + "</td><td>" + number_or_dash(d, "samples", 0) + "</td><td>" +
         number_or_dash(d, "rows", 0) + "</td><td>" + number_or_dash(d, "train_rows", 0) + "</td><td>" +
         number_or_dash(d, "total_steps", 0) + "</td><td>" + number_or_dash(d, "padding_fraction", 2, 100.0) +
         "</td><td>" + number_or_dash(d, "truncated_samples", 0) + "</td><td>" + number_or_dash(d, "dropped_samples", 0) +
         "</td></tr>\n";
  }
  h += "</table>\n";

  // ---- configuration and machine ----
  h += "<h2 id=\"config\">Resolved configuration</h2>\n";
  std::error_code ec;
  fs::path yaml = runs / "study.yaml";
  h += fs::exists(yaml, ec) ? pre(read_file(yaml.string())) : "<p>not recorded (no study.yaml)</p>\n";
  h += "<h2 id=\"env\">Machine (packbench env)</h2>\n";
  fs::path env = runs / "env.json";
  if (fs::exists(env, ec)) {
    try {
      h += pre(json::parse(read_file(env.string())).dump(2));
    } catch (const json::parse_error& e) {
      throw Error(env.string() + ": not valid JSON: " + e.what());
    }
  } else {
    h += "<p id=\"env-missing\">not recorded (no env.json in this matrix folder)</p>\n";
  }
  h += "</body></html>\n";
  return h;
}

void write_report(const ReportOptions& o, const std::string& out_path) { write_file_atomic(out_path, build_report(o)); }

}  // namespace packbench::results
