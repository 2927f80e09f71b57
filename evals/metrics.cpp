// Aggregations of per-sample scores: mean with its standard error, as lm-evaluation-harness computes them.
#include "evals/metrics.h"

#include <cmath>

namespace packbench::evals {

double mean(const std::vector<double>& xs) {
  if (xs.empty()) return NAN;
  double s = 0;
  for (double x : xs) s += x;
  return s / static_cast<double>(xs.size());
}

double mean_stderr(const std::vector<double>& xs) {
  const size_t n = xs.size();
  if (n < 2) return NAN;
  const double m = mean(xs);
  double ss = 0;
  for (double x : xs) ss += (x - m) * (x - m);
  return std::sqrt(ss / static_cast<double>(n - 1)) / std::sqrt(static_cast<double>(n));
}

}  // namespace packbench::evals
