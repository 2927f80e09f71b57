// Batched log-likelihood of continuations given contexts, each distinct context run once.
#include "inference/loglikelihood.h"

#include <torch/torch.h>

#include <algorithm>
#include <chrono>
#include <map>

#include "core/error.h"

namespace packbench::train {
namespace {

using Clock = std::chrono::steady_clock;
double since(Clock::time_point t0) { return std::chrono::duration<double>(Clock::now() - t0).count(); }

struct Group {
  std::vector<int32_t> context;
  std::vector<size_t> members;  // request indices
};

}  // namespace

std::vector<evals::LoglikelihoodResult> score_continuations(
    DecoderBackend& model, const std::vector<ContinuationTokens>& requests,
    const LoglikelihoodOptions& options, LoglikelihoodStats* stats,
    const std::function<void(int64_t)>& on_done) {
  if (options.batch_size < 1) throw Error("loglikelihood: batch size must be >= 1");
  const int64_t max_len = options.max_length > 0 ? std::min(options.max_length, model.max_positions())
                                                 : model.max_positions();
  torch::InferenceMode guard;
  LoglikelihoodStats st;
  st.requests = requests.size();

  // Truncate as lm-evaluation-harness does, then group requests by their context.
  std::vector<std::vector<int32_t>> conts(requests.size());
  std::map<std::vector<int32_t>, size_t> group_of;
  std::vector<Group> groups;
  for (size_t i = 0; i < requests.size(); ++i) {
    const auto& r = requests[i];
    if (r.context.empty()) throw Error("loglikelihood: request " + std::to_string(i) + " has an empty context");
    if (static_cast<int64_t>(r.continuation.size()) > max_len)
      throw Error("loglikelihood: request " + std::to_string(i) + "'s continuation has " +
                  std::to_string(r.continuation.size()) + " tokens, more than the context window " +
                  std::to_string(max_len));
    const int64_t total = r.context.size() + r.continuation.size();
    const int64_t drop = std::max<int64_t>(0, total - (max_len + 1));
    std::vector<int32_t> ctx(r.context.begin() + std::min<int64_t>(drop, r.context.size()), r.context.end());
    if (ctx.empty()) ctx.push_back(r.context.back());  // keep at least one token to condition on
    conts[i] = r.continuation;
    auto [it, fresh] = group_of.emplace(ctx, groups.size());
    if (fresh) groups.push_back(Group{std::move(ctx), {}});
    groups[it->second].members.push_back(i);
  }
  st.distinct_contexts = groups.size();
  // Longest contexts first: similar lengths share a batch, and out-of-memory shows up early.
  std::vector<size_t> order(groups.size());
  for (size_t g = 0; g < groups.size(); ++g) order[g] = g;
  std::stable_sort(order.begin(), order.end(),
                   [&](size_t a, size_t b) { return groups[a].context.size() > groups[b].context.size(); });

  std::vector<evals::LoglikelihoodResult> out(requests.size());
  auto device = model.device();
  for (size_t b0 = 0; b0 < order.size(); b0 += options.batch_size) {
    const size_t b1 = std::min(order.size(), b0 + options.batch_size);
    const int64_t G = b1 - b0;
    int64_t P = 0, max_cont = 0;
    for (size_t k = b0; k < b1; ++k) {
      const auto& g = groups[order[k]];
      P = std::max<int64_t>(P, g.context.size());
      for (size_t m : g.members) max_cont = std::max<int64_t>(max_cont, conts[m].size());
    }
    // One forward over the distinct contexts (left-padded), keeping the cache.
    auto ids = torch::full({G, P}, static_cast<int64_t>(options.pad_id), torch::kLong);
    auto pos = torch::zeros({G, P}, torch::kLong);
    auto mask = torch::zeros({G, P}, torch::kBool);
    {
      auto ia = ids.accessor<int64_t, 2>();
      auto pa = pos.accessor<int64_t, 2>();
      auto ma = mask.accessor<bool, 2>();
      for (int64_t g = 0; g < G; ++g) {
        const auto& c = groups[order[b0 + g]].context;
        const int64_t L = c.size(), off = P - L;
        for (int64_t t = 0; t < L; ++t) {
          ia[g][off + t] = c[t];
          pa[g][off + t] = t;
          ma[g][off + t] = true;
        }
        st.context_tokens += L;
      }
    }
    auto t0 = Clock::now();
    mask = mask.to(device);
    auto cache = model.new_cache(G, P + std::max<int64_t>(max_cont - 1, 0));
    auto last = torch::log_softmax(model.forward(ids.to(device), pos.to(device), mask, cache.get(), 1)
                                       .select(1, 0).to(torch::kFloat),
                                   -1)
                    .to(torch::kCPU);  // [G, V]
    auto last_arg = last.argmax(-1);
    st.context_seconds += since(t0);

    // First continuation token comes from the context's last position.
    std::vector<int64_t> multi_rows;  // group row per multi-token member
    std::vector<size_t> multi_members;
    auto la = last.accessor<float, 2>();
    auto aa = last_arg.accessor<int64_t, 1>();
    for (int64_t g = 0; g < G; ++g) {
      for (size_t m : groups[order[b0 + g]].members) {
        const auto& c = conts[m];
        if (c.empty()) {
          out[m] = {0.0, true};
          continue;
        }
        out[m].logprob = la[g][c[0]];
        out[m].is_greedy = aa[g] == c[0];
        if (c.size() > 1) {
          multi_rows.push_back(g);
          multi_members.push_back(m);
        }
      }
    }
    // The rest of each multi-token continuation runs from a copy of its context's cache.
    if (!multi_members.empty()) {
      t0 = Clock::now();
      const int64_t M = multi_members.size();
      const int64_t T = max_cont - 1;
      auto rows = torch::tensor(multi_rows, torch::kLong).to(device);
      cache->select_rows(rows);
      auto ids2 = torch::full({M, T}, static_cast<int64_t>(options.pad_id), torch::kLong);
      auto pos2 = torch::zeros({M, T}, torch::kLong);
      auto mask2 = torch::zeros({M, T}, torch::kBool);
      auto ia = ids2.accessor<int64_t, 2>();
      auto pa = pos2.accessor<int64_t, 2>();
      auto ma = mask2.accessor<bool, 2>();
      for (int64_t j = 0; j < M; ++j) {
        const auto& c = conts[multi_members[j]];
        const int64_t L = groups[order[b0 + multi_rows[j]]].context.size();
        for (int64_t t = 0; t < T; ++t) {
          pa[j][t] = L + t;
          if (t + 1 < static_cast<int64_t>(c.size())) {
            ia[j][t] = c[t];
            ma[j][t] = true;
          }
        }
        st.continuation_tokens += c.size() - 1;
      }
      auto full_mask = torch::cat({mask.index_select(0, rows), mask2.to(device)}, 1);
      auto lp = torch::log_softmax(
                    model.forward(ids2.to(device), pos2.to(device), full_mask, cache.get(), T).to(torch::kFloat), -1)
                    .to(torch::kCPU);  // [M, T, V]
      auto arg = lp.argmax(-1);
      auto lpa = lp.accessor<float, 3>();
      auto ara = arg.accessor<int64_t, 2>();
      for (int64_t j = 0; j < M; ++j) {
        auto& o = out[multi_members[j]];
        const auto& c = conts[multi_members[j]];
        for (size_t t = 1; t < c.size(); ++t) {
          o.logprob += lpa[j][t - 1][c[t]];
          o.is_greedy = o.is_greedy && ara[j][t - 1] == c[t];
        }
      }
      st.continuation_seconds += since(t0);
    }
    if (on_done) {
      int64_t n = 0;
      for (size_t k = b0; k < b1; ++k) n += groups[order[k]].members.size();
      on_done(n);
    }
  }
  if (stats) {
    stats->requests += st.requests;
    stats->distinct_contexts += st.distinct_contexts;
    stats->context_tokens += st.context_tokens;
    stats->continuation_tokens += st.continuation_tokens;
    stats->context_seconds += st.context_seconds;
    stats->continuation_seconds += st.continuation_seconds;
  }
  return out;
}

}  // namespace packbench::train
