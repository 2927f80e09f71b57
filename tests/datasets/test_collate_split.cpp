// Collation to [B, T] arrays, the train/eval split counts, and the Hugging Face Trainer's step count.
#include <gtest/gtest.h>

#include <set>

#include "datasets/collate.h"
#include "datasets/error.h"
#include "datasets/pipeline.h"

using namespace packbench::data;

TEST(Collate, PadsToTheLongestRowRoundedToEight) {
  Row a{{1, 2, 3}, {-100, 2, 3}, {0, 1, 2}, {0, 3}};
  Row b{{4, 5, 6, 7, 8, 9, 10, 11, 12}, {4, 5, -100, 7, 8, 9, 10, 11, 12}, {0, 1, 2, 0, 1, 2, 3, 4, 5}, {0, 3, 9}};
  auto c = collate({&a, &b}, 99);
  ASSERT_EQ(c.batch, 2);
  ASSERT_EQ(c.seq_len, 16);  // 9 -> 16
  EXPECT_EQ(c.pad_tokens, 13 + 7);
  EXPECT_EQ(std::vector<int32_t>(c.input_ids.begin(), c.input_ids.begin() + 5), (std::vector<int32_t>{1, 2, 3, 99, 99}));
  EXPECT_EQ(std::vector<int32_t>(c.labels.begin(), c.labels.begin() + 5), (std::vector<int32_t>{-100, 2, 3, -100, -100}));
  EXPECT_EQ(std::vector<int32_t>(c.attention_mask.begin(), c.attention_mask.begin() + 5), (std::vector<int32_t>{1, 1, 1, 0, 0}));
  EXPECT_EQ(std::vector<int32_t>(c.position_ids.begin(), c.position_ids.begin() + 5), (std::vector<int32_t>{0, 1, 2, 3, 4}));
  EXPECT_EQ(std::vector<int32_t>(c.segment_ids.begin() + 16, c.segment_ids.begin() + 26),
            (std::vector<int32_t>{0, 0, 0, 1, 1, 1, 1, 1, 1, -1}));
  EXPECT_EQ(c.position_ids[16 + 3], 0);  // block layout positions kept
  EXPECT_EQ(pad_tokens_for({&a, &b}), 20);
  Row full{std::vector<int32_t>(16, 1), std::vector<int32_t>(16, 1), std::vector<int32_t>(16, 0), {0, 16}};
  EXPECT_EQ(pad_tokens_for({&full}), 0);
}

TEST(Split, CountsFollowHuggingFaceTrainTestSplit) {
  auto [tr, ev] = split_train_eval(1000, 0.1, 42);
  EXPECT_EQ(ev.size(), 100u);
  EXPECT_EQ(tr.size(), 900u);
  std::set<int64_t> all(tr.begin(), tr.end());
  all.insert(ev.begin(), ev.end());
  EXPECT_EQ(all.size(), 1000u);
  auto [tr2, ev2] = split_train_eval(1001, 0.1, 42);  // ceil(100.1) = 101
  EXPECT_EQ(ev2.size(), 101u);
  auto [tr3, ev3] = split_train_eval(50, 7, 1);  // an absolute count
  EXPECT_EQ(ev3.size(), 7u);
  auto [tr4, ev4] = split_train_eval(50, 0, 1);
  EXPECT_EQ(tr4.size(), 50u);
  EXPECT_TRUE(ev4.empty());
  EXPECT_THROW(split_train_eval(5, 1.0, 1), packbench::Error);
  EXPECT_THROW(split_train_eval(5, 10, 1), packbench::Error);
  // deterministic for a seed, different across seeds
  EXPECT_EQ(split_train_eval(1000, 0.1, 42).second, ev);
  EXPECT_NE(split_train_eval(1000, 0.1, 43).second, ev);
}

TEST(Steps, HuggingFaceTrainerCount) {
  // rows 100, per-device 2, 4 GPUs, accumulation 3: ceil(100/8) = 13 batches -> 13 // 3 = 4
  EXPECT_EQ(steps_per_epoch(100, 2, 4, 3), 4);
  EXPECT_EQ(steps_per_epoch(1, 2, 4, 3), 1);  // at least one step
  // The paper's 8B padding run: 2 x 32 GPUs x 2 = 128; 1964 steps over 4 epochs = 491 per epoch,
  // which is what ~62.8K train rows (a 10% holdout of ~69.8K samples) give.
  EXPECT_EQ(steps_per_epoch(62848, 2, 32, 2), 491);
  EXPECT_EQ(steps_per_epoch(69800 - 6980, 2, 32, 2) * 4, 1964);
  EXPECT_THROW(steps_per_epoch(10, 0, 1, 1), packbench::Error);
}
