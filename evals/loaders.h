// Loaders for MMLU, GSM8K, MATH and BBH in their published formats (CSV folders, jsonl, JSON per problem).
#pragma once

#include <array>
#include <cstdint>
#include <string>
#include <vector>

namespace packbench::evals {

// Where a record came from, for messages: "<file>:<line>" or "<file>".
struct Origin {
  std::string file;
  int64_t line = 0;  // 0 = the whole file is the record
  std::string str() const;
};

// --- MMLU ----------------------------------------------------------------------------------
struct MmluDoc {
  std::string subject;  // e.g. "abstract_algebra"
  std::string question;
  std::array<std::string, 4> choices;
  int answer = 0;       // 0..3 (A..D)
  Origin origin;
};
// Loads one split ("dev", "val", "test") of MMLU from `path`:
//  - a hendrycks folder holding <split>/<subject>_<split>.csv (or the CSVs directly): no header,
//    six columns question, A, B, C, D, answer letter; subjects in alphabetical order, rows in
//    file order;
//  - a jsonl file with question / subject / choices (4 strings) / answer (0-3 or "A"-"D").
std::vector<MmluDoc> load_mmlu(const std::string& path, const std::string& split);
// "abstract_algebra" -> "abstract algebra".
std::string mmlu_subject_title(const std::string& subject);

// --- GSM8K ---------------------------------------------------------------------------------
struct Gsm8kDoc {
  std::string question;
  std::string answer;  // the reasoning, ending in "#### N"
  Origin origin;
};
// `path` is a jsonl file, or a folder holding <split>.jsonl.
std::vector<Gsm8kDoc> load_gsm8k(const std::string& path, const std::string& split = "test");

// --- MATH ----------------------------------------------------------------------------------
struct MathDoc {
  std::string problem, level, type, solution;
  Origin origin;
};
// `path` is a jsonl file; or a folder holding <split>.jsonl; or a folder holding
// <split>/<subject>/<id>.json (one JSON per problem; subjects alphabetical, ids numeric order).
std::vector<MathDoc> load_math(const std::string& path, const std::string& split = "test");

// --- BBH -----------------------------------------------------------------------------------
struct BbhExample {
  std::string input, target;
  Origin origin;
};
struct BbhTask {
  std::string name;       // e.g. "date_understanding"
  std::string cot_prompt;  // cot-prompts/<name>.txt without its canary header
  std::vector<BbhExample> examples;
};
// `path` is the BIG-Bench-Hard folder holding bbh/<task>.json and cot-prompts/<task>.txt.
// Tasks in alphabetical order. `only` restricts to the named tasks (unknown names throw).
std::vector<BbhTask> load_bbh(const std::string& path, const std::vector<std::string>& only = {});

// The default data location of a benchmark ("mmlu", "gsm8k", "math", "bbh"): under the
// shared benchmark folder ($PACKBENCH_SHARED, else ../shared/benchmarks next to the sources
// packbench was built from, else next to the current folder).
// Throws Error when it cannot be found.
std::string default_data_path(const std::string& benchmark);

}  // namespace packbench::evals
