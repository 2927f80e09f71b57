// One table schema (columns, grouped rows, deltas against padding) that every printer reads.
#include "results/table.h"

#include <fmt/format.h>

#include <cmath>

#include "datasets/error.h"

namespace packbench::results {

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
      if (!base || &r == base) continue;
      for (size_t c = 0; c < columns.size(); ++c) {
        if (columns[c].show_delta && c < r.values.size() && c < base->values.size() && r.values[c] &&
            base->values[c]) {
          r.deltas[c] = *r.values[c] - *base->values[c];
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

std::string latex_escape(const std::string& s) {
  std::string out;
  for (char c : s) {
    if (c == '&' || c == '%' || c == '$' || c == '#' || c == '_' || c == '{' || c == '}') out += '\\';
    out += c;
  }
  return out;
}

std::string cell_text(const Table& t, const TableRow& r, size_t c) {
  std::string v = format_value(c < r.values.size() ? r.values[c] : std::nullopt, t.columns[c].precision);
  std::string d = c < r.deltas.size() ? format_delta(r.deltas[c], t.columns[c].precision) : "";
  return d.empty() ? v : v + " " + d;
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

}  // namespace

std::string to_csv(const Table& t) {
  std::string out;
  std::vector<std::string> header = t.group_names;
  header.push_back(t.label_name);
  for (const auto& c : t.columns) header.push_back(c.key);
  for (const auto& c : t.columns) {
    if (c.show_delta) header.push_back(c.key + "_delta");
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
  for (const auto& n : t.notes) out += "\n" + n + "\n";
  return out;
}

std::string to_html(const Table& t) {
  std::string out =
      "<!DOCTYPE html>\n<html><head><meta charset=\"utf-8\"><title>" + html_escape(t.title) +
      "</title>\n<style>body{font-family:sans-serif;margin:2em}table{border-collapse:collapse}"
      "td,th{border:1px solid #999;padding:4px 8px;text-align:right}td.l,th.l{text-align:left}"
      "tr.g0 td{background:#eee;font-weight:bold;text-align:center}tr.g1 td{background:#f7f7f7;"
      "text-align:center}.up{color:#1f4fd1}.down{color:#c62828}</style></head><body>\n";
  out += "<h2>" + html_escape(t.title) + "</h2>\n<table>\n<tr><th class=\"l\">Model</th>";
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
          auto d = c < r.deltas.size() ? r.deltas[c] : std::nullopt;
          std::string ds = format_delta(d, col.precision);
          if (!ds.empty()) {
            bool better = col.higher_is_better ? *d > 0 : *d < 0;
            bool same = std::fabs(*d) < 0.5 * std::pow(10.0, -col.precision);
            v += same ? " " + ds : fmt::format(" <span class=\"{}\">{}</span>", better ? "up" : "down", ds);
          }
          out += "<td>" + v + "</td>";
        }
        out += "</tr>\n";
      });
  out += "</table>\n";
  for (const auto& n : t.notes) out += "<p>" + html_escape(n) + "</p>\n";
  out += "</body></html>\n";
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
  out += "\\bottomrule\n\\end{tabular}\n\\caption{" + latex_escape(t.title) + "}\n\\end{table}\n";
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
