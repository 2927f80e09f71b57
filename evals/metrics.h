// Aggregations of per-sample scores: mean with its standard error, as lm-evaluation-harness computes them.
#pragma once

#include <vector>

namespace packbench::evals {

double mean(const std::vector<double>& xs);
// Sample standard deviation (n-1 in the denominator) over sqrt(n): lm-eval's mean_stderr.
// NaN when n < 2 (lm-eval prints "N/A"). Over all samples of a group this equals
// lm-eval's pooled stderr for size-weighted subtasks.
double mean_stderr(const std::vector<double>& xs);
}  // namespace packbench::evals
