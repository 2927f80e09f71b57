// packbench's in-process language model: the evals' LanguageModel over a decoder and its tokenizer.
#include "inference/engine.h"

#include <algorithm>
#include <cctype>
#include <numeric>

#include "datasets/chat_template.h"
#include "core/error.h"
#include "core/progress.h"
#include "datasets/tokenizer.h"

namespace packbench::train {

namespace {
// What the tokenizer puts before a text when it adds its special tokens: the ids of
// encode("a", true) before those of encode("a", false).
std::vector<int32_t> leading_special_tokens(const data::Tokenizer& tok) {
  const auto plain = tok.encode("a", false), full = tok.encode("a", true);
  auto at = std::search(full.begin(), full.end(), plain.begin(), plain.end());
  if (plain.empty() || at == full.end())
    throw Error("engine: the tokenizer's special tokens change the text itself (\"a\" encodes differently "
                "with and without them); pass --no-bos to tokenize contexts as they are");
  return {full.begin(), at};
}
}  // namespace

Engine::Engine(std::shared_ptr<DecoderBackend> model, std::shared_ptr<const data::Tokenizer> tokenizer,
               EngineOptions options)
    : model_(std::move(model)), tok_(std::move(tokenizer)), options_(std::move(options)) {
  if (!model_ || !tok_) throw Error("engine: a model and a tokenizer are required");
  if (options_.batch_size < 1) throw Error("engine: batch size must be >= 1");
  max_length_ = options_.max_length > 0 ? std::min(options_.max_length, model_->max_positions())
                                        : model_->max_positions();
  stop_ids_ = options_.stop_token_ids;
  auto add_stop = [&](int32_t id) {
    if (std::find(stop_ids_.begin(), stop_ids_.end(), id) == stop_ids_.end()) stop_ids_.push_back(id);
  };
  if (auto eos = tok_->eos_id()) add_stop(*eos);
  if (options_.add_bos) prefix_ = leading_special_tokens(*tok_);
  if (!options_.chat_template.empty()) {
    const auto& t = data::get_template(options_.chat_template);
    template_ = std::make_unique<data::TemplateEncoder>(t, tok_);
    if (!t.eos_token.empty()) {
      auto id = tok_->token_to_id(t.eos_token);
      if (!id)
        throw Error("engine: chat template '" + t.name + "' ends turns with " + t.eos_token +
                    ", which the tokenizer does not have");
      add_stop(*id);
    }
  }
}

Engine::~Engine() = default;

void Engine::check_ids(const std::vector<int32_t>& ids) const {
  for (int32_t id : ids)
    if (id < 0 || id >= model_->vocab_size())
      throw Error("engine: token id " + std::to_string(id) + " is outside the model's vocabulary of " +
                  std::to_string(model_->vocab_size()) + " (tokenizer and checkpoint do not match)");
}

std::vector<int32_t> Engine::encode_context(const std::string& context) const {
  std::vector<int32_t> ids;
  if (template_) {
    data::Conversation conv;
    conv.system = options_.system_prompt;
    conv.messages.push_back({data::Role::kUser, context});
    ids = template_->encode_messages(conv).at(0);
  } else {
    ids = prefix_;
    auto body = tok_->encode(context, false);
    ids.insert(ids.end(), body.begin(), body.end());
  }
  check_ids(ids);
  return ids;
}

ContinuationTokens Engine::encode_pair(const std::string& context, const std::string& continuation) const {
  if (template_) {
    ContinuationTokens t{encode_context(context), tok_->encode(continuation, false)};
    check_ids(t.continuation);
    return t;
  }
  std::string ctx = context, cont = continuation;
  size_t keep = ctx.size();
  while (keep > 0 && std::isspace(static_cast<unsigned char>(ctx[keep - 1]))) --keep;
  cont = ctx.substr(keep) + cont;
  ctx.resize(keep);
  const std::vector<int32_t>& prefix = prefix_;
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
    check_ids(out.context);
    check_ids(out.continuation);
    return out;
  }
  const size_t n = std::min(out.context.size(), whole.size());
  out.continuation.assign(whole.begin() + n, whole.end());
  check_ids(out.context);
  check_ids(out.continuation);
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
