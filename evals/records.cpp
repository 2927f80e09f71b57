// Reading benchmark records from jsonl, JSON and CSV files, with errors naming file, record and field.
#include "evals/records.h"

#include <csv.h>
#include <zlib.h>

#include <fmt/core.h>

#include "core/atomic_file.h"
#include "core/error.h"

namespace packbench::evals {
namespace {

bool ends_with(const std::string& s, const std::string& suffix) {
  return s.size() >= suffix.size() && s.compare(s.size() - suffix.size(), suffix.size(), suffix) == 0;
}

std::string read_maybe_gz(const std::string& path) {
  if (!ends_with(path, ".gz")) return read_file(path);
  gzFile f = gzopen(path.c_str(), "rb");
  if (!f) throw Error(fmt::format("{}: cannot open", path));
  std::string out;
  char buf[1 << 16];
  for (;;) {
    int n = gzread(f, buf, sizeof buf);
    if (n < 0) {
      gzclose(f);
      throw Error(fmt::format("{}: not a valid gzip file", path));
    }
    if (n == 0) break;
    out.append(buf, static_cast<size_t>(n));
  }
  gzclose(f);
  return out;
}

}  // namespace

std::string where_line(const std::string& path, int64_t line) { return fmt::format("{}:{}", path, line); }

std::vector<JsonlRecord> read_jsonl(const std::string& path) {
  const std::string text = read_maybe_gz(path);
  std::vector<JsonlRecord> out;
  size_t pos = 0;
  int64_t line = 0;
  while (pos < text.size()) {
    size_t end = text.find('\n', pos);
    if (end == std::string::npos) end = text.size();
    ++line;
    std::string_view sv(text.data() + pos, end - pos);
    pos = end + 1;
    if (!sv.empty() && sv.back() == '\r') sv.remove_suffix(1);
    if (sv.find_first_not_of(" \t") == std::string_view::npos) continue;
    JsonlRecord rec;
    rec.line = line;
    try {
      rec.value = nlohmann::json::parse(sv);
    } catch (const nlohmann::json::exception& e) {
      throw Error(fmt::format("{}: line {}: not valid JSON ({})", path, line, e.what()));
    }
    if (!rec.value.is_object())
      throw Error(fmt::format("{}: line {}: expected a JSON object", path, line));
    out.push_back(std::move(rec));
  }
  return out;
}

nlohmann::json read_json_file(const std::string& path) {
  const std::string text = read_maybe_gz(path);
  try {
    return nlohmann::json::parse(text);
  } catch (const nlohmann::json::exception& e) {
    throw Error(fmt::format("{}: not valid JSON ({})", path, e.what()));
  }
}

namespace {

struct CsvState {
  std::vector<CsvRow>* rows;
  CsvRow current;
  int64_t line = 1;        // line of the byte being parsed
  int64_t row_start = 1;   // line where the current row began
  bool row_open = false;
  bool need_start = true;
};

void on_field(void* data, size_t len, void* ctx) {
  auto* st = static_cast<CsvState*>(ctx);
  if (!st->row_open) {
    st->row_open = true;
    st->current.line = st->row_start;
  }
  st->current.fields.emplace_back(static_cast<const char*>(data), len);
}

void on_row(int, void* ctx) {
  auto* st = static_cast<CsvState*>(ctx);
  st->rows->push_back(std::move(st->current));
  st->current = CsvRow{};
  st->row_open = false;
  st->need_start = true;
}

}  // namespace

std::vector<CsvRow> read_csv(const std::string& path) {
  const std::string text = read_file(path);
  std::vector<CsvRow> rows;
  CsvState st;
  st.rows = &rows;
  csv_parser p;
  // Not CSV_STRICT: a stray quote inside an unquoted field is kept as a literal character, as
  // Python's csv module and pandas read it (the hendrycks files have such rows). An unterminated
  // quoted field at the end of the file is still an error (CSV_STRICT_FINI).
  if (csv_init(&p, CSV_STRICT_FINI | CSV_APPEND_NULL) != 0)
    throw Error(fmt::format("{}: cannot initialise the CSV parser", path));
  // Feed line by line so rows know where they start and errors know the line.
  size_t pos = 0;
  while (pos < text.size()) {
    size_t end = text.find('\n', pos);
    size_t chunk_end = end == std::string::npos ? text.size() : end + 1;
    const bool blank = text.compare(pos, chunk_end - pos, "\n") == 0 || text.compare(pos, chunk_end - pos, "\r\n") == 0;
    if (st.need_start && !blank) {  // the previous row ended: the next one starts on this line
      st.row_start = st.line;
      st.need_start = false;
    }
    size_t n = csv_parse(&p, text.data() + pos, chunk_end - pos, on_field, on_row, &st);
    if (n != chunk_end - pos) {
      std::string why = csv_strerror(csv_error(&p));
      csv_free(&p);
      throw Error(fmt::format("{}: line {}: malformed CSV ({})", path, st.line, why));
    }
    pos = chunk_end;
    ++st.line;
  }
  // libcsv only reports an unterminated quote at the end in strict mode; check its state.
  // pstate 2 is FIELD_BEGUN (csv.c): a quoted field that never closed.
  if (p.pstate == 2 && p.quoted) {
    csv_free(&p);
    throw Error(fmt::format("{}: line {}: malformed CSV: a quoted field starting on line {} never closes", path,
                            st.line - 1, st.row_start));
  }
  if (csv_fini(&p, on_field, on_row, &st) != 0) {
    std::string why = csv_strerror(csv_error(&p));
    csv_free(&p);
    throw Error(fmt::format("{}: line {}: malformed CSV at end of file ({})", path, st.line - 1, why));
  }
  csv_free(&p);
  return rows;
}

const nlohmann::json& require_field(const nlohmann::json& obj, const std::string& field,
                                    const std::string& where) {
  if (!obj.is_object()) throw Error(fmt::format("{}: expected a JSON object", where));
  auto it = obj.find(field);
  if (it == obj.end()) throw Error(fmt::format("{}: missing field '{}'", where, field));
  return *it;
}

std::string require_string(const nlohmann::json& obj, const std::string& field, const std::string& where) {
  const auto& v = require_field(obj, field, where);
  if (!v.is_string()) throw Error(fmt::format("{}: field '{}' must be a string, got {}", where, field, v.type_name()));
  return v.get<std::string>();
}

int64_t require_int(const nlohmann::json& obj, const std::string& field, const std::string& where) {
  const auto& v = require_field(obj, field, where);
  if (!v.is_number_integer())
    throw Error(fmt::format("{}: field '{}' must be an integer, got {}", where, field, v.type_name()));
  return v.get<int64_t>();
}

}  // namespace packbench::evals
