// The WildBench v2 test set read from the Hugging Face dataset exported to JSON, JSON lines or Parquet.
#include "evals/wildbench/wildbench_data.h"

#include <filesystem>
#include <set>

#include "core/error.h"
#include "core/parquet.h"
#include "evals/records.h"

namespace packbench::evals::wildbench {
using nlohmann::json;

namespace {

bool ends_with(const std::string& s, const std::string& tail) {
  return s.size() >= tail.size() && s.compare(s.size() - tail.size(), tail.size(), tail) == 0;
}

std::vector<std::string> string_list(const json& row, const char* field, const std::string& where) {
  const json& v = require_field(row, field, where);
  if (!v.is_array()) throw Error(where + ": field '" + field + "' must be a list of strings");
  std::vector<std::string> out;
  for (size_t i = 0; i < v.size(); ++i) {
    if (!v[i].is_string())
      throw Error(where + ": field '" + field + "[" + std::to_string(i) + "]' must be a string");
    out.push_back(v[i].get<std::string>());
  }
  return out;
}

}  // namespace

Task parse_task(const json& row, const std::string& where_in) {
  if (!row.is_object()) throw Error(where_in + ": expected a JSON object");
  std::string where = where_in;
  Task t;
  t.session_id = require_string(row, "session_id", where);
  where += " (session_id " + t.session_id + ")";
  const json& conv = require_field(row, "conversation_input", where);
  if (!conv.is_array() || conv.empty())
    throw Error(where + ": field 'conversation_input' must be a non-empty list of {role, content}");
  for (size_t i = 0; i < conv.size(); ++i) {
    const std::string w = where + " conversation_input[" + std::to_string(i) + "]";
    if (!conv[i].is_object()) throw Error(w + ": expected an object with role and content");
    Turn turn{require_string(conv[i], "role", w), require_string(conv[i], "content", w)};
    t.conversation_input.push_back(std::move(turn));
  }
  if (t.conversation_input.back().role != "user")
    throw Error(where + ": field 'conversation_input': the last turn must be the user's, not '" +
                t.conversation_input.back().role + "'");
  t.checklist = string_list(row, "checklist", where);
  t.primary_tag = require_string(row, "primary_tag", where);
  t.secondary_tags = string_list(row, "secondary_tags", where);
  if (row.contains("intent") && !row["intent"].is_null()) {
    if (!row["intent"].is_string()) throw Error(where + ": field 'intent' must be a string");
    t.intent = row["intent"].get<std::string>();
  }
  t.raw = row;
  return t;
}

std::string resolve_data_path(const std::string& path) {
  std::error_code ec;
  if (path.empty() || path[0] == '/' || std::filesystem::exists(path, ec)) return path;
#ifdef PACKBENCH_SOURCE_DIR
  const std::string in_source = std::string(PACKBENCH_SOURCE_DIR) + "/" + path;
  if (std::filesystem::exists(in_source, ec)) return in_source;
#endif
  return path;
}

std::vector<Task> load_tasks(const std::string& path) {
  std::vector<Task> tasks;
  if (ends_with(path, ".jsonl") || ends_with(path, ".jsonl.gz")) {
    for (const auto& r : read_jsonl(path)) tasks.push_back(parse_task(r.value, where_line(path, r.line)));
  } else if (ends_with(path, ".json")) {
    json doc = read_json_file(path);
    if (!doc.is_array()) throw Error(path + ": expected a JSON list of WildBench rows");
    for (size_t i = 0; i < doc.size(); ++i) tasks.push_back(parse_task(doc[i], path + " record " + std::to_string(i)));
  } else if (ends_with(path, ".parquet")) {
    const std::vector<json> rows = parquet::read_rows(path);
    for (size_t i = 0; i < rows.size(); ++i) tasks.push_back(parse_task(rows[i], path + " row " + std::to_string(i)));
  } else {
    throw Error(path + ": expected a .json, .jsonl, .jsonl.gz or .parquet file of WildBench rows");
  }
  std::set<std::string> seen;
  for (size_t i = 0; i < tasks.size(); ++i)
    if (!seen.insert(tasks[i].session_id).second)
      throw Error(path + " record " + std::to_string(i) + ": field 'session_id': '" + tasks[i].session_id +
                  "' is listed twice");
  if (tasks.empty()) throw Error(path + ": no WildBench rows");
  return tasks;
}

}  // namespace packbench::evals::wildbench
