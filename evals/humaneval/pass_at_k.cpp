// pass@k: the unbiased estimator of the chance that at least one of k samples passes.
#include "evals/humaneval/pass_at_k.h"

#include <cmath>
#include <stdexcept>
#include <string>

namespace packbench::evals {

double pass_at_k(int64_t n, int64_t c, int64_t k) {
  if (n < 1 || c < 0 || c > n || k < 1 || k > n) {
    throw std::invalid_argument("pass_at_k: need 0 <= c <= n and 1 <= k <= n (n=" + std::to_string(n) +
                                ", c=" + std::to_string(c) + ", k=" + std::to_string(k) + ")");
  }
  if (n - c < k) return 1.0;  // every draw of k samples contains a passing one
  double prod = 1.0;
  for (int64_t i = n - c + 1; i <= n; ++i) prod *= 1.0 - static_cast<double>(k) / static_cast<double>(i);
  return 1.0 - prod;
}

MeanStderr mean_and_stderr(const std::vector<double>& values) {
  MeanStderr r;
  if (values.empty()) return r;
  double sum = 0.0;
  for (double v : values) sum += v;
  r.mean = sum / static_cast<double>(values.size());
  if (values.size() < 2) return r;
  double ss = 0.0;
  for (double v : values) ss += (v - r.mean) * (v - r.mean);
  double var = ss / static_cast<double>(values.size() - 1);
  r.stderr_ = std::sqrt(var / static_cast<double>(values.size()));
  return r;
}

}  // namespace packbench::evals
