// The WildBench v2 test set read from the Hugging Face dataset exported to JSON, JSON lines or Parquet.
#pragma once

#include <nlohmann/json.hpp>

#include <string>
#include <vector>

namespace packbench::evals::wildbench {

struct Turn {
  std::string role;     // "user" | "assistant"
  std::string content;
};

// One WildBench task (a row of allenai/WildBench, config v2, split test).
struct Task {
  std::string session_id;
  std::vector<Turn> conversation_input;  // earlier turns, then the user query to answer
  std::vector<std::string> checklist;
  std::string primary_tag;
  std::vector<std::string> secondary_tags;
  std::string intent;
  nlohmann::json raw;  // the whole row as read (id, length, references, ...)
};

// Reads `path`: a JSON list of rows (.json), one row per line (.jsonl, .jsonl.gz), or a Parquet
// file (.parquet: the dataset's own files, or datasets' to_parquet; read by core/parquet.h, rows
// named "row <i>" in errors). Required fields: session_id, conversation_input
// (non-empty, each {role, content}, the last one the user's), checklist (list of strings),
// primary_tag, secondary_tags (list of strings); intent is optional. A missing or mistyped field
// is a packbench::Error naming the file, the record (line or index, and session_id) and the
// field; so is a session_id listed twice.
std::vector<Task> load_tasks(const std::string& path);

// A data path as given when it exists (or is absolute); else the same path under the source tree
// (so the mini study's tests/fixtures/wildbench/mini_tasks.jsonl is found from any folder).
std::string resolve_data_path(const std::string& path);

// Parses one row; `where` names it in errors ("file.jsonl:3").
Task parse_task(const nlohmann::json& row, const std::string& where);

}  // namespace packbench::evals::wildbench
