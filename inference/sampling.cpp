// Next-token choice for generation: greedy, or temperature + top-p sampling with per-request seeds.
#include "inference/sampling.h"

#include <ATen/CPUGeneratorImpl.h>
#include <torch/torch.h>

#include <algorithm>

#include "core/error.h"

namespace packbench::train {

Sampler::Sampler(SamplingOptions options) : options_(options) {
  if (options_.temperature < 0.0) throw Error("sampling: temperature must be >= 0");
  if (!(options_.top_p > 0.0 && options_.top_p <= 1.0)) throw Error("sampling: top_p must be in (0, 1]");
}

int64_t sample_top_p(const torch::Tensor& probs, double top_p, double u) {
  const int64_t V = probs.size(0);
  auto p = probs.contiguous();
  const double* pp = p.data_ptr<double>();
  std::vector<int64_t> order(V);
  for (int64_t i = 0; i < V; ++i) order[i] = i;
  std::stable_sort(order.begin(), order.end(), [&](int64_t a, int64_t b) { return pp[a] > pp[b]; });
  // The nucleus: tokens while the mass before them is still below top_p (the first always kept).
  double mass = 0.0;
  int64_t keep = 0;
  while (keep < V && (keep == 0 || mass < top_p)) mass += pp[order[keep++]];
  double target = u * mass, acc = 0.0;
  for (int64_t i = 0; i < keep; ++i) {
    acc += pp[order[i]];
    if (acc > target) return order[i];
  }
  return order[keep - 1];
}

torch::Tensor Sampler::pick(const torch::Tensor& logits, const std::vector<int64_t>& streams) {
  TORCH_CHECK(logits.dim() == 2 && logits.size(0) == static_cast<int64_t>(streams.size()),
              "Sampler::pick: logits must be [B, V] with one stream per row");
  if (greedy()) return logits.argmax(-1).to(torch::kCPU, torch::kLong);
  auto probs = torch::softmax(logits.to(torch::kCPU, torch::kDouble) / options_.temperature, -1);
  auto out = torch::empty({logits.size(0)}, torch::kLong);
  auto* o = out.data_ptr<int64_t>();
  for (int64_t b = 0; b < logits.size(0); ++b) {
    auto it = generators_.find(streams[b]);
    if (it == generators_.end()) {
      // splitmix64 of (seed, stream): distinct, well-mixed seeds per request.
      uint64_t z = options_.seed + 0x9e3779b97f4a7c15ULL * (static_cast<uint64_t>(streams[b]) + 1);
      z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ULL;
      z = (z ^ (z >> 27)) * 0x94d049bb133111ebULL;
      z ^= z >> 31;
      it = generators_.emplace(streams[b], at::make_generator<at::CPUGeneratorImpl>(z)).first;
    }
    double u = torch::rand({1}, it->second, torch::kDouble).item<double>();
    o[b] = sample_top_p(probs[b], options_.top_p, u);
  }
  return out;
}

}  // namespace packbench::train
