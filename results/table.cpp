// One table schema (columns, grouped rows, deltas against padding, spread over seeds and noise) that every printer reads.
#include "results/table.h"

#include <fmt/format.h>

#include <cctype>
#include <cmath>

#include "core/error.h"

namespace packbench::results {

std::optional<double> TableRow::noise_se(size_t c) const {
  auto sd = std_of(c);
  auto se = stderr_of(c);
  if (!sd && !se) return std::nullopt;
  double var = 0;
  if (sd && count(c) >= 2) var += *sd * *sd / count(c);
  if (se) var += *se * *se;
  return std::sqrt(var);
}

void merge_runs(TableRow& row, const std::vector<RunValues>& runs) {
  size_t cols = 0;
  for (const auto& r : runs) cols = std::max(cols, r.values.size());
  row.values.assign(cols, std::nullopt);
  row.stds.assign(cols, std::nullopt);
  row.stderrs.assign(cols, std::nullopt);
  row.counts.assign(cols, 0);
  for (size_t c = 0; c < cols; ++c) {
    std::vector<double> xs, ses;
    for (const auto& r : runs) {
      if (c < r.values.size() && r.values[c] && std::isfinite(*r.values[c])) xs.push_back(*r.values[c]);
      if (c < r.stderrs.size() && r.stderrs[c] && std::isfinite(*r.stderrs[c])) ses.push_back(*r.stderrs[c]);
    }
    row.counts[c] = static_cast<int>(xs.size());
    if (xs.empty()) continue;
    double mean = 0;
    for (double x : xs) mean += x;
    mean /= static_cast<double>(xs.size());
    row.values[c] = mean;
    if (xs.size() >= 2) {
      double ss = 0;
      for (double x : xs) ss += (x - mean) * (x - mean);
      row.stds[c] = std::sqrt(ss / static_cast<double>(xs.size() - 1));
    }
    if (!ses.empty()) {
      double m = 0;
      for (double e : ses) m += e;
      row.stderrs[c] = m / static_cast<double>(ses.size());
    }
  }
}

bool Table::has_stds() const {
  for (const auto& r : rows) {
    for (const auto& s : r.stds) {
      if (s) return true;
    }
  }
  return false;
}

bool Table::has_stderrs() const {
  for (const auto& r : rows) {
    for (const auto& s : r.stderrs) {
      if (s) return true;
    }
  }
  return false;
}

bool Table::has_noise() const {
  for (const auto& r : rows) {
    for (const auto& s : r.delta_ses) {
      if (s) return true;
    }
  }
  return false;
}

int Table::max_runs() const {
  int n = 1;
  for (const auto& r : rows) {
    for (int k : r.counts) n = std::max(n, k);
  }
  return n;
}

void Table::compute_deltas() {
  size_t i = 0;
  while (i < rows.size()) {
    size_t j = i;
    while (j < rows.size() && rows[j].groups == rows[i].groups) ++j;
    const TableRow* base = nullptr;
    for (size_t k = i; k < j; ++k) {
      if (rows[k].baseline) base = &rows[k];
    }
    for (size_t k = i; k < j; ++k) {
      auto& r = rows[k];
      r.deltas.assign(columns.size(), std::nullopt);
      r.delta_ses.assign(columns.size(), std::nullopt);
      r.beyond_noise.assign(columns.size(), std::nullopt);
      if (!base || &r == base) continue;
      for (size_t c = 0; c < columns.size(); ++c) {
        if (columns[c].show_delta && c < r.values.size() && c < base->values.size() && r.values[c] &&
            base->values[c]) {
          r.deltas[c] = *r.values[c] - *base->values[c];
          auto a = r.noise_se(c), b = base->noise_se(c);
          if (a || b) {
            double se = std::sqrt((a ? *a * *a : 0.0) + (b ? *b * *b : 0.0));
            r.delta_ses[c] = se;
            r.beyond_noise[c] = std::fabs(*r.deltas[c]) > 2.0 * se;
          }
        }
      }
    }
    i = j;
  }
}

std::string format_value(const std::optional<double>& v, int precision) {
  if (!v || !std::isfinite(*v)) return "-";
  return fmt::format("{:.{}f}", *v, precision);
}

std::string format_delta(const std::optional<double>& d, int precision) {
  if (!d || !std::isfinite(*d)) return "";
  double r = std::round(*d * std::pow(10.0, precision)) / std::pow(10.0, precision);
  if (r == 0) r = 0;  // no "-0.00"
  return fmt::format("({}{:.{}f})", r >= 0 ? "+" : "", r, precision);
}

std::string html_escape(const std::string& s) {
  std::string out;
  for (char c : s) {
    switch (c) {
      case '&': out += "&amp;"; break;
      case '<': out += "&lt;"; break;
      case '>': out += "&gt;"; break;
      case '"': out += "&quot;"; break;
      default: out += c;
    }
  }
  return out;
}

namespace {

std::string csv_field(const std::string& s) {
  if (s.find_first_of(",\"\n\r") == std::string::npos) return s;
  std::string out = "\"";
  for (char c : s) {
    if (c == '"') out += '"';
    out += c;
  }
  return out + "\"";
}

std::string latex_escape(const std::string& s) {
  std::string out;
  for (char c : s) {
    if (c == '&' || c == '%' || c == '$' || c == '#' || c == '_' || c == '{' || c == '}') out += '\\';
    out += c;
  }
  for (size_t p = out.find("±"); p != std::string::npos; p = out.find("±", p)) out.replace(p, std::string("±").size(), "$\\pm$");
  return out;
}

// Calls on_group(level, title) whenever group value `level` changes, then on_row(row).
template <typename G, typename R>
void walk(const Table& t, G on_group, R on_row) {
  std::vector<std::string> current;
  for (const auto& r : t.rows) {
    for (size_t level = 0; level < r.groups.size(); ++level) {
      bool changed = current.size() <= level || current[level] != r.groups[level];
      if (changed) {
        current.resize(level);
        for (size_t l = level; l < r.groups.size(); ++l) {
          current.push_back(r.groups[l]);
          on_group(l, r.groups[l]);
        }
        break;
      }
    }
    on_row(r);
  }
}

std::string spread_text(const TableRow& r, size_t c, int precision) {
  std::string out;
  if (auto sd = r.std_of(c)) out += fmt::format(" ± {:.{}f}", *sd, precision);
  if (auto se = r.stderr_of(c)) out += fmt::format(" [{:.{}f}]", *se, precision);
  return out;
}

bool marked(const TableRow& r, size_t c) { return c < r.beyond_noise.size() && r.beyond_noise[c] && *r.beyond_noise[c]; }

std::string with_notes(const Table& t) {
  std::vector<std::string> notes = t.notes;
  std::string n = noise_note(t);
  if (!n.empty()) notes.push_back(n);
  std::string out;
  for (const auto& x : notes) out += x + "\n";
  return out;
}

}  // namespace

std::string cell_text(const Table& t, const TableRow& r, size_t c) {
  const int p = t.columns[c].precision;
  std::string v = format_value(c < r.values.size() ? r.values[c] : std::nullopt, p);
  if (v != "-") v += spread_text(r, c, p);
  std::string d = c < r.deltas.size() ? format_delta(r.deltas[c], p) : "";
  if (!d.empty() && marked(r, c)) d += "*";
  return d.empty() ? v : v + " " + d;
}

std::string noise_note(const Table& t) {
  std::vector<std::string> parts;
  if (t.has_stds()) {
    parts.push_back(fmt::format("a ± b is the mean and standard deviation over up to {} seeds", t.max_runs()));
  }
  if (t.has_stderrs()) parts.push_back("[s] is the standard error over the benchmark's documents");
  if (t.has_noise()) {
    parts.push_back(
        "* marks a delta larger than two standard errors of the difference (the two rows' seed and document "
        "standard errors combined); an unmarked delta is within the noise");
  }
  if (parts.empty()) return "";
  std::string s;
  for (size_t i = 0; i < parts.size(); ++i) s += (i ? "; " : "") + parts[i];
  s[0] = static_cast<char>(std::toupper(static_cast<unsigned char>(s[0])));
  return s + ".";
}

std::string to_csv(const Table& t) {
  std::string out;
  std::vector<std::string> header = t.group_names;
  header.push_back(t.label_name);
  for (const auto& c : t.columns) header.push_back(c.key);
  for (const auto& c : t.columns) {
    if (c.show_delta) header.push_back(c.key + "_delta");
  }
  // Spread and noise columns follow, only in tables that have them.
  const bool stds = t.has_stds(), stderrs = t.has_stderrs(), noise = t.has_noise();
  if (stds) {
    for (const auto& c : t.columns) header.push_back(c.key + "_std");
    for (const auto& c : t.columns) header.push_back(c.key + "_n");
  }
  if (stderrs) {
    for (const auto& c : t.columns) header.push_back(c.key + "_stderr");
  }
  if (noise) {
    for (const auto& c : t.columns) {
      if (c.show_delta) header.push_back(c.key + "_delta_se");
    }
    for (const auto& c : t.columns) {
      if (c.show_delta) header.push_back(c.key + "_delta_beyond_noise");
    }
  }
  for (size_t i = 0; i < header.size(); ++i) out += (i ? "," : "") + csv_field(header[i]);
  out += "\n";
  for (const auto& r : t.rows) {
    std::vector<std::string> f = r.groups;
    f.push_back(r.label);
    for (size_t c = 0; c < t.columns.size(); ++c) {
      auto v = c < r.values.size() ? r.values[c] : std::nullopt;
      f.push_back(v && std::isfinite(*v) ? fmt::format("{:.{}f}", *v, t.columns[c].precision + 4) : "");
    }
    for (size_t c = 0; c < t.columns.size(); ++c) {
      if (!t.columns[c].show_delta) continue;
      auto d = c < r.deltas.size() ? r.deltas[c] : std::nullopt;
      f.push_back(d && std::isfinite(*d) ? fmt::format("{:.{}f}", *d, t.columns[c].precision + 4) : "");
    }
    auto num = [&](const std::optional<double>& v, size_t c) {
      return v && std::isfinite(*v) ? fmt::format("{:.{}f}", *v, t.columns[c].precision + 4) : std::string();
    };
    if (stds) {
      for (size_t c = 0; c < t.columns.size(); ++c) f.push_back(num(r.std_of(c), c));
      for (size_t c = 0; c < t.columns.size(); ++c) {
        bool has = c < r.values.size() && r.values[c];
        f.push_back(has ? std::to_string(r.count(c)) : "");
      }
    }
    if (stderrs) {
      for (size_t c = 0; c < t.columns.size(); ++c) f.push_back(num(r.stderr_of(c), c));
    }
    if (noise) {
      for (size_t c = 0; c < t.columns.size(); ++c) {
        if (t.columns[c].show_delta) f.push_back(num(c < r.delta_ses.size() ? r.delta_ses[c] : std::nullopt, c));
      }
      for (size_t c = 0; c < t.columns.size(); ++c) {
        if (!t.columns[c].show_delta) continue;
        auto b = c < r.beyond_noise.size() ? r.beyond_noise[c] : std::nullopt;
        f.push_back(b ? (*b ? "1" : "0") : "");
      }
    }
    for (size_t i = 0; i < f.size(); ++i) out += (i ? "," : "") + csv_field(f[i]);
    out += "\n";
  }
  return out;
}

std::string to_markdown(const Table& t) {
  std::string out = "**" + t.title + "**\n\n| Model";
  for (const auto& c : t.columns) out += " | " + c.header;
  out += " |\n|---";
  for (size_t c = 0; c < t.columns.size(); ++c) out += "|---:";
  out += "|\n";
  walk(
      t,
      [&](size_t level, const std::string& title) {
        out += "| " + std::string(level == 0 ? "**" : "*") + title + (level == 0 ? "**" : "*");
        for (size_t c = 0; c < t.columns.size(); ++c) out += " |";
        out += " |\n";
      },
      [&](const TableRow& r) {
        out += "| " + r.label;
        for (size_t c = 0; c < t.columns.size(); ++c) out += " | " + cell_text(t, r, c);
        out += " |\n";
      });
  std::string notes = with_notes(t);
  for (size_t b = 0, e; b < notes.size(); b = e + 1) {
    e = notes.find('\n', b);
    out += "\n" + notes.substr(b, e - b) + "\n";
  }
  return out;
}

const char* table_css() {
  return "table{border-collapse:collapse}"
         "td,th{border:1px solid #999;padding:4px 8px;text-align:right}td.l,th.l{text-align:left}"
         "tr.g0 td{background:#eee;font-weight:bold;text-align:center}tr.g1 td{background:#f7f7f7;"
         "text-align:center}.up{color:#1f4fd1}.down{color:#c62828}.noise{color:#888}.sd,.se{color:#555;"
         "font-size:90%}";
}

std::string to_html_table(const Table& t, const std::function<std::string(const TableRow&)>& after_row) {
  std::string out = "<table class=\"pb-table\" id=\"" + html_escape(t.id) + "\">\n<tr><th class=\"l\">Model</th>";
  for (const auto& c : t.columns) out += "<th>" + html_escape(c.header) + "</th>";
  out += "</tr>\n";
  const size_t span = t.columns.size() + 1;
  walk(
      t,
      [&](size_t level, const std::string& title) {
        out += fmt::format("<tr class=\"g{}\"><td colspan=\"{}\">{}</td></tr>\n", level > 1 ? 1 : level, span,
                           html_escape(title));
      },
      [&](const TableRow& r) {
        out += "<tr><td class=\"l\">" + html_escape(r.label) + "</td>";
        for (size_t c = 0; c < t.columns.size(); ++c) {
          const auto& col = t.columns[c];
          std::string v = format_value(c < r.values.size() ? r.values[c] : std::nullopt, col.precision);
          if (v != "-") {
            if (auto sd = r.std_of(c)) v += fmt::format(" <span class=\"sd\">± {:.{}f}</span>", *sd, col.precision);
            if (auto se = r.stderr_of(c)) v += fmt::format(" <span class=\"se\">[{:.{}f}]</span>", *se, col.precision);
          }
          auto d = c < r.deltas.size() ? r.deltas[c] : std::nullopt;
          std::string ds = format_delta(d, col.precision);
          if (!ds.empty()) {
            bool better = col.higher_is_better ? *d > 0 : *d < 0;
            bool same = std::fabs(*d) < 0.5 * std::pow(10.0, -col.precision);
            auto beyond = c < r.beyond_noise.size() ? r.beyond_noise[c] : std::nullopt;
            if (beyond && !*beyond) {
              v += fmt::format(" <span class=\"noise\" title=\"within two standard errors\">{}</span>", ds);
            } else {
              if (beyond) ds += "*";
              v += same ? " " + ds : fmt::format(" <span class=\"{}\">{}</span>", better ? "up" : "down", ds);
            }
          }
          out += "<td>" + v + "</td>";
        }
        out += "</tr>\n";
        if (after_row) out += after_row(r);
      });
  out += "</table>\n";
  std::string notes = with_notes(t);
  for (size_t b = 0, e; b < notes.size(); b = e + 1) {
    e = notes.find('\n', b);
    out += "<p class=\"note\">" + html_escape(notes.substr(b, e - b)) + "</p>\n";
  }
  return out;
}

std::string to_html(const Table& t) {
  std::string out = "<!DOCTYPE html>\n<html><head><meta charset=\"utf-8\"><title>" + html_escape(t.title) +
                    "</title>\n<style>body{font-family:sans-serif;margin:2em}" + table_css() + "</style></head><body>\n";
  out += "<h2>" + html_escape(t.title) + "</h2>\n" + to_html_table(t) + "</body></html>\n";
  return out;
}

std::string to_latex(const Table& t) {
  std::string out = "\\begin{table}[t]\n\\centering\n\\begin{tabular}{l";
  for (size_t c = 0; c < t.columns.size(); ++c) out += "r";
  out += "}\n\\toprule\nModel";
  for (const auto& c : t.columns) out += " & " + latex_escape(c.header);
  out += " \\\\\n\\midrule\n";
  const size_t span = t.columns.size() + 1;
  walk(
      t,
      [&](size_t, const std::string& title) {
        out += fmt::format("\\multicolumn{{{}}}{{c}}{{{}}} \\\\\n", span, latex_escape(title));
      },
      [&](const TableRow& r) {
        out += latex_escape(r.label);
        for (size_t c = 0; c < t.columns.size(); ++c) out += " & " + latex_escape(cell_text(t, r, c));
        out += " \\\\\n";
      });
  out += "\\bottomrule\n\\end{tabular}\n\\caption{" + latex_escape(t.title);
  if (std::string n = noise_note(t); !n.empty()) out += " " + latex_escape(n);
  out += "}\n\\end{table}\n";
  return out;
}

std::string render(const Table& t, const std::string& format) {
  if (format == "csv") return to_csv(t);
  if (format == "md") return to_markdown(t);
  if (format == "html") return to_html(t);
  if (format == "tex") return to_latex(t);
  throw Error("unknown table format '" + format + "': choose csv, md, html, tex");
}

}  // namespace packbench::results
