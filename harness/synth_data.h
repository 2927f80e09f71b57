// Synthetic SFT conversations in LLaMA-Factory's sharegpt format, for the CPU mini study and tests.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

namespace packbench::cli {

struct SynthOptions {
  int64_t samples = 1000;
  uint64_t seed = 1;
  int max_turns = 1;         // user/assistant exchanges per conversation: 1..max_turns
  double long_tail = 1.6;    // Pareto shape of response lengths (smaller = heavier tail)
  int max_sentences = 60;    // cap on sentences in one long-form answer
};

// Writes <dir>/<name>.json (a JSON array of {"conversations": [{"from","value"}...]}) and
// <dir>/dataset_info.json registering it (merged with an existing registry). Atomic writes.
// Conversations mix arithmetic word problems ("#### N" answers), multiple-choice questions,
// formatting instructions, small Python functions and long-form answers whose lengths follow a
// heavy-tailed distribution, as real chat data does.
void write_synth_dataset(const std::string& dir, const std::string& name, const SynthOptions& options);

// The texts of a synthetic dataset (every turn), e.g. to train a small tokenizer on.
std::vector<std::string> synth_texts(const SynthOptions& options);

}  // namespace packbench::cli
