// Real text through the pipeline: GSM8K train and IFEval's GPT-4 responses as alpaca and sharegpt.
#include <gtest/gtest.h>

#include <fstream>

#include <nlohmann/json.hpp>

#include "core/atomic_file.h"
#include "datasets/pipeline.h"
#include "tests/common/test_paths.h"

using namespace packbench::data;

namespace {

// A dataset_info.json naming the shared files (absolute file_name), plus a sharegpt copy of GSM8K.
std::string make_registry(const std::string& shared) {
  std::string dir = packbench::testing::temp_dir("real_sft");
  nlohmann::json info;
  info["gsm8k_alpaca"] = {{"file_name", shared + "/gsm8k/train.jsonl"},
                          {"columns", {{"prompt", "question"}, {"response", "answer"}}}};
  info["ifeval_gpt4"] = {{"file_name", shared + "/ifeval/input_response_data_gpt4_20231107_145030.jsonl"},
                         {"columns", {{"prompt", "prompt"}, {"response", "response"}}}};
  info["gsm8k_sharegpt"] = {{"file_name", "gsm8k_sharegpt.json"}, {"formatting", "sharegpt"}};
  packbench::write_file_atomic(dir + "/dataset_info.json", info.dump(2));
  std::ifstream in(shared + "/gsm8k/train.jsonl");
  nlohmann::json arr = nlohmann::json::array();
  for (std::string line; std::getline(in, line);) {
    if (line.empty()) continue;
    auto j = nlohmann::json::parse(line);
    arr.push_back({{"conversations",
                    {{{"from", "human"}, {"value", j["question"]}}, {{"from", "gpt"}, {"value", j["answer"]}}}}});
  }
  packbench::write_file_atomic(dir + "/gsm8k_sharegpt.json", arr.dump());
  return dir;
}

}  // namespace

TEST(RealSftFiles, AlpacaAndSharegptCopiesGiveIdenticalRows) {
  PB_REQUIRE_SHARED(shared);
  PB_REQUIRE_LLAMA3(tok);
  std::string dir = make_registry(shared);
  DataOptions o;
  o.dataset_dir = dir;
  o.tokenizer_dir = tok;
  o.cache_dir = dir + "/cache";
  o.show_progress = false;
  o.val_size = 0;
  o.cutoff_len = 1024;
  o.method = "greedy";
  o.dataset = "gsm8k_alpaca";
  PreparedData a = prepare_data(o);
  o.dataset = "gsm8k_sharegpt";
  PreparedData b = prepare_data(o);
  EXPECT_EQ(a.stats.samples, 7473);
  EXPECT_EQ(b.stats.samples, 7473);
  ASSERT_EQ(a.train_rows.size(), b.train_rows.size());
  for (size_t i = 0; i < a.train_rows.size(); ++i) {
    ASSERT_EQ(a.train_rows[i].input_ids, b.train_rows[i].input_ids) << "row " << i;
    ASSERT_EQ(a.train_rows[i].labels, b.train_rows[i].labels) << "row " << i;
  }
}

TEST(RealSftFiles, MethodsKeepTheirInvariantsOnRealLengths) {
  PB_REQUIRE_SHARED(shared);
  PB_REQUIRE_LLAMA3(tok);
  std::string dir = make_registry(shared);
  DataOptions o;
  o.dataset = "gsm8k_alpaca,ifeval_gpt4";
  o.dataset_dir = dir;
  o.tokenizer_dir = tok;
  o.cache_dir = dir + "/cache";
  o.show_progress = false;
  o.cutoff_len = 1024;
  o.val_size = 0.1;
  std::map<std::string, DataStats> st;
  for (const char* m : {"padding", "random", "greedy", "bfd"}) {
    o.method = m;
    PreparedData d = prepare_data(o);
    st[m] = d.stats;
    EXPECT_EQ(d.stats.samples, 7473 + 541) << m;
    EXPECT_EQ(d.stats.eval_rows, (d.stats.rows + 9) / 10) << m;  // ceil(0.1 * rows)
    for (const auto& r : d.train_rows) {
      ASSERT_LE(r.input_ids.size(), 1024u) << m;
      ASSERT_EQ(r.segment_offsets.back(), static_cast<int32_t>(r.input_ids.size())) << m;
    }
    if (std::string(m) == "random") {
      for (const auto& r : d.train_rows) ASSERT_EQ(r.input_ids.size(), 1024u);
    }
  }
  EXPECT_EQ(st["padding"].rows, 7473 + 541);
  EXPECT_EQ(st["random"].pad_tokens, 0);
  EXPECT_LT(st["greedy"].rows, st["padding"].rows / 4);
  EXPECT_LE(st["bfd"].rows, st["greedy"].rows);
  EXPECT_EQ(st["bfd"].dropped_samples, 0);
  EXPECT_LT(st["greedy"].padding_fraction, st["padding"].padding_fraction);
}
