// Trains a small byte-level BPE (LLaMA-3's pattern, alphabet and special tokens) and writes it
// as a Hugging Face tokenizer.json + tokenizer_config.json that packbench and Hugging Face load.
#pragma once

#include <cstdint>
#include <string>
#include <utility>
#include <vector>

namespace packbench::data {

// LLaMA-3's special tokens and a pad (LLaMA-3.1's name for it), in id order after the merges.
std::vector<std::string> llama3_special_tokens();

struct BpeTrainerOptions {
  // Total vocabulary: 256 byte tokens + merges + special tokens. Training stops earlier when no
  // pair occurs at least min_frequency times.
  int32_t vocab_size = 2048;
  int64_t min_frequency = 2;
  std::vector<std::string> special_tokens = llama3_special_tokens();
  std::string bos_token = "<|begin_of_text|>";
  std::string eos_token = "<|end_of_text|>";
  std::string pad_token = "<|finetune_right_pad_id|>";
  int threads = 0;  // pre-tokenization threads (0: all OpenMP threads)
};

struct TrainedBpe {
  std::vector<std::string> tokens;                    // bytes of each id (256 bytes, then merges)
  // In rank order; each makes the token of its two parts' bytes (usually a new id; a merge whose
  // bytes another pair already made reuses that id).
  std::vector<std::pair<int32_t, int32_t>> merges;
  std::vector<std::string> special_tokens;            // ids tokens.size() + k
  std::string bos_token, eos_token, pad_token;
  int32_t vocab_size() const { return static_cast<int32_t>(tokens.size() + special_tokens.size()); }
};

// Pre-tokenizes `texts` with LLaMA-3's pattern (special tokens in the text are split out and
// not counted), then merges the most frequent adjacent pair (ties: the pair whose bytes sort
// first) until the vocabulary is full. Deterministic. Byte ids follow the GPT-2/LLaMA-3 order
// (id 0 is "!"), as in LLaMA-3's vocabulary.
TrainedBpe train_bpe(const std::vector<std::string>& texts, const BpeTrainerOptions& options = {});

// The Hugging Face files' text.
std::string trained_tokenizer_json(const TrainedBpe& bpe);
std::string trained_tokenizer_config_json(const TrainedBpe& bpe);
// Writes <dir>/tokenizer.json and <dir>/tokenizer_config.json (atomically; creates dir).
void write_trained_tokenizer(const TrainedBpe& bpe, const std::string& dir);

}  // namespace packbench::data
