// Row builders' invariants: hand-worked greedy/bfd cases, segment offsets, attention layouts, shards.
#include <gtest/gtest.h>

#include <random>
#include <set>

#include "core/error.h"
#include "datasets/row_builder.h"

using namespace packbench::data;

namespace {

// One-turn samples: prompt of p tokens (ids 1..), response of r tokens.
TokenStore store(const std::vector<std::pair<int, int>>& pr) {
  TokenStore st;
  int32_t next = 1;
  for (size_t i = 0; i < pr.size(); ++i) {
    std::vector<int32_t> p(pr[i].first), r(pr[i].second);
    for (auto& x : p) x = next++;
    for (auto& x : r) x = next++;
    st.add({p, r}, static_cast<int64_t>(i));
  }
  return st;
}

void check_row(const Row& r) {
  ASSERT_EQ(r.input_ids.size(), r.labels.size());
  ASSERT_EQ(r.input_ids.size(), r.position_ids.size());
  ASSERT_GE(r.segment_offsets.size(), 2u);
  EXPECT_EQ(r.segment_offsets.front(), 0);
  EXPECT_EQ(r.segment_offsets.back(), static_cast<int32_t>(r.input_ids.size()));
  for (size_t i = 1; i < r.segment_offsets.size(); ++i) EXPECT_LT(r.segment_offsets[i - 1], r.segment_offsets[i]);
}

}  // namespace

TEST(GreedyPack, HandWorkedPaperOrder) {
  // capacity 10, lengths (index: len) 0:3 1:12 2:7 3:3 4:5 -> sorted 12,7,5,3,3 (stable: 0 before 3)
  // idx 12 does not fit: its row takes 7, then 3 (item 0) -> row {2,0}; 12 is dropped.
  // next unused in order: 5 -> takes 5 then 3 (item 3) -> row {4,3}.
  std::vector<int32_t> dropped, alone;
  auto rows = greedy_pack({3, 12, 7, 3, 5}, 10, &dropped, &alone);
  ASSERT_EQ(rows.size(), 2u);
  EXPECT_EQ(rows[0], (std::vector<int32_t>{2, 0}));
  EXPECT_EQ(rows[1], (std::vector<int32_t>{4, 3}));
  EXPECT_EQ(dropped, (std::vector<int32_t>{1}));
  EXPECT_TRUE(alone.empty());
  // Only long items: each kept alone.
  dropped.clear();
  rows = greedy_pack({11, 15}, 10, &dropped, &alone);
  ASSERT_EQ(rows.size(), 2u);
  EXPECT_EQ(rows[0], (std::vector<int32_t>{1}));
  EXPECT_EQ(alone, (std::vector<int32_t>{1, 0}));
  EXPECT_TRUE(dropped.empty());
}

TEST(BfdPack, BestFitHandWorkedAndNearTheBound) {
  // capacity 10: 6,5,4,3,2 -> 6 opens A(4 left); 5 opens B(5); 4 best-fits A(0); 3 -> B(2); 2 -> B(0)
  auto bins = bfd_pack({2, 6, 4, 5, 3}, 10);
  ASSERT_EQ(bins.size(), 2u);
  EXPECT_EQ(bins.bin(0), (std::vector<int32_t>{1, 2}));
  EXPECT_EQ(bins.bin(1), (std::vector<int32_t>{3, 4, 0}));
  std::mt19937 rng(1);
  std::lognormal_distribution<double> d(5.0, 1.2);
  std::vector<int32_t> lens(20000);
  int64_t total = 0;
  for (auto& l : lens) total += (l = std::min(4096, 1 + static_cast<int>(d(rng))));
  bins = bfd_pack(lens, 4096);
  std::vector<int> seen(lens.size(), 0);
  for (size_t b = 0; b < bins.size(); ++b) {
    int64_t s = 0;
    for (int32_t i : bins.bin(b)) s += lens[i], ++seen[i];
    EXPECT_LE(s, 4096);
  }
  for (int c : seen) ASSERT_EQ(c, 1);
  int64_t bound = (total + 4095) / 4096;
  EXPECT_LE(static_cast<double>(bins.size()), 1.001 * bound + 1);
  EXPECT_THROW(bfd_pack({11}, 10), packbench::Error);
}

TEST(BuildRows, PaddingOneSamplePerRowTruncated) {
  auto st = store({{3, 2}, {30, 30}});
  RowBuildOptions o;
  o.cutoff_len = 20;
  auto res = build_rows(st.view(), o);
  ASSERT_EQ(res.rows.size(), 2u);
  EXPECT_EQ(res.rows[0].input_ids, (std::vector<int32_t>{1, 2, 3, 4, 5}));
  EXPECT_EQ(res.rows[0].labels, (std::vector<int32_t>{-100, -100, -100, 4, 5}));
  EXPECT_EQ(res.rows[1].input_ids.size(), 20u);  // 10 + 10 by infer_max_len
  EXPECT_EQ(res.truncated_samples, 1);
  for (const auto& r : res.rows) check_row(r);
}

TEST(BuildRows, RandomSplitsAcrossRowsAndBlockLayoutRestartsPositions) {
  auto st = store({{2, 3}, {2, 3}, {1, 1}});  // 12 tokens -> blocks of 4: [0..4) [4..8) [8..12)
  RowBuildOptions o;
  o.method = PackingMethod::kRandom;
  o.cutoff_len = 4;
  o.attention = AttentionLayout::kBlock;
  auto res = build_rows(st.view(), o);
  ASSERT_EQ(res.rows.size(), 3u);
  EXPECT_EQ(res.rows[0].segment_offsets, (std::vector<int32_t>{0, 4}));
  EXPECT_EQ(res.rows[1].segment_offsets, (std::vector<int32_t>{0, 1, 4}));  // tail of 0, head of 1
  EXPECT_EQ(res.rows[1].position_ids, (std::vector<int32_t>{0, 0, 1, 2}));
  EXPECT_EQ(res.rows[2].segment_offsets, (std::vector<int32_t>{0, 2, 4}));
  EXPECT_EQ(res.dropped_samples, 0);
  for (const auto& r : res.rows) check_row(r);
  o.attention = AttentionLayout::kCross;
  res = build_rows(st.view(), o);
  EXPECT_EQ(res.rows[1].position_ids, (std::vector<int32_t>{0, 1, 2, 3}));
}

TEST(BuildRows, ShardsAndBatchesChangeGreedyRows) {
  std::vector<std::pair<int, int>> pr;
  for (int i = 0; i < 64; ++i) pr.push_back({1 + i % 7, 1 + (i * 5) % 11});
  auto st = store(pr);
  RowBuildOptions o;
  o.method = PackingMethod::kGreedy;
  o.cutoff_len = 32;
  o.preprocessing_batch = 1000;
  auto whole = build_rows(st.view(), o);
  o.preprocessing_shards = 8;
  auto sharded = build_rows(st.view(), o);
  EXPECT_LT(whole.rows.size(), sharded.rows.size());
  // every sample appears exactly once either way
  for (const auto* res : {&whole, &sharded}) {
    std::multiset<int32_t> ids;
    for (const auto& r : res->rows) {
      check_row(r);
      EXPECT_LE(r.input_ids.size(), 32u);
      ids.insert(r.input_ids.begin(), r.input_ids.end());
    }
    EXPECT_EQ(static_cast<int64_t>(ids.size()), static_cast<int64_t>(st.tokens.size()));
  }
  EXPECT_EQ(contiguous_shard(10, 3, 0), (std::pair<int64_t, int64_t>(0, 4)));
  EXPECT_EQ(contiguous_shard(10, 3, 2), (std::pair<int64_t, int64_t>(7, 10)));
}

TEST(BuildRows, BfdTruncatesOrSplitsLongSamplesNeverDrops) {
  auto st = store({{20, 20}, {3, 3}, {2, 2}});
  RowBuildOptions o;
  o.method = PackingMethod::kBfd;
  o.cutoff_len = 16;
  auto res = build_rows(st.view(), o);
  EXPECT_EQ(res.truncated_samples, 1);
  EXPECT_EQ(res.dropped_samples, 0);
  int64_t tokens = 0;
  for (const auto& r : res.rows) check_row(r), tokens += r.input_ids.size();
  EXPECT_EQ(tokens, 16 + 6 + 4);
  o.bfd_split_long = true;
  res = build_rows(st.view(), o);
  tokens = 0;
  for (const auto& r : res.rows) check_row(r), tokens += r.input_ids.size();
  EXPECT_EQ(tokens, 40 + 6 + 4);
  EXPECT_EQ(res.split_samples, 1);
  EXPECT_THROW(parse_packing_method("knapsack"), packbench::Error);
}
