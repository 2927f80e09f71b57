// The language-model interface tasks evaluate through: generation and log-likelihood, text in and out.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

namespace packbench::evals {

// "Continue this context until one of `until` appears (or max_gen_toks)". The returned text
// excludes the stop string, as lm-evaluation-harness's generate_until does.
struct GenerationRequest {
  std::string context;
  std::vector<std::string> until;
  int max_gen_toks = 256;
};

// log P(continuation | context), summed over the continuation's tokens, and whether greedy
// decoding would have produced exactly the continuation.
struct LoglikelihoodRequest {
  std::string context;
  std::string continuation;
};
struct LoglikelihoodResult {
  double logprob = 0.0;
  bool is_greedy = false;
};

// Implemented by packbench's in-process engine (trainers/, issue 5) and by test doubles.
// Wrapping contexts in a chat template, if wanted, is the implementation's business.
class LanguageModel {
 public:
  virtual ~LanguageModel() = default;
  virtual std::vector<std::string> generate_until(const std::vector<GenerationRequest>& requests) = 0;
  virtual std::vector<LoglikelihoodResult> loglikelihood(const std::vector<LoglikelihoodRequest>& requests) = 0;
  virtual std::string name() const = 0;
};

// Options for running one task in-process: each task exposes
//   TaskScore run_<task>(LanguageModel& lm, const RunOptions& options);
// which writes <out_dir>/samples.jsonl as it goes (one line per doc, flushed per batch; an
// existing file's lines are reused so an interrupted run resumes) and <out_dir>/results.json
// at the end (atomically).
struct RunOptions {
  std::string data_path;   // "" = the task's default location under the shared benchmarks
  std::string out_dir;     // "" = write nothing
  int64_t limit = -1;      // first N docs only (-1 = all)
  int batch_size = 8;      // requests handed to the model at once
  int threads = 0;         // for CPU-side work such as running generated code
};

}  // namespace packbench::evals
