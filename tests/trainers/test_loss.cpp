// Cross-entropy sums, loss normalisation and shifted targets, against hand-computed values.
#include <gtest/gtest.h>

#include <cmath>

#include "core/error.h"
#include "trainers/collate_torch.h"
#include "trainers/loss.h"

using namespace packbench;
using namespace packbench::train;

TEST(Loss, CrossEntropySumMatchesHandComputation) {
  // Two positions over a vocabulary of 3; the second is ignored.
  auto logits = torch::tensor({1.0f, 2.0f, 3.0f, 0.5f, 0.5f, 0.5f}).view({1, 2, 3});
  auto targets = torch::tensor({int64_t(0), int64_t(-100)}).view({1, 2});
  const double want = -(1.0 - std::log(std::exp(1.0) + std::exp(2.0) + std::exp(3.0)));
  EXPECT_NEAR(cross_entropy_sum(logits, targets).item<double>(), want, 1e-6);
}

TEST(Loss, GlobalNormalisationWeighsTokensAndPerMicroWeighsBatches) {
  // Micro-batch A: 1 token with CE 1.0; micro-batch B: 3 tokens with CE sum 6.0; grad_accum 2.
  const double a = 1.0, b = 6.0;
  const auto g = LossNormalization::kGlobalTokens, m = LossNormalization::kPerMicroBatch;
  EXPECT_DOUBLE_EQ(a * micro_loss_scale(g, 1, 4, 2, 1) + b * micro_loss_scale(g, 3, 4, 2, 1), 7.0 / 4.0);
  EXPECT_DOUBLE_EQ(a * micro_loss_scale(m, 1, 4, 2, 1) + b * micro_loss_scale(m, 3, 4, 2, 1), (1.0 + 2.0) / 2.0);
  // Two ranks: per-micro-batch divides by world size too (DDP averages gradients).
  EXPECT_DOUBLE_EQ(micro_loss_scale(m, 3, 8, 2, 2), 1.0 / 12.0);
  EXPECT_DOUBLE_EQ(micro_loss_scale(g, 0, 8, 2, 2), 0.0);
  EXPECT_THROW(parse_loss_normalization("mean"), packbench::Error);
}

TEST(Collate, ShiftsTargetsPadsToEightAndHidesTheNextSampleInBlockLayout) {
  data::Row r;  // two samples: [10 11 12 | 20 21]; labels train 12, 20 and 21
  r.input_ids = {10, 11, 12, 20, 21};
  r.labels = {-100, -100, 12, 20, 21};
  r.position_ids = {0, 1, 2, 0, 1};
  r.segment_offsets = {0, 3, 5};
  data::Row p;  // one short sample
  p.input_ids = {5, 6};
  p.labels = {-100, 6};
  p.position_ids = {0, 1};
  p.segment_offsets = {0, 2};
  Batch cross = collate({&r, &p}, data::AttentionLayout::kCross, 8, 0);
  ASSERT_EQ(cross.input_ids.size(1), 8);
  std::vector<int64_t> t0(cross.targets[0].data_ptr<int64_t>(), cross.targets[0].data_ptr<int64_t>() + 8);
  EXPECT_EQ(t0, (std::vector<int64_t>{-100, 12, 20, 21, -100, -100, -100, -100}));
  EXPECT_EQ(cross.trainable_tokens, 3 + 1);
  EXPECT_EQ(cross.real_tokens, 7);
  EXPECT_EQ(cross.padded_tokens, 16);
  EXPECT_EQ(cross.attention_mask[1].sum().item<int64_t>(), 2);
  Batch block = collate({&r}, data::AttentionLayout::kBlock, 8, 0);
  std::vector<int64_t> b0(block.targets[0].data_ptr<int64_t>(), block.targets[0].data_ptr<int64_t>() + 5);
  EXPECT_EQ(b0, (std::vector<int64_t>{-100, 12, -100, 21, -100}));  // 12 -> 20 crosses samples
  EXPECT_EQ(block.position_ids[0][3].item<int64_t>(), 0);
  EXPECT_EQ(block.segment_ids[0][4].item<int64_t>(), 1);
  EXPECT_EQ(block.segment_ids[0][6].item<int64_t>(), -1);
  EXPECT_EQ(trainable_targets(r, data::AttentionLayout::kBlock), 2);
  EXPECT_EQ(trainable_targets(r, data::AttentionLayout::kCross), 3);
}
