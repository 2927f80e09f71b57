// Learning-rate schedules against the Hugging Face formulas, computed by hand.
#include <gtest/gtest.h>

#include <cmath>

#include "core/error.h"
#include "trainers/schedule.h"

using namespace packbench::train;

TEST(Schedule, WarmupStepsAsHuggingFaceResolvesThem) {
  EXPECT_EQ(resolve_warmup_steps(100, 0, 0.2), 20);
  EXPECT_EQ(resolve_warmup_steps(7, 0, 0.2), 2);  // ceil(1.4)
  EXPECT_EQ(resolve_warmup_steps(7, 5, 0.2), 5);  // explicit steps win
}

TEST(Schedule, CosineWithWarmup) {
  // total 10, warmup 2: 0, 0.5, then 0.5 * (1 + cos(pi * (s - 2) / 8)).
  EXPECT_DOUBLE_EQ(lr_multiplier("cosine", 0, 2, 10), 0.0);
  EXPECT_DOUBLE_EQ(lr_multiplier("cosine", 1, 2, 10), 0.5);
  EXPECT_DOUBLE_EQ(lr_multiplier("cosine", 2, 2, 10), 1.0);
  EXPECT_NEAR(lr_multiplier("cosine", 6, 2, 10), 0.5, 1e-15);
  EXPECT_NEAR(lr_multiplier("cosine", 4, 2, 10), 0.5 * (1 + std::cos(M_PI / 4)), 1e-15);
  EXPECT_NEAR(lr_multiplier("cosine", 10, 2, 10), 0.0, 1e-15);
}

TEST(Schedule, LinearConstantAndUnknown) {
  EXPECT_DOUBLE_EQ(lr_multiplier("linear", 1, 2, 10), 0.5);
  EXPECT_DOUBLE_EQ(lr_multiplier("linear", 6, 2, 10), 0.5);  // (10 - 6) / 8
  EXPECT_DOUBLE_EQ(lr_multiplier("linear", 12, 2, 10), 0.0);
  EXPECT_DOUBLE_EQ(lr_multiplier("constant", 0, 2, 10), 1.0);
  EXPECT_DOUBLE_EQ(lr_multiplier("constant_with_warmup", 1, 2, 10), 0.5);
  EXPECT_DOUBLE_EQ(lr_multiplier("constant_with_warmup", 5, 2, 10), 1.0);
  EXPECT_THROW(lr_multiplier("polynomial", 1, 2, 10), packbench::Error);
}
