// packbench's in-process language model: the evals' LanguageModel over a decoder and its tokenizer.
#pragma once

#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include "evals/lm_api.h"
#include "inference/engine_backend.h"
#include "inference/generate.h"
#include "inference/loglikelihood.h"

namespace packbench::data {
class Tokenizer;
class TemplateEncoder;
}

namespace packbench::train {

struct EngineOptions {
  int batch_size = 8;          // rows per forward pass
  int64_t max_length = 0;      // context window; 0 = the model's max_position_embeddings
  int max_new_tokens = -1;     // > 0: overrides every request's max_gen_toks
  SamplingOptions sampling;    // greedy by default
  // "" : contexts are tokenized as they are, after BOS. Otherwise the name of a chat template
  // (datasets/chat_template.h, e.g. "llama3_lf07", the paper's): every context becomes one user
  // turn, rendered as fine-tuning rendered it, ending at the assistant header.
  std::string chat_template;
  std::string system_prompt;   // "" = the template's default system prompt
  // Without a template: begin every context with the special tokens the tokenizer itself puts
  // first when asked to add them (LLaMA-3: BOS; none where tokenizer_config.json says
  // add_bos_token false, as for SmolLM2), which is what Hugging Face's tokenizer(text) and
  // lm-evaluation-harness's hf backend give. false: no leading special tokens.
  bool add_bos = true;
  // Generation stops at these ids, at the tokenizer's EOS and at the template's end-of-turn token.
  std::vector<int32_t> stop_token_ids;
  std::string name = "packbench";
  bool progress = true;        // a progress bar per call
};

class Engine : public evals::LanguageModel {
 public:
  Engine(std::shared_ptr<DecoderBackend> model, std::shared_ptr<const data::Tokenizer> tokenizer,
         EngineOptions options);
  ~Engine() override;

  std::vector<std::string> generate_until(const std::vector<evals::GenerationRequest>& requests) override;
  std::vector<evals::LoglikelihoodResult> loglikelihood(
      const std::vector<evals::LoglikelihoodRequest>& requests) override;
  std::string name() const override { return options_.name; }

  // The token ids a context becomes (template, BOS) before generation or scoring.
  std::vector<int32_t> encode_context(const std::string& context) const;
  // (context, continuation) as ids. Without a template, lm-evaluation-harness's split: trailing
  // whitespace of the context moves to the continuation, the pair is encoded whole and cut where
  // the context's own encoding ends. With a template, the context is the rendered user turn and
  // the continuation is tokenized on its own, as the template tokenizes an assistant reply.
  ContinuationTokens encode_pair(const std::string& context, const std::string& continuation) const;
  const std::vector<int32_t>& stop_token_ids() const { return stop_ids_; }
  int64_t max_length() const { return max_length_; }

  const GenerateStats& generate_stats() const { return gen_stats_; }
  const LoglikelihoodStats& loglikelihood_stats() const { return ll_stats_; }
  // The ids every context starts with without a template (see EngineOptions::add_bos).
  const std::vector<int32_t>& context_prefix() const { return prefix_; }

 private:
  void check_ids(const std::vector<int32_t>& ids) const;  // every id inside the model's vocabulary
  std::shared_ptr<DecoderBackend> model_;
  std::shared_ptr<const data::Tokenizer> tok_;
  EngineOptions options_;
  std::unique_ptr<data::TemplateEncoder> template_;
  std::vector<int32_t> prefix_;  // leading special tokens of a context without a template
  std::vector<int32_t> stop_ids_;
  int64_t max_length_ = 0;
  int64_t calls_ = 0;  // sampling streams continue across calls
  GenerateStats gen_stats_;
  LoglikelihoodStats ll_stats_;
};

}  // namespace packbench::train
