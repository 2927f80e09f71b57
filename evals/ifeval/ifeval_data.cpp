// ifeval data: the benchmark's prompts (input_data.jsonl) and response files in the formats packbench reads.
#include "evals/ifeval/ifeval_data.h"

#include <filesystem>
#include <fstream>

#include "core/error.h"
#include "core/paths.h"
#include "evals/ifeval/ifeval_checkers.h"

namespace packbench::evals::ifeval {

using nlohmann::json;
namespace fs = std::filesystem;

namespace {

// Calls fn(record, where) for each non-blank line of a JSON-lines file.
template <class Fn>
void for_each_jsonl(const std::string& path, Fn fn) {
  std::ifstream in(path, std::ios::binary);
  if (!in) throw Error(path + ": cannot open file");
  std::string line;
  int64_t n = 0;
  while (std::getline(in, line)) {
    ++n;
    if (!line.empty() && line.back() == '\r') line.pop_back();
    if (line.find_first_not_of(" \t") == std::string::npos) continue;
    std::string where = path + " line " + std::to_string(n);
    json record;
    try {
      record = json::parse(line);
    } catch (const json::exception& e) {
      throw Error(where + ": not valid JSON (" + e.what() + ")");
    }
    if (!record.is_object()) throw Error(where + ": expected a JSON object");
    fn(record, where);
  }
}

const json& field(const json& record, const char* name, const std::string& where) {
  auto it = record.find(name);
  if (it == record.end()) throw Error(where + ": field " + name + " is missing");
  return *it;
}

std::string string_field(const json& record, const char* name, const std::string& where) {
  const json& v = field(record, name, where);
  if (!v.is_string()) throw Error(where + ": field " + name + " must be a string, got " + v.type_name());
  return v.get<std::string>();
}

}  // namespace

Prompt parse_prompt(const json& record, const std::string& where) {
  Prompt p;
  p.where = where;
  if (record.contains("key")) {
    const json& k = record["key"];
    if (!k.is_number_integer()) throw Error(where + ": field key must be an integer");
    p.key = k.get<int64_t>();
  }
  p.prompt = string_field(record, "prompt", where);
  const json& ids = field(record, "instruction_id_list", where);
  if (!ids.is_array()) throw Error(where + ": field instruction_id_list must be a list");
  const json& kwargs = field(record, "kwargs", where);
  if (!kwargs.is_array()) throw Error(where + ": field kwargs must be a list");
  if (kwargs.size() != ids.size())
    throw Error(where + ": field kwargs has " + std::to_string(kwargs.size()) + " entries for " +
                std::to_string(ids.size()) + " instructions");
  for (size_t i = 0; i < ids.size(); ++i) {
    if (!ids[i].is_string()) throw Error(where + ": field instruction_id_list[" + std::to_string(i) + "] must be a string");
    p.instruction_ids.push_back(ids[i].get<std::string>());
    p.kwargs.push_back(kwargs[i]);
    make_checker(p.instruction_ids.back(), kwargs[i], where);  // validates id and kwargs now
  }
  return p;
}

std::vector<Prompt> load_prompts(const std::string& path) {
  std::vector<Prompt> out;
  for_each_jsonl(path, [&](const json& r, const std::string& where) { out.push_back(parse_prompt(r, where)); });
  if (out.empty()) throw Error(path + ": no prompts");
  return out;
}

std::vector<Response> load_responses(const std::string& path) {
  std::vector<Response> out;
  for_each_jsonl(path, [&](const json& r, const std::string& where) {
    Response resp;
    resp.where = where;
    if (r.contains("doc")) {
      // lm-evaluation-harness samples: the prompt record travels with the response.
      const json& doc = r["doc"];
      if (!doc.is_object()) throw Error(where + ": field doc must be an object");
      resp.doc = parse_prompt(doc, where + " (doc)");
      resp.has_doc = true;
      resp.prompt = resp.doc.prompt;
      const json* text = nullptr;
      if (r.contains("filtered_resps") && r["filtered_resps"].is_array() && !r["filtered_resps"].empty())
        text = &r["filtered_resps"][0];
      else if (r.contains("resps") && r["resps"].is_array() && !r["resps"].empty())
        text = &r["resps"][0];
      else
        throw Error(where + ": field resps is missing or empty");
      if (text->is_array()) {
        if (text->empty()) throw Error(where + ": field resps[0] is empty");
        text = &(*text)[0];
      }
      if (!text->is_string()) throw Error(where + ": field resps must hold strings");
      resp.response = text->get<std::string>();
    } else {
      resp.prompt = string_field(r, "prompt", where);
      resp.response = string_field(r, "response", where);
    }
    out.push_back(std::move(resp));
  });
  return out;
}

std::string resolve_input_data(const std::string& data_path) {
  std::string p = data_path;
  if (p.empty()) {
    std::string shared = shared_benchmarks_dir(fs::current_path().string());
    if (shared.empty())
      throw Error("ifeval: no --data given and the shared benchmark folder was not found (set PACKBENCH_SHARED)");
    p = (fs::path(shared) / "ifeval").string();
  }
  if (fs::is_directory(p)) p = (fs::path(p) / "input_data.jsonl").string();
  if (!fs::exists(p)) throw Error(p + ": file not found");
  return p;
}

}  // namespace packbench::evals::ifeval
