// A WildBench run: each task answered through an OpenAI-compatible server, judged through another, written as WildBench's judge file, resumable.
#pragma once

#include <nlohmann/json.hpp>

#include <cstdint>
#include <string>

#include "evals/wildbench/wildbench_judge.h"

namespace packbench::cli {

struct WildBenchEndpoint {
  std::string url;      // http://host:port[/v1]
  std::string model;    // "" = the first model the server lists
  std::string api_key;  // sent as a bearer token when non-empty
};

struct WildBenchRunOptions {
  std::string data;              // the WildBench v2 rows (.json / .jsonl)
  std::string out;               // folder: wildbench_judge.json, summary.json, results.json
  WildBenchEndpoint answer;      // the model under test (chat completions)
  WildBenchEndpoint judge;       // the judge (chat completions)
  int64_t limit = -1;            // first N tasks
  int concurrency = 4;           // tasks in flight
  int max_retries = 5;           // per HTTP request (connection errors, 429, 5xx)
  int max_new_tokens = -1;       // > 0: the answers' max_tokens; else the server's default
  double temperature = 0.0, top_p = 1.0;  // answers (greedy by default)
  uint64_t seed = 1234;
  int save_every = 8;            // rewrite the judge file after this many new records
  evals::wildbench::JudgeOptions judge_options;
  std::string template_path;     // "" = the shipped score template v2
  std::string note;              // a caveat carried into summary.json and results.json
};

// Answers and judges every task not yet in <out>/wildbench_judge.json (records already there are
// kept: a crashed run resumes), writing that file atomically every save_every records and at the
// end, then <out>/summary.json (WB-Score, task macro, groups, counts, exclusions) and
// <out>/results.json (lm-eval's shape: results.wildbench."score,none" = WB-Score, which Table 2
// reads). An HTTP failure after retries stops the run with what was done saved. Returns the summary.
nlohmann::json run_wildbench(const WildBenchRunOptions& o);

// summary.json and results.json from a judge file alone (`data` "" = no task groups).
nlohmann::json summarize_judge_file(const std::string& judge_file, const std::string& data, const std::string& note);

// The file names in the output folder.
inline constexpr const char* kJudgeFile = "wildbench_judge.json";

}  // namespace packbench::cli
