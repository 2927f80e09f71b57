// Collation to [B, T] arrays, the train/eval split counts, and the Hugging Face Trainer's step count.
#include <gtest/gtest.h>

#include <set>

#include "datasets/collate.h"
#include "core/error.h"
#include "datasets/numpy_rng.h"
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

TEST(Split, SameRowsAsNumpyDefaultRngPermutation) {
  // /usr/bin/python3 -c "import numpy as np; print(np.random.default_rng(42).permutation(10))"
  //   -> [5 6 0 7 3 2 4 9 1 8]; train_test_split(test_size=0.2, seed=42): test = [5, 6].
  auto [tr, ev] = split_train_eval(10, 0.2, 42);
  EXPECT_EQ(ev, (std::vector<int64_t>{5, 6}));
  EXPECT_EQ(tr, (std::vector<int64_t>{0, 7, 3, 2, 4, 9, 1, 8}));
  // np.random.default_rng(42).permutation(69800)[:5] -> [9444 59806 56622 9544 1873]
  auto p = numpy_permutation(69800, 42);
  EXPECT_EQ(std::vector<int64_t>(p.begin(), p.begin() + 5), (std::vector<int64_t>{9444, 59806, 56622, 9544, 1873}));
  // a seed over 32 bits: np.random.default_rng(123456789012).permutation(100000)[:4]
  p = numpy_permutation(100000, 123456789012ull);
  EXPECT_EQ(std::vector<int64_t>(p.begin(), p.begin() + 4), (std::vector<int64_t>{36894, 84516, 14300, 79868}));
  EXPECT_EQ(numpy_permutation(5, 0), (std::vector<int64_t>{2, 4, 3, 0, 1}));
  EXPECT_THROW(split_train_eval(10, 0.2, -1), packbench::Error);
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
