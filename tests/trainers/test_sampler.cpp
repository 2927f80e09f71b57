// The distributed sampler against PyTorch's DistributedSampler (run live in setup's Python environment).
#include <gtest/gtest.h>

#include <fmt/format.h>
#include <unistd.h>

#include <set>
#include <sstream>

#include "tests/common/test_paths.h"
#include "trainers/sampler.h"

using namespace packbench::train;

TEST(Sampler, RanksPartitionThePaddedPermutation) {
  // 7 rows on 3 ranks: 9 slots, the first two rows of the permutation repeat.
  std::multiset<int64_t> all;
  for (int r = 0; r < 3; ++r) {
    auto mine = rank_indices(7, 3, r, 42, 1);
    EXPECT_EQ(mine.size(), 3u);
    all.insert(mine.begin(), mine.end());
  }
  EXPECT_EQ(all.size(), 9u);
  for (int64_t i = 0; i < 7; ++i) EXPECT_GE(all.count(i), 1u);
  EXPECT_NE(rank_indices(50, 1, 0, 42, 0), rank_indices(50, 1, 0, 42, 1));  // a new shuffle per epoch
  EXPECT_EQ(rank_indices(50, 2, 1, 42, 3), rank_indices(50, 2, 1, 42, 3));  // deterministic
  auto mbs = rank_micro_batches(7, 1, 0, 42, 0, 3, false);
  ASSERT_EQ(mbs.size(), 3u);
  EXPECT_EQ(mbs[2], (std::vector<int64_t>{6}));
  EXPECT_EQ(optimizer_steps_per_epoch(10, 2, 1, 2), 2);  // 5 micro-batches // 2
  EXPECT_EQ(optimizer_steps_per_epoch(3, 2, 1, 4), 1);   // short epoch: one step
  EXPECT_EQ(optimizer_steps_per_epoch(17, 2, 2, 1), 5);  // ceil(17 / 4)
}

TEST(Sampler, MatchesTorchDistributedSampler) {
  PB_REQUIRE_VENV(py);
  const std::string script =
      "import torch.utils.data as d\n"
      "for n, w, r, e in ((10, 1, 0, 0), (10, 1, 0, 3), (11, 4, 2, 1), (5, 3, 0, 2), (1000, 8, 5, 7)):\n"
      "    s = d.DistributedSampler(list(range(n)), num_replicas=w, rank=r, shuffle=True, seed=42)\n"
      "    s.set_epoch(e)\n"
      "    print(' '.join(map(str, s)))\n";
  std::string out;
  const int rc = packbench::testing::run_command(py + " -c \"" + script + "\" 2>&1", &out);
  ASSERT_EQ(rc, 0) << out;
  std::istringstream lines(out);
  const int cases[5][4] = {{10, 1, 0, 0}, {10, 1, 0, 3}, {11, 4, 2, 1}, {5, 3, 0, 2}, {1000, 8, 5, 7}};
  for (const auto& c : cases) {
    std::string line;
    ASSERT_TRUE(std::getline(lines, line));
    std::istringstream in(line);
    std::vector<int64_t> want;
    for (int64_t v; in >> v;) want.push_back(v);
    EXPECT_EQ(rank_indices(c[0], c[1], c[2], 42, c[3]), want) << fmt::format("n={} world={} rank={} epoch={}", c[0], c[1], c[2], c[3]);
  }
}
