// The paper's published tables, parsed from its README, as reference rows and as cell records.
#include "results/paper_reference.h"

#include <algorithm>
#include <cmath>
#include <cstdlib>
#include <map>
#include <regex>

#include "core/error.h"
#include "results/study_tables.h"

namespace packbench::results {
namespace {

std::string strip_tags(const std::string& s) {
  std::string out;
  bool in_tag = false;
  for (char c : s) {
    if (c == '<') in_tag = true;
    else if (c == '>') in_tag = false;
    else if (!in_tag) out += c;
  }
  size_t b = out.find_first_not_of(" \t\r\n");
  size_t e = out.find_last_not_of(" \t\r\n");
  return b == std::string::npos ? "" : out.substr(b, e - b + 1);
}

// "63.5(-0.44) " -> 63.5, -0.44; "63.96(0.26)" -> 63.96, 0.26; "1188.8449" -> value only.
void parse_number_cell(const std::string& text, double* value, std::optional<double>* delta) {
  static const std::regex re(R"(^\s*(-?[0-9]+(?:\.[0-9]+)?)\s*(?:\(\s*([+-]?[0-9]+(?:\.[0-9]+)?)\s*\))?\s*$)");
  std::smatch m;
  if (!std::regex_match(text, m, re)) throw Error("paper README: cannot read number cell '" + text + "'");
  *value = std::strtod(m[1].str().c_str(), nullptr);
  if (m[2].matched) *delta = std::strtod(m[2].str().c_str(), nullptr);
}

std::vector<std::string> cells_of(const std::string& tr) {
  std::vector<std::string> out;
  static const std::regex td(R"(<td[^>]*>([\s\S]*?)</td>)");
  for (auto it = std::sregex_iterator(tr.begin(), tr.end(), td); it != std::sregex_iterator(); ++it) {
    out.push_back((*it)[1].str());
  }
  return out;
}

}  // namespace

std::vector<PaperRow> parse_paper_tables(const std::string& text, std::vector<std::string>* table2_columns) {
  std::vector<PaperRow> rows;
  size_t pos = 0;
  for (int table = 1; table <= 3; ++table) {
    size_t b = text.find("<table", pos);
    size_t e = b == std::string::npos ? b : text.find("</table>", b);
    if (b == std::string::npos || e == std::string::npos) {
      throw Error("paper README: table " + std::to_string(table) + " not found");
    }
    std::string body = text.substr(b, e - b);
    pos = e + 8;
    static const std::regex tr_re(R"(<tr>([\s\S]*?)</tr>)");
    std::vector<std::string> groups;
    bool header = true;
    for (auto it = std::sregex_iterator(body.begin(), body.end(), tr_re); it != std::sregex_iterator(); ++it) {
      std::string tr = (*it)[1].str();
      auto cells = cells_of(tr);
      if (cells.empty()) continue;
      if (header) {
        header = false;
        if (table == 2 && table2_columns) {
          table2_columns->clear();
          for (size_t i = 1; i < cells.size(); ++i) table2_columns->push_back(strip_tags(cells[i]));
        }
        continue;
      }
      if (tr.find("colspan") != std::string::npos) {
        std::string title = strip_tags(cells[0]);
        bool is_dataset = title.find("Dataset") != std::string::npos;
        if (table == 2 || !is_dataset) {
          if (table != 2 && groups.size() >= 1) groups.resize(1);
          else groups.clear();
        } else {
          groups.clear();
        }
        groups.push_back(title);
        continue;
      }
      PaperRow r;
      r.table = table;
      r.groups = groups;
      r.label = strip_tags(cells[0]);
      for (size_t i = 1; i < cells.size(); ++i) {
        double v;
        std::optional<double> d;
        parse_number_cell(strip_tags(cells[i]), &v, &d);
        r.values.push_back(v);
        r.printed_deltas.push_back(d);
      }
      rows.push_back(std::move(r));
    }
  }
  return rows;
}

double binomial_stderr(double p, int documents) {
  if (documents < 2) throw Error("binomial_stderr: need at least 2 documents, got " + std::to_string(documents));
  return std::sqrt(std::max(0.0, p * (1.0 - p)) / static_cast<double>(documents - 1));
}

std::string method_from_label(const std::string& label) {
  for (const char* m : {"padding", "random", "greedy", "bfd"}) {
    if (method_label(m) == label) return m;
  }
  throw Error("unknown method label '" + label + "'");
}

std::vector<CellRecord> paper_cells(const std::vector<PaperRow>& rows, const std::vector<std::string>& table2_columns) {
  static const std::regex ds_re(R"(^(.*) Dataset, Size: (.*)$)");
  std::map<std::string, CellRecord> by_key;
  std::vector<std::string> order;
  std::map<std::string, std::string> size_of;
  auto cell_for = [&](const std::string& dataset, const std::string& size, const std::string& model,
                      const std::string& method) -> CellRecord& {
    std::string key = dataset + "|" + model + "|" + method;
    if (!by_key.count(key)) {
      CellRecord c;
      c.cell_id = "paper/" + key;
      c.dataset = dataset;
      c.dataset_size = size;
      c.model = model;
      c.method = method;
      c.cell = {{"cell_id", c.cell_id}, {"dataset", dataset}, {"dataset_size", size}, {"model", model}, {"method", method}};
      by_key[key] = c;
      order.push_back(key);
    }
    return by_key[key];
  };
  const auto& t1 = table1_columns();
  for (const auto& r : rows) {
    std::string method = method_from_label(r.label);
    if (r.table == 1 || r.table == 3) {
      std::smatch m;
      if (r.groups.size() != 2 || !std::regex_match(r.groups[0], m, ds_re)) {
        throw Error("paper README: table " + std::to_string(r.table) + " row '" + r.label + "' has no dataset/model group");
      }
      std::string dataset = m[1].str(), size = m[2].str();
      size_of[dataset] = size;
      CellRecord& c = cell_for(dataset, size, r.groups[1], method);
      if (r.table == 1) {
        for (size_t i = 0; i < t1.size() && i < r.values.size(); ++i) {
          const double p = r.values[i] / 100.0;
          c.evals[t1[i].task][t1[i].metric_keys[0]] = p;
          if (t1[i].documents > 1) c.evals[t1[i].task][stderr_key(t1[i].metric_keys[0])] = binomial_stderr(p, t1[i].documents);
        }
      } else if (r.values.size() >= 5) {
        c.train["epoch"] = r.values[0];
        c.train["global_step"] = r.values[1];
        c.train["train_runtime"] = r.values[2];
        c.train["train_steps_per_second"] = r.values[3];
        c.train["train_samples_per_second"] = r.values[4];
      }
    } else {
      for (size_t i = 0; i < table2_columns.size() && i < r.values.size(); ++i) {
        std::string col = table2_columns[i];
        size_t comma = col.rfind(", ");
        std::string dataset = comma == std::string::npos ? col : col.substr(0, comma);
        std::string size = comma == std::string::npos ? "" : col.substr(comma + 2);
        if (size_of.count(dataset)) size = size_of[dataset];
        CellRecord& c = cell_for(dataset, size, r.groups.empty() ? "" : r.groups[0], method);
        c.evals["wildbench"]["score,none"] = r.values[i];
      }
    }
  }
  std::vector<CellRecord> out;
  for (const auto& k : order) out.push_back(by_key[k]);
  return out;
}

}  // namespace packbench::results
