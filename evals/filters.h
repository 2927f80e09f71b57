// Filter pipelines (response -> extracted answer) and lm-eval's exact_match with its normalisations.
#pragma once

#include <string>

#include "evals/task_config.h"

namespace packbench::evals {

// Runs one pipeline over one response (see FilterStep for the functions).
std::string apply_filter(const FilterPipeline& pipeline, const std::string& response);

// lm-evaluation-harness's exact_match (Hugging Face evaluate's): each of regexes_to_ignore is
// removed from both sides, then ignore_case lowercases and ignore_punctuation drops ASCII
// punctuation, then the strings are compared.
bool exact_match(const std::string& prediction, const std::string& reference, const MetricSpec& spec);

// The normalised form exact_match compares (for records and tests).
std::string exact_match_normalize(const std::string& text, const MetricSpec& spec);

}  // namespace packbench::evals
