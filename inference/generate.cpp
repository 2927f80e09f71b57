// Batched token generation over a DecoderBackend: prefill, then one token per step with a KV cache.
#include "inference/generate.h"

#include <torch/torch.h>

#include <algorithm>
#include <chrono>

#include "core/error.h"
#include "datasets/tokenizer.h"

namespace packbench::train {
namespace {

using Clock = std::chrono::steady_clock;
double since(Clock::time_point t0) { return std::chrono::duration<double>(Clock::now() - t0).count(); }

// Tokens decoded from the end of a row to look for a stop string that the newest token completed:
// every token decodes to >= 1 byte, plus slack for a multi-byte character cut at the window start.
constexpr size_t kStopSlack = 8;

void run_batch(DecoderBackend& model, const data::Tokenizer* tok, const std::vector<GenerationInput>& inputs,
               size_t begin, size_t end, const GenerateOptions& opt, Sampler& sampler,
               std::vector<GenerationOutput>& out, GenerateStats& st) {
  const int64_t B = static_cast<int64_t>(end - begin);
  int64_t P = 0, max_new = 0;
  for (size_t i = begin; i < end; ++i) {
    P = std::max<int64_t>(P, inputs[i].prompt.size());
    max_new = std::max<int64_t>(max_new, inputs[i].max_new_tokens);
  }
  auto device = model.device();
  // Left-pad the prompts to P: row b's real tokens sit at the end; positions count real tokens.
  auto ids = torch::full({B, P}, static_cast<int64_t>(opt.pad_id), torch::kLong);
  auto pos = torch::zeros({B, P}, torch::kLong);
  auto mask = torch::zeros({B, P}, torch::kBool);
  std::vector<int64_t> next_pos(B), rows(B), streams(B);
  {
    auto ia = ids.accessor<int64_t, 2>();
    auto pa = pos.accessor<int64_t, 2>();
    auto ma = mask.accessor<bool, 2>();
    for (int64_t b = 0; b < B; ++b) {
      const auto& p = inputs[begin + b].prompt;
      const int64_t L = p.size(), off = P - L;
      for (int64_t t = 0; t < L; ++t) {
        ia[b][off + t] = p[t];
        pa[b][off + t] = t;
        ma[b][off + t] = true;
      }
      next_pos[b] = L;
      rows[b] = begin + b;
      streams[b] = inputs[begin + b].stream >= 0 ? inputs[begin + b].stream : static_cast<int64_t>(begin + b);
      st.prompt_tokens += L;
      st.padded_tokens += P - L;
    }
  }
  ids = ids.to(device);
  pos = pos.to(device);
  mask = mask.to(device);
  std::unique_ptr<DecodeCache> cache;
  if (opt.use_cache) cache = model.new_cache(B, P + max_new);

  auto t0 = Clock::now();
  auto logits = model.forward(ids, pos, mask, cache.get(), 1);
  ++st.forward_calls;
  st.prefill_seconds += since(t0);

  while (true) {
    t0 = Clock::now();
    auto picked = sampler.pick(logits.select(1, logits.size(1) - 1), streams);
    st.sample_seconds += since(t0);
    const int64_t* pk = picked.data_ptr<int64_t>();
    const int64_t n = static_cast<int64_t>(rows.size());
    st.generated_tokens += n;

    t0 = Clock::now();
    std::vector<int64_t> keep;
    for (int64_t r = 0; r < n; ++r) {
      const auto& in = inputs[rows[r]];
      auto& o = out[rows[r]];
      const int32_t t = static_cast<int32_t>(pk[r]);
      bool done = false;
      if (std::find(opt.stop_token_ids.begin(), opt.stop_token_ids.end(), t) != opt.stop_token_ids.end()) {
        o.finish = FinishReason::kStopToken;
        done = true;
      } else {
        o.tokens.push_back(t);
        if (opt.on_token && !opt.on_token(rows[r], t)) {
          o.finish = FinishReason::kCancelled;
          done = true;
        } else if (!in.stops.empty()) {
          if (!tok) throw Error("generate: stop strings need a tokenizer");
          size_t w = std::min(o.tokens.size(), in.stops.longest() + kStopSlack);
          std::vector<int32_t> tail(o.tokens.end() - w, o.tokens.end());
          if (in.stops.find(tok->decode(tail, true)) != std::string_view::npos) {
            o.finish = FinishReason::kStopString;
            done = true;
          }
        }
        if (!done && static_cast<int64_t>(o.tokens.size()) >= in.max_new_tokens) {
          o.finish = FinishReason::kLength;
          done = true;
        }
      }
      if (!done) keep.push_back(r);
    }
    st.stop_seconds += since(t0);
    if (keep.empty()) break;

    t0 = Clock::now();
    auto next = picked;
    if (static_cast<int64_t>(keep.size()) < n) {
      // Compact: finished rows leave the batch, their cache rows with them.
      auto idx = torch::tensor(keep, torch::kLong);
      auto idx_dev = idx.to(device);
      if (cache) cache->select_rows(idx_dev);
      mask = mask.index_select(0, idx_dev);
      if (!cache) {
        ids = ids.index_select(0, idx_dev);
        pos = pos.index_select(0, idx_dev);
      }
      next = picked.index_select(0, idx);
      std::vector<int64_t> r2, np2, s2;
      for (int64_t r : keep) {
        r2.push_back(rows[r]);
        np2.push_back(next_pos[r]);
        s2.push_back(streams[r]);
      }
      rows.swap(r2);
      next_pos.swap(np2);
      streams.swap(s2);
    }
    const int64_t m = static_cast<int64_t>(rows.size());
    auto step_ids = next.view({m, 1}).to(device);
    auto step_pos = torch::tensor(next_pos, torch::kLong).view({m, 1}).to(device);
    for (auto& p : next_pos) ++p;
    mask = torch::cat({mask, torch::ones({m, 1}, torch::dtype(torch::kBool).device(device))}, 1);
    st.compact_seconds += since(t0);

    t0 = Clock::now();
    if (cache) {
      logits = model.forward(step_ids, step_pos, mask, cache.get(), 1);
    } else {
      ids = torch::cat({ids, step_ids}, 1);
      pos = torch::cat({pos, step_pos}, 1);
      logits = model.forward(ids, pos, mask, nullptr, 1);
    }
    ++st.forward_calls;
    st.decode_seconds += since(t0);
  }
  for (size_t i = begin; i < end; ++i) {
    auto& o = out[i];
    std::string text = o.tokens.empty() ? std::string() : (tok ? tok->decode(o.tokens, true) : std::string());
    o.text = inputs[i].stops.cut(text);
  }
}

}  // namespace

const char* finish_reason_name(FinishReason r) {
  switch (r) {
    case FinishReason::kStopToken: return "stop_token";
    case FinishReason::kStopString: return "stop_string";
    case FinishReason::kLength: return "length";
    case FinishReason::kCancelled: return "cancelled";
  }
  return "?";
}

void GenerateStats::add(const GenerateStats& o) {
  prompt_tokens += o.prompt_tokens;
  padded_tokens += o.padded_tokens;
  generated_tokens += o.generated_tokens;
  forward_calls += o.forward_calls;
  prefill_seconds += o.prefill_seconds;
  decode_seconds += o.decode_seconds;
  sample_seconds += o.sample_seconds;
  stop_seconds += o.stop_seconds;
  compact_seconds += o.compact_seconds;
}

std::vector<GenerationOutput> generate(DecoderBackend& model, const data::Tokenizer* tokenizer,
                                       const std::vector<GenerationInput>& inputs,
                                       const GenerateOptions& options, GenerateStats* stats,
                                       const std::function<void(int64_t)>& on_done) {
  if (options.batch_size < 1) throw Error("generate: batch size must be >= 1");
  for (size_t i = 0; i < inputs.size(); ++i) {
    if (inputs[i].prompt.empty()) throw Error("generate: input " + std::to_string(i) + " has an empty prompt");
    if (inputs[i].max_new_tokens < 1)
      throw Error("generate: input " + std::to_string(i) + " asks for max_new_tokens < 1");
    if (static_cast<int64_t>(inputs[i].prompt.size()) + inputs[i].max_new_tokens > model.max_positions())
      throw Error("generate: input " + std::to_string(i) + " needs " +
                  std::to_string(inputs[i].prompt.size() + inputs[i].max_new_tokens) +
                  " positions, more than the model's " + std::to_string(model.max_positions()));
  }
  torch::InferenceMode guard;
  Sampler sampler(options.sampling);
  std::vector<GenerationOutput> out(inputs.size());
  GenerateStats st;
  for (size_t b = 0; b < inputs.size(); b += options.batch_size) {
    size_t e = std::min(inputs.size(), b + options.batch_size);
    run_batch(model, tokenizer, inputs, b, e, options, sampler, out, st);
    if (on_done) on_done(static_cast<int64_t>(e - b));
  }
  if (stats) stats->add(st);
  return out;
}

}  // namespace packbench::train
