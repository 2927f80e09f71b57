// The study's tokenizer: a small byte-level BPE trained on the synthetic data for the mini study.
#pragma once

#include <string>
#include <vector>

namespace packbench::cli {

// Trains a byte-level BPE with LLaMA-3's pre-tokenizer and special tokens on `texts` and writes
// tokenizer.json + tokenizer_config.json into `dir`, unless dir/tokenizer.json already exists.
void ensure_trained_tokenizer(const std::string& dir, const std::vector<std::string>& texts, int vocab_size);

}  // namespace packbench::cli
