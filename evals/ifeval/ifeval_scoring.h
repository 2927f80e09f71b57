// ifeval scoring: strict and loose verdicts per instruction, and the prompt- and instruction-level accuracies.
#pragma once

#include <nlohmann/json.hpp>

#include <map>
#include <string>
#include <string_view>
#include <vector>

#include "evals/ifeval/ifeval_checkers.h"
#include "evals/ifeval/ifeval_data.h"

namespace packbench::evals::ifeval {

// The checkers of one prompt, built once and reused for every response to it.
std::vector<Checker> build_checkers(const Prompt& prompt);

// The response variants loose scoring tries, in the reference's order: the response; it with
// every '*' removed; without its first line; without its last line; without both; and each of
// those three with '*' removed. Line removal splits on "\n" and strips the remainder.
std::vector<std::string> loose_variants(std::string_view response);

// One response's verdicts, one per instruction. Strict: the response is non-blank and follows
// the instruction. Loose: some variant is non-blank and follows it.
struct Verdicts {
  std::vector<bool> strict, loose;
};
Verdicts judge(const std::vector<Checker>& checkers, std::string_view response);

// Accuracies over many judged prompts.
struct Tally {
  struct Count {
    int64_t total = 0, strict = 0, loose = 0;
  };
  int64_t prompts = 0, prompts_strict = 0, prompts_loose = 0;
  Count instructions;
  std::map<std::string, Count> per_instruction;  // by instruction id
  std::map<std::string, Count> per_group;        // by the id's part before ':'

  void add(const std::vector<std::string>& instruction_ids, const Verdicts& v);
  // lm-evaluation-harness's ifeval keys: prompt_level_{strict,loose}_acc and
  // inst_level_{strict,loose}_acc with ",none" filters and their "_stderr" twins (standard error
  // of the mean with the n-1 sample deviation; for instruction level over all instructions).
  nlohmann::json metrics() const;
  // {"<id>": {"n": .., "strict_acc": .., "loose_acc": ..}, ...} for ids and groups.
  nlohmann::json breakdown() const;
};

}  // namespace packbench::evals::ifeval
