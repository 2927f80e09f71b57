// Batched log-likelihood of continuations given contexts, each distinct context run once.
#pragma once

#include <cstdint>
#include <functional>
#include <vector>

#include "evals/lm_api.h"
#include "inference/engine_backend.h"

namespace packbench::train {

struct ContinuationTokens {
  std::vector<int32_t> context;       // non-empty (callers put a BOS or end-of-text token first)
  std::vector<int32_t> continuation;  // may be empty (log-probability 0, greedy)
};

struct LoglikelihoodOptions {
  int batch_size = 8;      // distinct contexts per forward pass
  int64_t max_length = 0;  // context window; 0 = the model's. Longer inputs lose tokens on the left
  int32_t pad_id = 0;
};

struct LoglikelihoodStats {
  int64_t requests = 0, distinct_contexts = 0;
  int64_t context_tokens = 0;       // real tokens prefilled (each distinct context once)
  int64_t continuation_tokens = 0;  // tokens run after a context (all but each continuation's last)
  double context_seconds = 0, continuation_seconds = 0;
};

// log P(continuation | context) summed over the continuation's tokens, and whether greedy decoding
// reproduces it, as lm-evaluation-harness computes them: the model sees
// (context + continuation)[-(max_length + 1):][:-1]. Requests with the same (truncated) context
// share one forward pass over it; their continuations then run from copies of its KV cache.
std::vector<evals::LoglikelihoodResult> score_continuations(
    DecoderBackend& model, const std::vector<ContinuationTokens>& requests,
    const LoglikelihoodOptions& options, LoglikelihoodStats* stats = nullptr,
    const std::function<void(int64_t)>& on_done = {});

}  // namespace packbench::train
