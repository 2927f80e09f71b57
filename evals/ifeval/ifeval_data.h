// ifeval data: the benchmark's prompts (input_data.jsonl) and response files in the formats packbench reads.
#pragma once

#include <nlohmann/json.hpp>

#include <cstdint>
#include <string>
#include <vector>

namespace packbench::evals::ifeval {

// One benchmark prompt: its instructions and their kwargs (one JSON object per instruction).
struct Prompt {
  int64_t key = 0;
  std::string prompt;
  std::vector<std::string> instruction_ids;
  std::vector<nlohmann::json> kwargs;
  std::string where;  // "<file> line N", for messages
};

// One response to score. `doc` is set when the response file carries its own prompt record
// (lm-evaluation-harness samples); otherwise the prompt is looked up in input_data.jsonl.
struct Response {
  std::string prompt;
  std::string response;
  bool has_doc = false;
  Prompt doc;
  std::string where;
};

// Reads input_data.jsonl (`key`, `prompt`, `instruction_id_list`, `kwargs`). Checks every
// record's fields and that each instruction id is known and its kwargs are valid. Throws
// packbench::Error naming the file, line and field.
std::vector<Prompt> load_prompts(const std::string& path);
// Parses one input_data record (used for lm-eval samples' "doc" too).
Prompt parse_prompt(const nlohmann::json& record, const std::string& where);

// Reads responses: IFEval's input_response_data (`prompt`, `response`) or lm-evaluation-harness
// samples (`doc` with the prompt record, and `filtered_resps` or `resps`). Blank lines are
// skipped. Throws packbench::Error naming the file, line and field.
std::vector<Response> load_responses(const std::string& path);

// The input_data.jsonl to use for `data_path`: a file as is, a folder's input_data.jsonl, or
// (when empty) the shared benchmarks' ifeval/input_data.jsonl.
std::string resolve_input_data(const std::string& data_path);

}  // namespace packbench::evals::ifeval
