// Batched token generation over a DecoderBackend: prefill, then one token per step with a KV cache.
#pragma once

#include <cstdint>
#include <functional>
#include <string>
#include <vector>

#include "inference/engine_backend.h"
#include "inference/generate_stop.h"
#include "inference/sampling.h"

namespace packbench::data { class Tokenizer; }

namespace packbench::train {

struct GenerationInput {
  std::vector<int32_t> prompt;  // token ids, non-empty
  int max_new_tokens = 256;
  StopStrings stops;            // matched on the decoded continuation (needs a tokenizer)
  int64_t stream = -1;          // sampling stream (-1: the input's index)
};

enum class FinishReason { kStopToken, kStopString, kLength, kCancelled };
const char* finish_reason_name(FinishReason r);

struct GenerationOutput {
  std::vector<int32_t> tokens;  // generated ids, without the stop token that ended them
  std::string text;             // decoded (special tokens skipped), cut before the earliest stop
  FinishReason finish = FinishReason::kLength;
};

struct GenerateOptions {
  SamplingOptions sampling;             // greedy by default
  std::vector<int32_t> stop_token_ids;  // end of sequence / end of turn
  int batch_size = 8;                   // rows per forward pass
  bool use_cache = true;                // false: recompute the whole sequence every step (reference)
  int32_t pad_id = 0;                   // any valid id; padded positions are masked out
  // Called with (input index, token) for every token a row keeps, as soon as it is sampled
  // (streaming). Returning false ends that row there (FinishReason::kCancelled).
  std::function<bool(size_t, int32_t)> on_token;
};

// Where the time went (seconds) and how many tokens went through the model.
struct GenerateStats {
  int64_t prompt_tokens = 0;     // real prompt tokens prefilled
  int64_t padded_tokens = 0;     // prompt padding prefilled alongside
  int64_t generated_tokens = 0;  // tokens sampled (including the stop tokens)
  int64_t forward_calls = 0;
  double prefill_seconds = 0, decode_seconds = 0, sample_seconds = 0, stop_seconds = 0, compact_seconds = 0;
  void add(const GenerateStats& o);
};

// Generates for every input; batches consecutive inputs (sort them by length first for less
// padding). Rows finish independently: a finished row leaves the batch (the cache is compacted)
// and costs nothing more. `tokenizer` may be null when no input has stop strings.
// `on_done(n)` is called after each batch with the number of inputs it finished.
std::vector<GenerationOutput> generate(DecoderBackend& model, const data::Tokenizer* tokenizer,
                                       const std::vector<GenerationInput>& inputs,
                                       const GenerateOptions& options, GenerateStats* stats = nullptr,
                                       const std::function<void(int64_t)>& on_done = {});

}  // namespace packbench::train
