// The evals' LanguageModel over an OpenAI-compatible HTTP server (packbench serve, vLLM, TGI, ...).
#pragma once

#include <atomic>
#include <cstdint>
#include <functional>
#include <string>
#include <vector>

#include <nlohmann/json_fwd.hpp>

#include "evals/lm_api.h"

namespace packbench::cli {

struct RemoteOptions {
  std::string url;          // http://host:port, with or without /v1 (a trailing /completions is dropped)
  std::string model;        // "" = the first model the server lists under /v1/models
  std::string api_key;      // sent as "Authorization: Bearer <key>" when non-empty
  int concurrency = 4;      // requests in flight at once
  int batch_size = 8;       // prompts per request
  int max_retries = 5;      // on connection errors, 429 and 5xx, with exponential backoff
  double backoff_seconds = 0.5;  // first wait; doubles each retry
  double timeout_seconds = 600;
  // false: contexts go to /v1/completions as raw text. true: generation goes to
  // /v1/chat/completions as one user turn (the server's chat template applies); log-likelihood is
  // then refused, as the chat API has no echo.
  bool chat = false;
  std::string system_prompt;  // with chat: a system message first ("" = none)
  int max_new_tokens = -1;    // > 0: overrides every request's max_gen_toks
  double temperature = 0.0, top_p = 1.0;
  uint64_t seed = 1234;
};

// The request counts an evaluation reports.
struct RemoteStats {
  std::atomic<int64_t> http_requests{0}, retries{0}, prompt_tokens{0}, completion_tokens{0};
};

class RemoteModel : public evals::LanguageModel {
 public:
  // Checks the URL and resolves the model name (asks /v1/models when none is given).
  explicit RemoteModel(RemoteOptions options);
  std::vector<std::string> generate_until(const std::vector<evals::GenerationRequest>& requests) override;
  std::vector<evals::LoglikelihoodResult> loglikelihood(
      const std::vector<evals::LoglikelihoodRequest>& requests) override;
  std::string name() const override { return "remote:" + options_.model + "@" + base_url(); }
  const std::string& model() const { return options_.model; }
  std::string base_url() const { return scheme_host_port_ + base_path_; }
  const RemoteStats& stats() const { return stats_; }

  // One JSON request with retries: POST when body is given, else GET. Throws packbench::Error with
  // the server's message on a 4xx other than 429, or once retries are spent.
  nlohmann::json call(const std::string& path, const nlohmann::json* body) const;

 private:
  // Runs jobs 0..n-1 on up to `concurrency` threads; rethrows the first failure.
  void run_parallel(size_t n, const std::function<void(size_t)>& job) const;
  void count_usage(const nlohmann::json& reply) const;

  RemoteOptions options_;
  std::string scheme_host_port_, base_path_;
  mutable RemoteStats stats_;
};

}  // namespace packbench::cli
