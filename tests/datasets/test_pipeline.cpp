// prepare_data end to end on the fixtures with the LLaMA-3 tokenizer: rows, split, stats, cache reuse.
#include <gtest/gtest.h>

#include "datasets/chat_template.h"
#include "core/error.h"
#include "datasets/pipeline.h"
#include "datasets/tokenizer.h"
#include "tests/common/test_paths.h"

using namespace packbench::data;

namespace {
DataOptions fixture_options(const std::string& tok_dir, const std::string& cache) {
  DataOptions o;
  o.dataset = "tiny_sharegpt,tiny_alpaca";
  o.dataset_dir = packbench::testing::fixtures_dir() + "/datasets";
  o.tokenizer_dir = tok_dir;
  o.cache_dir = cache;
  o.cutoff_len = 64;
  o.val_size = 2;
  o.show_progress = false;
  return o;
}
}  // namespace

TEST(Pipeline, PaddingRowsAreTheTemplatedSamples) {
  PB_REQUIRE_LLAMA3(tok_dir);
  DataOptions o = fixture_options(tok_dir, packbench::testing::temp_dir("pipe"));
  o.val_size = 0;
  o.cutoff_len = 4096;
  PreparedData d = prepare_data(o);
  ASSERT_EQ(d.train_rows.size(), 6u);  // 3 sharegpt + 3 alpaca records, in order (no split)
  EXPECT_FALSE(d.stats.cache_hit);
  auto tok = Tokenizer::from_dir(tok_dir);
  TemplateEncoder enc(get_template("llama3_lf07"), tok);
  Conversation c;
  c.messages = {{Role::kUser, "Hi there"}, {Role::kAssistant, "Hello!"}};
  auto m = enc.encode_messages(c);
  std::vector<int32_t> ids = m[0];
  ids.insert(ids.end(), m[1].begin(), m[1].end());
  EXPECT_EQ(d.train_rows[0].input_ids, ids);
  EXPECT_EQ(tok->decode(d.train_rows[0].input_ids),
            "<|begin_of_text|><|start_header_id|>system<|end_header_id|>\n\nYou are a helpful assistant.<|eot_id|>"
            "<|start_header_id|>user<|end_header_id|>\n\nHi there<|eot_id|><|start_header_id|>assistant<|end_header_id|>"
            "\n\nHello!<|eot_id|>");
  // Trainable tokens: "Hello!" plus <|eot_id|>.
  int trainable = 0;
  for (int32_t l : d.train_rows[0].labels) trainable += l != kIgnoreIndex;
  EXPECT_EQ(trainable, static_cast<int>(m[1].size()));
  EXPECT_EQ(d.stats.samples, 6);
  int64_t tokens = 0;
  for (const auto& r : d.train_rows) tokens += r.input_ids.size();
  EXPECT_EQ(d.stats.tokens, tokens);
}

TEST(Pipeline, CacheIsReusedAndGivesTheSameRows) {
  PB_REQUIRE_LLAMA3(tok_dir);
  std::string cache = packbench::testing::temp_dir("pipe");
  DataOptions o = fixture_options(tok_dir, cache);
  o.method = "greedy";
  PreparedData a = prepare_data(o);
  PreparedData b = prepare_data(o);
  EXPECT_FALSE(a.stats.cache_hit);
  EXPECT_TRUE(b.stats.cache_hit);
  ASSERT_EQ(a.train_rows.size(), b.train_rows.size());
  for (size_t i = 0; i < a.train_rows.size(); ++i) EXPECT_EQ(a.train_rows[i].input_ids, b.train_rows[i].input_ids);
  EXPECT_EQ(a.stats.to_json(), b.stats.to_json());
  // Another cutoff and method reuse the same cache (the cutoff is applied after it).
  o.method = "padding";
  o.cutoff_len = 16;
  PreparedData c = prepare_data(o);
  EXPECT_TRUE(c.stats.cache_hit);
  EXPECT_GT(c.stats.truncated_samples, 0);
  for (const auto& r : c.train_rows) EXPECT_LE(r.input_ids.size(), 16u);
  EXPECT_EQ(a.stats.rows, a.stats.train_rows + a.stats.eval_rows);
  EXPECT_EQ(a.stats.eval_rows, 2);
}

TEST(Pipeline, SkipCountsSurviveTheCacheAndBadOptionsAreErrors) {
  PB_REQUIRE_LLAMA3(tok_dir);
  std::string cache = packbench::testing::temp_dir("pipe");
  DataOptions o = fixture_options(tok_dir, cache);
  o.dataset = "bad_sharegpt";
  o.val_size = 0;
  EXPECT_THROW(prepare_data(o), packbench::Error);
  o.on_bad_record = "skip";
  PreparedData a = prepare_data(o);
  PreparedData b = prepare_data(o);
  EXPECT_EQ(a.stats.skipped_records, 8);
  EXPECT_EQ(b.stats.skipped_records, 8);
  EXPECT_TRUE(b.stats.cache_hit);
  EXPECT_EQ(a.stats.samples, 2);
  o.on_bad_record = "ignore";
  EXPECT_THROW(prepare_data(o), packbench::Error);
  o.on_bad_record = "skip";
  o.method = "nope";
  EXPECT_THROW(prepare_data(o), packbench::Error);
  o.method = "padding";
  o.template_name = "nope";
  EXPECT_THROW(prepare_data(o), packbench::Error);
}
