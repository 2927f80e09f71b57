// Learning-rate schedules as the Hugging Face Trainer computes them (multiplier of the base rate).
#pragma once

#include <cstdint>
#include <string>

namespace packbench::train {

// Warmup steps as HF's TrainingArguments.get_warmup_steps: warmup_steps if > 0, else
// ceil(total_steps * warmup_ratio).
int64_t resolve_warmup_steps(int64_t total_steps, int64_t warmup_steps, double warmup_ratio);

// The multiplier at optimizer step `step` (0-based, the step about to be taken), for
// type cosine (get_cosine_schedule_with_warmup, half a cycle), linear
// (get_linear_schedule_with_warmup), constant, constant_with_warmup.
// Throws packbench::Error for an unknown type.
double lr_multiplier(const std::string& type, int64_t step, int64_t warmup_steps, int64_t total_steps);

}  // namespace packbench::train
