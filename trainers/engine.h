// packbench's in-process language model: the evals' LanguageModel over a decoder and its tokenizer.
#pragma once

#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include "evals/lm_api.h"
#include "trainers/engine_backend.h"
#include "trainers/generate.h"
#include "trainers/loglikelihood.h"

namespace packbench::data { class Tokenizer; }

namespace packbench::train {

// How contexts are wrapped before tokenizing. kNone: the prompt text as is (after BOS).
// kLlama3: one user turn of the llama3 chat format the paper fine-tuned with (LLaMA-Factory 0.7.1's
// `llama3` template, default system prompt), ending at the assistant header.
enum class ChatTemplate { kNone, kLlama3 };
ChatTemplate parse_chat_template(const std::string& name);  // "none"|"off", "llama3"|"on"

struct EngineOptions {
  int batch_size = 8;          // rows per forward pass
  int64_t max_length = 0;      // context window; 0 = the model's max_position_embeddings
  int max_new_tokens = -1;     // > 0: overrides every request's max_gen_toks
  SamplingOptions sampling;    // greedy by default
  ChatTemplate chat_template = ChatTemplate::kNone;
  std::string system_prompt = "You are a helpful assistant.";  // kLlama3 only; "" = no system turn
  bool add_bos = true;         // begin every context with the tokenizer's BOS token
  std::vector<std::string> stop_tokens = {"<|eot_id|>", "<|end_of_text|>"};  // ids found in the vocab stop generation
  std::string name = "packbench";
  bool progress = true;        // a progress bar per call
};

// The llama3 chat prompt for one user message (BOS included), as the fine-tuned model saw it.
std::string llama3_chat_prompt(const std::string& user, const std::string& system);

class Engine : public evals::LanguageModel {
 public:
  Engine(std::shared_ptr<DecoderBackend> model, std::shared_ptr<const data::Tokenizer> tokenizer,
         EngineOptions options);

  std::vector<std::string> generate_until(const std::vector<evals::GenerationRequest>& requests) override;
  std::vector<evals::LoglikelihoodResult> loglikelihood(
      const std::vector<evals::LoglikelihoodRequest>& requests) override;
  std::string name() const override { return options_.name; }

  // The token ids a context becomes (template, BOS) before generation or scoring.
  std::vector<int32_t> encode_context(const std::string& context) const;
  // lm-evaluation-harness's split of (context, continuation) into ids: trailing spaces of the
  // context move to the continuation, the pair is encoded whole and cut where the context's
  // own encoding ends.
  ContinuationTokens encode_pair(const std::string& context, const std::string& continuation) const;
  const std::vector<int32_t>& stop_token_ids() const { return stop_ids_; }
  int64_t max_length() const { return max_length_; }

  const GenerateStats& generate_stats() const { return gen_stats_; }
  const LoglikelihoodStats& loglikelihood_stats() const { return ll_stats_; }

 private:
  std::string wrap(const std::string& context) const;
  std::shared_ptr<DecoderBackend> model_;
  std::shared_ptr<const data::Tokenizer> tok_;
  EngineOptions options_;
  std::vector<int32_t> stop_ids_;
  int64_t max_length_ = 0;
  int64_t calls_ = 0;  // sampling streams continue across calls
  GenerateStats gen_stats_;
  LoglikelihoodStats ll_stats_;
};

}  // namespace packbench::train
