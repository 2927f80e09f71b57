// `packbench score` through the binary on the real GSM8K test set, from its default data location.
#include <gtest/gtest.h>

#include <fstream>

#include <nlohmann/json.hpp>

#include "core/atomic_file.h"
#include "evals/loaders.h"
#include "tests/common/test_paths.h"

using packbench::testing::packbench_bin;
using packbench::testing::run_command;

TEST(RealScoreCli, GoldGsm8kAnswersScoreOneHundredPercent) {
  PB_REQUIRE_SHARED(shared);
  auto docs = packbench::evals::load_gsm8k(shared + "/gsm8k", "test");
  const auto dir = packbench::testing::temp_dir("cli-real-gsm8k");
  {
    std::ofstream f(dir + "/samples_gsm8k.jsonl");
    for (size_t i = 0; i < docs.size(); ++i)
      f << nlohmann::json({{"doc_id", i}, {"doc", {{"question", docs[i].question}}}, {"resps", {{docs[i].answer}}}}).dump()
        << "\n";
  }
  std::string out;
  const std::string env = "PACKBENCH_SHARED=" + shared + " ";
  ASSERT_EQ(run_command(env + packbench_bin() + " score --task gsm8k --responses " + dir + "/samples_gsm8k.jsonl --out " +
                            dir + "/out",
                        &out),
            0)
      << out;
  auto results = nlohmann::json::parse(packbench::read_file(dir + "/out/results.json"));
  EXPECT_EQ(results["results"]["gsm8k"]["exact_match,strict-match"], 1.0);
  EXPECT_EQ(results["n-samples"]["gsm8k"]["effective"], 1319);
}
