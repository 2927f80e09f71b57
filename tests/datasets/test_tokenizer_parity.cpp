// LLaMA-3 tokenizer parity: ids equal Hugging Face's tokenizers (fixture from
// scripts/tokenizer/make_parity_fixture.js) on a few hundred varied texts, all threads at once.
#include <gtest/gtest.h>

#include <fstream>
#include <nlohmann/json.hpp>
#include <sstream>

#include "datasets/tokenizer.h"
#include "tests/common/test_paths.h"

using packbench::data::Tokenizer;
using Ids = std::vector<int32_t>;
using nlohmann::json;

namespace {

std::string slurp(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  std::ostringstream ss;
  ss << in.rdbuf();
  return ss.str();
}

const json& fixture() {
  static const json j = json::parse(slurp(packbench::testing::fixtures_dir() + "/tokenizer/llama3_parity.json"));
  return j;
}

std::string show(const Tokenizer& t, const Ids& ids) {
  std::string s;
  for (int32_t id : ids) s += std::to_string(id) + ":" + json(t.id_to_token(id)).dump() + " ";
  return s;
}

std::shared_ptr<const Tokenizer> llama3(const std::string& dir) {
  static std::shared_ptr<const Tokenizer> t = Tokenizer::from_dir(dir);
  return t;
}

}  // namespace

TEST(TokenizerParity, EncodeMatchesHuggingFaceOnAllThreads) {
  PB_REQUIRE_LLAMA3(dir);
  auto t = llama3(dir);
  std::vector<std::string> texts;
  std::vector<Ids> expect;
  // Four copies, so every thread works on the same texts at the same time.
  for (int copy = 0; copy < 4; ++copy)
    for (const auto& c : fixture()["cases"]) {
      texts.push_back(c["text"].get<std::string>());
      expect.push_back(c["ids"].get<Ids>());
    }
  ASSERT_GE(texts.size(), 4u * 300u);
  auto got = t->encode_batch(texts, false, 0);
  int bad = 0;
  for (size_t i = 0; i < texts.size(); ++i) {
    if (got[i] == expect[i]) continue;
    if (++bad > 20) continue;
    ADD_FAILURE() << "text " << json(texts[i]).dump() << "\n  Hugging Face: " << show(*t, expect[i])
                  << "\n  packbench:    " << show(*t, got[i]);
  }
  EXPECT_EQ(bad, 0) << "mismatches (fixture made from tokenizer.json sha256 "
                    << fixture()["tokenizer_json_sha256"].get<std::string>()
                    << "; regenerate with scripts/tokenizer/make_parity_fixture.js if the tokenizer changed)";
}

TEST(TokenizerParity, DecodeMatchesHuggingFace) {
  PB_REQUIRE_LLAMA3(dir);
  auto t = llama3(dir);
  for (const auto& c : fixture()["decode_cases"]) {
    Ids ids = c["ids"].get<Ids>();
    bool skip = c["skip_special_tokens"].get<bool>();
    EXPECT_EQ(t->decode(ids, skip), c["text"].get<std::string>()) << show(*t, ids) << " skip=" << skip;
  }
}

TEST(TokenizerParity, RoundTrip) {
  PB_REQUIRE_LLAMA3(dir);
  auto t = llama3(dir);
  for (const auto& c : fixture()["cases"]) {
    std::string text = c["text"].get<std::string>();
    EXPECT_EQ(t->decode(t->encode(text)), text);
  }
}

TEST(TokenizerParity, BosFromTemplateAndFromConfig) {
  PB_REQUIRE_LLAMA3(dir);
  // The file with TemplateProcessing (as Meta's later tokenizer.json) ...
  json tj = json::parse(slurp(dir + "/tokenizer.json"));
  tj["post_processor"] = fixture()["bos_post_processor"];
  auto with_template = Tokenizer::from_json(tj.dump(), "", "tokenizer.json+template");
  // ... and the plain file, whose BOS comes from tokenizer_config.json.
  auto plain = llama3(dir);
  for (const auto& c : fixture()["bos_cases"]) {
    std::string text = c["text"].get<std::string>();
    Ids expect = c["ids"].get<Ids>();
    EXPECT_EQ(with_template->encode(text, true), expect) << json(text).dump();
    EXPECT_EQ(plain->encode(text, true), expect) << json(text).dump();
  }
  EXPECT_EQ(plain->bos_id(), 128000);
  EXPECT_EQ(plain->eos_id(), 128001);
  EXPECT_FALSE(plain->pad_id().has_value());
  EXPECT_EQ(plain->vocab_size(), 128256);
  EXPECT_EQ(plain->token_to_id("<|eot_id|>"), 128009);
}
