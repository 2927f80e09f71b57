// GSM8K on the real test set: the loader reads all 1,319 problems and gold answers score 100%.
#include <gtest/gtest.h>

#include <fstream>

#include "evals/loaders.h"
#include "evals/gsm8k/task_gsm8k.h"
#include "tests/common/test_paths.h"

using namespace packbench::evals;

TEST(RealGsm8k, LoadsBothSplits) {
  PB_REQUIRE_SHARED(shared);
  EXPECT_EQ(load_gsm8k(shared + "/gsm8k", "test").size(), 1319u);
  EXPECT_EQ(load_gsm8k(shared + "/gsm8k", "train").size(), 7473u);
}

TEST(RealGsm8k, GoldAnswersScoreOneHundredPercent) {
  PB_REQUIRE_SHARED(shared);
  auto docs = load_gsm8k(shared + "/gsm8k", "test");
  const std::string dir = packbench::testing::temp_dir("real-gsm8k");
  {
    std::ofstream f(dir + "/responses.jsonl");
    for (size_t i = 0; i < docs.size(); ++i)
      f << nlohmann::json({{"doc_id", i}, {"response", " " + docs[i].answer}}).dump() << "\n";
  }
  ScoreRequest req;
  req.task = "gsm8k";
  req.responses_path = dir + "/responses.jsonl";
  req.data_path = shared + "/gsm8k";
  req.out_dir = dir + "/out";
  auto s = score_gsm8k(req);
  EXPECT_EQ(s.n_samples, 1319);
  EXPECT_DOUBLE_EQ(s.metrics["exact_match,strict-match"].get<double>(), 1.0);
  // The last number of a gold answer is its #### number, so flexible-extract agrees.
  EXPECT_DOUBLE_EQ(s.metrics["exact_match,flexible-extract"].get<double>(), 1.0);
}
