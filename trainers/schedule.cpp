// Learning-rate schedules as the Hugging Face Trainer computes them.
#include "trainers/schedule.h"

#include <algorithm>
#include <cmath>

#include "core/error.h"

namespace packbench::train {

int64_t resolve_warmup_steps(int64_t total_steps, int64_t warmup_steps, double warmup_ratio) {
  if (warmup_steps > 0) return warmup_steps;
  return static_cast<int64_t>(std::ceil(static_cast<double>(total_steps) * warmup_ratio));
}

double lr_multiplier(const std::string& type, int64_t step, int64_t warmup, int64_t total) {
  const double s = static_cast<double>(step);
  if (type == "constant") return 1.0;
  if (step < warmup && (type == "cosine" || type == "linear" || type == "constant_with_warmup"))
    return s / static_cast<double>(std::max<int64_t>(1, warmup));
  if (type == "constant_with_warmup") return 1.0;
  if (type == "linear")
    return std::max(0.0, static_cast<double>(total - step) / static_cast<double>(std::max<int64_t>(1, total - warmup)));
  if (type == "cosine") {
    const double progress = static_cast<double>(step - warmup) / static_cast<double>(std::max<int64_t>(1, total - warmup));
    const double kPi = 3.14159265358979323846;
    return std::max(0.0, 0.5 * (1.0 + std::cos(kPi * 0.5 * 2.0 * progress)));
  }
  throw Error("lr_scheduler_type: unknown schedule '" + type + "'");
}

}  // namespace packbench::train
