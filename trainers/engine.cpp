// packbench's in-process language model: the evals' LanguageModel over a decoder and its tokenizer.
#include "trainers/engine.h"

#include <algorithm>
#include <cctype>
#include <numeric>

#include "datasets/error.h"
#include "datasets/progress.h"
#include "datasets/tokenizer.h"

namespace packbench::train {

ChatTemplate parse_chat_template(const std::string& name) {
  if (name == "none" || name == "off") return ChatTemplate::kNone;
  if (name == "llama3" || name == "on") return ChatTemplate::kLlama3;
  throw Error("unknown chat template '" + name + "' (expected on, off, llama3 or none)");
}

// LLaMA-Factory 0.7.1's `llama3` template, which the paper trained with: BOS, a system turn,
// then `<|start_header_id|>user<|end_header_id|>\n\n{q}<|eot_id|>` and the assistant header.
std::string llama3_chat_prompt(const std::string& user, const std::string& system) {
  std::string s = "<|begin_of_text|>";
  if (!system.empty()) s += "<|start_header_id|>system<|end_header_id|>\n\n" + system + "<|eot_id|>";
  s += "<|start_header_id|>user<|end_header_id|>\n\n" + user +
       "<|eot_id|><|start_header_id|>assistant<|end_header_id|>\n\n";
  return s;
}

Engine::Engine(std::shared_ptr<DecoderBackend> model, std::shared_ptr<const data::Tokenizer> tokenizer,
               EngineOptions options)
    : model_(std::move(model)), tok_(std::move(tokenizer)), options_(std::move(options)) {
  if (!model_ || !tok_) throw Error("engine: a model and a tokenizer are required");
  if (options_.batch_size < 1) throw Error("engine: batch size must be >= 1");
  max_length_ = options_.max_length > 0 ? std::min(options_.max_length, model_->max_positions())
                                        : model_->max_positions();
  for (const auto& s : options_.stop_tokens)
    if (auto id = tok_->token_to_id(s)) stop_ids_.push_back(*id);
  if (auto eos = tok_->eos_id())
    if (std::find(stop_ids_.begin(), stop_ids_.end(), *eos) == stop_ids_.end()) stop_ids_.push_back(*eos);
  if (options_.chat_template == ChatTemplate::kLlama3) {
    for (const char* t : {"<|begin_of_text|>", "<|start_header_id|>", "<|end_header_id|>", "<|eot_id|>"})
      if (!tok_->token_to_id(t))
        throw Error(std::string("engine: the llama3 chat template needs the token ") + t +
                    ", which the tokenizer does not have");
  }
}

std::string Engine::wrap(const std::string& context) const {
  if (options_.chat_template == ChatTemplate::kLlama3) return llama3_chat_prompt(context, options_.system_prompt);
  return context;
}

std::vector<int32_t> Engine::encode_context(const std::string& context) const {
  std::vector<int32_t> ids;
  // The llama3 chat prompt carries its own <|begin_of_text|>.
  if (options_.add_bos && options_.chat_template == ChatTemplate::kNone)
    if (auto bos = tok_->bos_id()) ids.push_back(*bos);
  auto body = tok_->encode(wrap(context), false);
  ids.insert(ids.end(), body.begin(), body.end());
  return ids;
}

ContinuationTokens Engine::encode_pair(const std::string& context, const std::string& continuation) const {
  std::string ctx = wrap(context), cont = continuation;
  size_t keep = ctx.size();
  while (keep > 0 && std::isspace(static_cast<unsigned char>(ctx[keep - 1]))) --keep;
  cont = ctx.substr(keep) + cont;
  ctx.resize(keep);
  std::vector<int32_t> prefix;
  if (options_.add_bos && options_.chat_template == ChatTemplate::kNone)
    if (auto bos = tok_->bos_id()) prefix.push_back(*bos);
  ContinuationTokens out;
  out.context = prefix;
  auto c = tok_->encode(ctx, false);
  out.context.insert(out.context.end(), c.begin(), c.end());
  auto whole = prefix;
  auto w = tok_->encode(ctx + cont, false);
  whole.insert(whole.end(), w.begin(), w.end());
  if (out.context.empty()) {
    // Nothing to condition on: lm-evaluation-harness starts from the end-of-text token.
    auto eos = tok_->eos_id();
    if (!eos) throw Error("engine: an empty context needs a BOS or EOS token in the tokenizer");
    out.context.push_back(*eos);
    out.continuation = w;
    return out;
  }
  const size_t n = std::min(out.context.size(), whole.size());
  out.continuation.assign(whole.begin() + n, whole.end());
  return out;
}

std::vector<std::string> Engine::generate_until(const std::vector<evals::GenerationRequest>& requests) {
  std::vector<GenerationInput> inputs(requests.size());
  for (size_t i = 0; i < requests.size(); ++i) {
    const auto& r = requests[i];
    auto& in = inputs[i];
    in.max_new_tokens = options_.max_new_tokens > 0 ? options_.max_new_tokens : r.max_gen_toks;
    if (in.max_new_tokens < 1) throw Error("engine: request " + std::to_string(i) + " asks for max_gen_toks < 1");
    if (in.max_new_tokens >= max_length_)
      throw Error("engine: max new tokens " + std::to_string(in.max_new_tokens) +
                  " leaves no room for a context in the window of " + std::to_string(max_length_));
    in.prompt = encode_context(r.context);
    // Left-truncate the context so that it and the generation fit the window (as lm-eval does).
    const size_t room = max_length_ - in.max_new_tokens;
    if (in.prompt.size() > room) in.prompt.erase(in.prompt.begin(), in.prompt.end() - room);
    in.stops = StopStrings(r.until);
    in.stream = calls_ + static_cast<int64_t>(i);
  }
  calls_ += requests.size();
  // Longest prompts first (lm-eval's order): batches of similar lengths, memory peaks early.
  std::vector<size_t> order(inputs.size());
  std::iota(order.begin(), order.end(), 0);
  std::stable_sort(order.begin(), order.end(),
                   [&](size_t a, size_t b) { return inputs[a].prompt.size() > inputs[b].prompt.size(); });
  std::vector<GenerationInput> sorted;
  sorted.reserve(inputs.size());
  for (size_t i : order) sorted.push_back(std::move(inputs[i]));

  GenerateOptions go;
  go.sampling = options_.sampling;
  go.stop_token_ids = stop_ids_;
  go.batch_size = options_.batch_size;
  if (auto pad = tok_->pad_id(); pad && *pad < model_->vocab_size()) go.pad_id = *pad;
  std::unique_ptr<Progress> bar;
  if (options_.progress && sorted.size() > 0) bar = std::make_unique<Progress>("generate", sorted.size(), "req");
  auto outs = generate(*model_, tok_.get(), sorted, go, &gen_stats_, [&](int64_t n) {
    if (bar) bar->add(n);
  });
  if (bar) bar->finish();
  std::vector<std::string> texts(requests.size());
  for (size_t k = 0; k < order.size(); ++k) texts[order[k]] = std::move(outs[k].text);
  return texts;
}

std::vector<evals::LoglikelihoodResult> Engine::loglikelihood(
    const std::vector<evals::LoglikelihoodRequest>& requests) {
  std::vector<ContinuationTokens> toks;
  toks.reserve(requests.size());
  for (const auto& r : requests) toks.push_back(encode_pair(r.context, r.continuation));
  LoglikelihoodOptions lo;
  lo.batch_size = options_.batch_size;
  lo.max_length = max_length_;
  if (auto pad = tok_->pad_id(); pad && *pad < model_->vocab_size()) lo.pad_id = *pad;
  std::unique_ptr<Progress> bar;
  if (options_.progress && !toks.empty()) bar = std::make_unique<Progress>("loglikelihood", toks.size(), "req");
  auto out = score_continuations(*model_, toks, lo, &ll_stats_, [&](int64_t n) {
    if (bar) bar->add(n);
  });
  if (bar) bar->finish();
  return out;
}

}  // namespace packbench::train
