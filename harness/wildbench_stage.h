// The study's "wildbench" stage: a cell's trained model answers WildBench through packbench serve and the configured judge scores it (Table 2).
#pragma once

#include <nlohmann/json.hpp>

#include <string>

#include "harness/study_config.h"

namespace packbench::cli {

// The stage's output: <cell>/eval/wildbench/ (wildbench_judge.json, summary.json, results.json).
// results.json's results.wildbench holds "score,none" (the WB-Score) when judged, or
// "skipped" (why not) when the study has no judge; Table 2 shows the score or n/a with the reason.
//
// Study configuration (the eval section):
//   judge:     {url, model, api_key_env}   an OpenAI-compatible judge (the paper: GPT-4)
//           or {checkpoint: self | PATH}   a model served here by packbench serve ("self": the cell's own)
//              optional: max_tokens (official 1024), note (a caveat printed with the scores)
//   wildbench: {data: PATH (WildBench v2 rows, .json/.jsonl), limit, max_new_tokens, concurrency}
bool wildbench_stage_done(const std::string& cell_dir);
// Runs `packbench wildbench run` for the cell (its train/ checkpoint served here), or records that
// it was skipped. Throws packbench::Error for a bad configuration or a failed run.
void run_wildbench_stage(const StudyConfig& config, const Cell& cell, const std::string& cell_dir,
                         const nlohmann::json& train, const std::string& log);

}  // namespace packbench::cli
