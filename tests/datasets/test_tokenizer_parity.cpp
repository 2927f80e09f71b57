// LLaMA-3 tokenizer parity: ids equal Hugging Face's tokenizers (fixture from
// scripts/tokenizer/make_parity_fixture.py) on a few hundred varied texts, all threads at once.
#include <gtest/gtest.h>

#include <chrono>
#include <random>
#include <fstream>
#include <nlohmann/json.hpp>
#include <sstream>

#include "datasets/pretokenize.h"
#include "datasets/tokenizer.h"
#include "tests/common/test_files.h"
#include "tests/common/test_paths.h"

using packbench::data::Tokenizer;
using Ids = std::vector<int32_t>;
using nlohmann::json;

using packbench::testing::slurp;

namespace {

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
                    << "; regenerate with scripts/tokenizer/make_parity_fixture.py if the tokenizer changed)";
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

// Real text: GSM8K test and IFEval GPT-4 responses from the shared benchmark folder, encoded by
// Hugging Face's tokenizers (scripts/tokenizer/encode_with_hf.py in setup's Python environment)
// and by packbench. Skips without the shared folder or the Python environment.
TEST(TokenizerParity, RealTextMatchesHuggingFace) {
  PB_REQUIRE_LLAMA3(dir);
  PB_REQUIRE_SHARED(shared);
  PB_REQUIRE_VENV(python);
  const std::string src = packbench::testing::source_dir();
  std::vector<std::string> texts;
  auto add = [&](const std::string& file, std::initializer_list<const char*> fields) {
    std::ifstream in(shared + "/" + file);
    std::string line;
    while (std::getline(in, line)) {
      auto j = json::parse(line, nullptr, false);
      if (j.is_discarded()) continue;
      for (const char* f : fields)
        if (j.contains(f) && j[f].is_string()) texts.push_back(j[f].get<std::string>());
    }
  };
  add("gsm8k/test.jsonl", {"question", "answer"});
  add("ifeval/input_response_data_gpt4_20231107_145030.jsonl", {"prompt", "response"});
  ASSERT_GT(texts.size(), 1000u);
  const std::string tmp = packbench::testing::temp_dir("tokenizer_real");
  {
    std::ofstream f(tmp + "/texts.json", std::ios::binary);
    f << json(texts).dump();
  }
  std::string out;
  ASSERT_EQ(packbench::testing::run_command(python + " " + src + "/scripts/tokenizer/encode_with_hf.py " + dir +
                                                "/tokenizer.json " + tmp + "/texts.json > " + tmp + "/hf.json",
                                            &out),
            0)
      << out;
  json hf = json::parse(slurp(tmp + "/hf.json"));
  ASSERT_EQ(hf.size(), texts.size());
  auto t = llama3(dir);
  auto got = t->encode_batch(texts, false, 0);
  int bad = 0;
  for (size_t i = 0; i < texts.size(); ++i) {
    Ids expect = hf[i].get<Ids>();
    if (got[i] == expect) continue;
    if (++bad > 5) continue;
    ADD_FAILURE() << "text " << json(texts[i]).dump() << "\n  Hugging Face: " << show(*t, expect)
                  << "\n  packbench:    " << show(*t, got[i]);
  }
  EXPECT_EQ(bad, 0);
}

// 100 KB of one character, of whitespace or of random bytes with the real vocabulary: linear
// time (a quadratic merge loop or regex would take minutes), and bytes come back out.
TEST(TokenizerParity, PathologicalInputStaysLinear) {
  PB_REQUIRE_LLAMA3(dir);
  auto t = llama3(dir);
  std::mt19937 rng(9);
  std::string rnd(100000, ' '), letters(100000, ' ');
  for (char& c : rnd) c = static_cast<char>(rng());
  for (char& c : letters) c = static_cast<char>('a' + rng() % 26);
  const std::vector<std::string> inputs = {std::string(100000, 'a'), std::string(100000, ' '),
                                           std::string(100000, '\n'), std::string(50000, '7'), rnd, letters};
  for (const auto& s : inputs) {
    auto t0 = std::chrono::steady_clock::now();
    Ids ids = t->encode(s);
    double sec = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
    EXPECT_LT(sec, 2.0) << "100 KB took " << sec << " s (quadratic?)";  // ~0.03 s CPU here
    EXPECT_EQ(t->decode(ids), packbench::data::utf8_lossy(s));
  }
  // Reference ids from Hugging Face's tokenizers (0.23.2 and 0.23.3) on the same inputs.
  EXPECT_EQ(t->encode(std::string(100000, 'a')), Ids(12500, 70540));
  Ids spaces(781, 58040);
  spaces.push_back(792);
  EXPECT_EQ(t->encode(std::string(100000, ' ')), spaces);
  EXPECT_EQ(t->encode(std::string(100000, '\n')), Ids(3125, 80183));
}

// Added-token flags (single_word, lstrip, rstrip, normalized, overlapping contents) on the tiny
// fixture with extra added tokens, against Hugging Face. Needs no LLaMA-3 files.
TEST(TokenizerParity, AddedTokenFlagsMatchHuggingFace) {
  json tj = json::parse(slurp(packbench::testing::fixtures_dir() + "/tokenizer/tiny/tokenizer.json"));
  tj["added_tokens"] = fixture()["added_tokens_variant"];
  auto t = Tokenizer::from_json(tj.dump(), "", "tiny+added");
  ASSERT_GT(fixture()["added_cases"].size(), 100u);
  for (const auto& c : fixture()["added_cases"]) {
    std::string text = c["text"].get<std::string>();
    Ids expect = c["ids"].get<Ids>();
    Ids got = t->encode(text);
    EXPECT_EQ(got, expect) << json(text).dump() << "\n  Hugging Face: " << show(*t, expect)
                           << "\n  packbench:    " << show(*t, got);
  }
}

// GPT-2 style pre-tokenizer (ByteLevel with use_regex) on the tiny fixture, against Hugging Face.
TEST(TokenizerParity, Gpt2PreTokenizerMatchesHuggingFace) {
  json tj = json::parse(slurp(packbench::testing::fixtures_dir() + "/tokenizer/tiny/tokenizer.json"));
  tj["pre_tokenizer"] = fixture()["gpt2_pre_tokenizer"];
  auto t = Tokenizer::from_json(tj.dump(), "", "tiny+gpt2");
  ASSERT_GT(fixture()["gpt2_cases"].size(), 100u);
  for (const auto& c : fixture()["gpt2_cases"]) {
    std::string text = c["text"].get<std::string>();
    Ids expect = c["ids"].get<Ids>();
    Ids got = t->encode(text);
    EXPECT_EQ(got, expect) << json(text).dump() << "\n  Hugging Face: " << show(*t, expect)
                           << "\n  packbench:    " << show(*t, got);
  }
}
