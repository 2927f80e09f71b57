// Reading benchmark records from jsonl, JSON and CSV files, with errors naming file, record and field.
#pragma once

#include <nlohmann/json.hpp>

#include <cstdint>
#include <string>
#include <vector>

namespace packbench::evals {

// One parsed jsonl line and the 1-based line number it came from.
struct JsonlRecord {
  int64_t line = 0;
  nlohmann::json value;
};

// Every non-blank line of `path` parsed as JSON; a bad line throws Error naming path and line.
// Files ending in .gz are decompressed.
std::vector<JsonlRecord> read_jsonl(const std::string& path);

// A whole file parsed as one JSON document; throws Error naming the path.
nlohmann::json read_json_file(const std::string& path);

// One CSV row and the 1-based line on which it starts.
struct CsvRow {
  int64_t line = 0;
  std::vector<std::string> fields;
};

// Parses a CSV file (RFC 4180 quoting: fields may hold commas, quotes and newlines) with
// libcsv. A malformed file throws Error naming the path and the line where parsing failed.
std::vector<CsvRow> read_csv(const std::string& path);

// Field access that names file, record and field on failure.
const nlohmann::json& require_field(const nlohmann::json& obj, const std::string& field,
                                    const std::string& where);
std::string require_string(const nlohmann::json& obj, const std::string& field, const std::string& where);
int64_t require_int(const nlohmann::json& obj, const std::string& field, const std::string& where);

// "path:line" / "path record N" helpers for messages.
std::string where_line(const std::string& path, int64_t line);

}  // namespace packbench::evals
