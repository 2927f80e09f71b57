// Next-token choice for generation: greedy, or temperature + top-p sampling with per-request seeds.
#pragma once

#include <torch/types.h>

#include <cstdint>
#include <unordered_map>
#include <vector>

namespace packbench::train {

struct SamplingOptions {
  double temperature = 0.0;  // 0: greedy (argmax); > 0: sample from softmax(logits / temperature)
  double top_p = 1.0;        // nucleus: keep the smallest set of top tokens with mass >= top_p
  uint64_t seed = 1234;      // with the request's index, seeds that request's own random stream
};

// Picks one token per row. Each request draws from its own generator, seeded by (seed, stream),
// so what a request samples does not depend on which other requests share its batch.
class Sampler {
 public:
  explicit Sampler(SamplingOptions options);
  bool greedy() const { return options_.temperature <= 0.0; }
  // logits [B, V] (any float dtype, any device); streams[b] names row b's request.
  // Returns the chosen ids, int64 [B] on the CPU.
  torch::Tensor pick(const torch::Tensor& logits, const std::vector<int64_t>& streams);

 private:
  SamplingOptions options_;
  std::unordered_map<int64_t, at::Generator> generators_;
};

// One row's nucleus draw, exposed for tests: probs [V] float64 on the CPU summing to 1,
// u in [0, 1). Sorts by probability (ties by lower id first), keeps the top-p set, returns the id
// whose cumulative renormalised mass first exceeds u.
int64_t sample_top_p(const torch::Tensor& probs, double top_p, double u);

}  // namespace packbench::train
