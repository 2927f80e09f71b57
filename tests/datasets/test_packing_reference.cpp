// Row builders vs scripts/reference/packing_ref.py (written from the paper's code): same rows, same counts.
#include <gtest/gtest.h>

#include <fstream>
#include <random>

#include <nlohmann/json.hpp>

#include "datasets/row_builder.h"
#include "tests/common/test_paths.h"

using namespace packbench::data;

namespace {

// Heavy-tailed random conversations: 1-3 turns, some far longer than the cutoff, some with long
// prompts and one-token answers (so random packing meets blocks whose labels are all -100).
TokenStore make_samples(int n, int cutoff, uint32_t seed) {
  std::mt19937 rng(seed);
  std::lognormal_distribution<double> len(2.5, 1.0);
  std::uniform_int_distribution<int> tok(0, 5000), turns(1, 3), pct(0, 99);
  TokenStore st;
  for (int i = 0; i < n; ++i) {
    std::vector<std::vector<int32_t>> msgs;
    int t = turns(rng);
    int kind = pct(rng);
    for (int k = 0; k < 2 * t; ++k) {
      int L = 1 + static_cast<int>(len(rng));
      if (kind < 5 && k == 0) L = 3 * cutoff + 7;   // long prompt ...
      if (kind < 5 && k == 1) L = 1;                // ... one-token answer
      if (kind >= 95 && k == 1) L = cutoff + 5;     // long answer
      std::vector<int32_t> m(L);
      for (auto& x : m) x = tok(rng);
      msgs.push_back(std::move(m));
    }
    st.add(msgs, i);
  }
  return st;
}

nlohmann::json run_reference(const TokenStore& st, const std::string& method, int cutoff, int batch, int shards,
                             bool train_on_prompt) {
  nlohmann::json in;
  in["method"] = method;
  in["cutoff"] = cutoff;
  in["batch"] = batch;
  in["shards"] = shards;
  in["train_on_prompt"] = train_on_prompt;
  auto v = st.view();
  nlohmann::json samples = nlohmann::json::array();
  for (int64_t s = 0; s < v.num_samples; ++s) {
    nlohmann::json msgs = nlohmann::json::array();
    for (const auto& m : v.messages(s)) msgs.push_back(std::vector<int32_t>(m.ids, m.ids + m.size));
    samples.push_back(std::move(msgs));
  }
  in["samples"] = std::move(samples);
  std::string dir = packbench::testing::temp_dir("packing_ref");
  std::ofstream(dir + "/in.json") << in.dump();
  std::string cmd = "python3 " + packbench::testing::source_dir() + "/scripts/reference/packing_ref.py < " + dir +
                    "/in.json > " + dir + "/out.json";
  std::string log;
  int rc = packbench::testing::run_command(cmd, &log);
  EXPECT_EQ(rc, 0) << log;
  std::ifstream f(dir + "/out.json");
  return nlohmann::json::parse(f);
}

RowBuildResult compare(const std::string& method, int n, int cutoff, int batch, int shards, bool train_on_prompt, uint32_t seed) {
  SCOPED_TRACE(method + " n=" + std::to_string(n) + " cutoff=" + std::to_string(cutoff) + " batch=" +
               std::to_string(batch) + " shards=" + std::to_string(shards));
  TokenStore st = make_samples(n, cutoff, seed);
  RowBuildOptions o;
  o.method = parse_packing_method(method);
  o.cutoff_len = cutoff;
  o.preprocessing_batch = batch;
  o.preprocessing_shards = shards;
  o.labels.train_on_prompt = train_on_prompt;
  RowBuildResult mine = build_rows(st.view(), o);
  nlohmann::json ref = run_reference(st, method, cutoff, batch, shards, train_on_prompt);
  const auto& rows = ref["rows"];
  EXPECT_EQ(mine.rows.size(), rows.size());
  if (mine.rows.size() != rows.size()) return mine;
  for (size_t r = 0; r < rows.size(); ++r) {
    EXPECT_EQ(mine.rows[r].input_ids, rows[r]["input_ids"].get<std::vector<int32_t>>()) << "row " << r;
    EXPECT_EQ(mine.rows[r].labels, rows[r]["labels"].get<std::vector<int32_t>>()) << "row " << r;
    if (::testing::Test::HasFailure()) return mine;
  }
  EXPECT_EQ(mine.dropped_samples, ref["dropped"].get<int64_t>());
  EXPECT_EQ(mine.truncated_samples, ref["truncated"].get<int64_t>());
  return mine;
}


}  // namespace

TEST(PackingReference, PaddingMatches) {
  auto r = compare("padding", 300, 64, 1000, 1, false, 1);
  EXPECT_GT(r.truncated_samples, 0);  // the case exercises per-turn truncation
  compare("padding", 300, 40, 1000, 1, true, 2);
}

TEST(PackingReference, RandomMatches) {
  auto r = compare("random", 400, 64, 50, 1, false, 3);
  EXPECT_GT(r.dropped_samples, 0);  // batch remainders dropped
  // blocks whose labels are all -100 were skipped: fewer rows than whole blocks per batch
  int64_t blocks = 0;
  TokenStore st = make_samples(400, 64, 3);
  for (int b = 0; b < 400; b += 50) {
    int64_t t = 0;
    for (int s = b; s < b + 50; ++s) t += st.view().length(s);
    blocks += t / 64;
  }
  EXPECT_LT(static_cast<int64_t>(r.rows.size()), blocks);
  compare("random", 400, 64, 50, 7, false, 4);
  compare("random", 400, 32, 1000, 3, true, 5);
}

TEST(PackingReference, GreedyMatches) {
  auto r = compare("greedy", 400, 64, 50, 1, false, 6);
  EXPECT_GT(r.dropped_samples, 0);  // long samples dropped when their row filled up
  compare("greedy", 400, 64, 37, 7, false, 7);
  compare("greedy", 500, 128, 1000, 1, false, 8);
  compare("greedy", 300, 32, 100, 64, true, 9);
  // a batch of only long samples: each kept alone, truncated
  r = compare("greedy", 20, 8, 1000, 1, false, 10);
  EXPECT_GT(r.truncated_samples, 0);
}
