// BPE trainer: a hand-computed tiny case, then a trained tokenizer loaded back by packbench (and
// by Hugging Face's tokenizers when setup's Python environment is there): round trips, common
// words as single tokens, special tokens, determinism.
#include <gtest/gtest.h>

#include <fstream>
#include <nlohmann/json.hpp>
#include <random>
#include <sstream>

#include "datasets/bpe_trainer.h"
#include "core/error.h"
#include "datasets/pretokenize.h"
#include "datasets/tokenizer.h"
#include "tests/common/test_paths.h"

using namespace packbench::data;

namespace {

// A deterministic English-like corpus: Zipf-distributed words, punctuation, numbers, newlines.
std::vector<std::string> corpus() {
  static const std::vector<std::string> words = {
      "the", "of", "and", "to", "a", "in", "is", "that", "for", "it", "as", "was", "with", "be", "by", "on",
      "not", "he", "this", "are", "or", "his", "from", "at", "which", "but", "have", "an", "they", "you",
      "were", "their", "one", "all", "we", "can", "her", "has", "there", "been", "packing", "padding",
      "model", "training", "sequence", "tokens", "greedy", "random", "dataset", "samples", "The", "We", "It"};
  std::mt19937 rng(42);
  std::vector<double> weights;
  for (size_t i = 0; i < words.size(); ++i) weights.push_back(1.0 / static_cast<double>(i + 1));
  std::discrete_distribution<size_t> pick(weights.begin(), weights.end());
  std::vector<std::string> docs;
  for (int d = 0; d < 300; ++d) {
    std::string s;
    int n = 20 + static_cast<int>(rng() % 60);
    for (int i = 0; i < n; ++i) {
      if (i) s += rng() % 12 == 0 ? ", " : " ";
      s += words[pick(rng)];
      if (rng() % 15 == 0) s += ". ";
      if (rng() % 40 == 0) s += std::to_string(rng() % 5000) + "\n";
    }
    docs.push_back(s + ".\n");
  }
  docs.push_back("Unicode too: caf\xC3\xA9 \xE4\xB8\xAD\xE6\x96\x87 \xF0\x9F\x98\x80<|eot_id|>");
  return docs;
}

}  // namespace

TEST(BpeTrainer, HandComputedMerges) {
  BpeTrainerOptions opt;
  opt.vocab_size = 300;
  TrainedBpe bpe = train_bpe({"ab ab ab cd"}, opt);
  // words: "ab" x1, " ab" x2, " cd" x1. Pairs: (a,b) 3, (' ',a) 2 -> merge a+b; then (' ',ab) 2
  // -> merge; what is left occurs once, below min_frequency 2.
  ASSERT_EQ(bpe.merges.size(), 2u);
  EXPECT_EQ(bpe.tokens[static_cast<size_t>(bpe.merges[0].first)], "a");
  EXPECT_EQ(bpe.tokens[static_cast<size_t>(bpe.merges[0].second)], "b");
  EXPECT_EQ(bpe.tokens[256], "ab");
  EXPECT_EQ(bpe.tokens[257], " ab");
  EXPECT_EQ(bpe.tokens[0], "!");  // LLaMA-3's byte order
  EXPECT_EQ(bpe.vocab_size(), 258 + 6);
}

TEST(BpeTrainer, TrainedTokenizerLoadsAndRoundTrips) {
  const auto docs = corpus();
  BpeTrainerOptions opt;
  opt.vocab_size = 450;
  TrainedBpe bpe = train_bpe(docs, opt);
  EXPECT_EQ(bpe.vocab_size(), 450);
  const std::string dir = packbench::testing::temp_dir("bpe_trainer");
  write_trained_tokenizer(bpe, dir);
  auto tok = Tokenizer::from_dir(dir);
  EXPECT_EQ(tok->vocab_size(), 450);
  EXPECT_EQ(tok->bos_id(), tok->token_to_id("<|begin_of_text|>"));
  EXPECT_EQ(tok->eos_id(), tok->token_to_id("<|end_of_text|>"));
  EXPECT_EQ(tok->pad_id(), tok->token_to_id("<|finetune_right_pad_id|>"));
  ASSERT_TRUE(tok->token_to_id("<|eot_id|>").has_value());
  EXPECT_EQ(*tok->bos_id(), 444);  // right after the 444 byte and merge tokens
  for (const char* w : {" the", " of", " and", " packing", " padding", "The", " training", " model"})
    EXPECT_EQ(tok->encode(w).size(), 1u) << w;
  for (const auto& d : docs) ASSERT_EQ(tok->decode(tok->encode(d)), d);
  const std::string odd = "Never seen: \xD0\x9F\xD1\x80\xD0\xB8 \xE2\x80\x89 \xF0\x9F\x91\x8D\xF0\x9F\x8F\xBD\r\n  x";
  EXPECT_EQ(tok->decode(tok->encode(odd)), odd);
  auto ids = tok->encode("the end<|eot_id|>", true);
  EXPECT_EQ(ids.front(), *tok->bos_id());
  EXPECT_EQ(ids.back(), *tok->token_to_id("<|eot_id|>"));
  // Training compresses: fewer tokens than bytes on its own corpus.
  size_t bytes = 0, tokens = 0;
  for (const auto& d : docs) { bytes += d.size(); tokens += tok->encode(d).size(); }
  EXPECT_LT(static_cast<double>(tokens), 0.45 * static_cast<double>(bytes));
}

TEST(BpeTrainer, Deterministic) {
  BpeTrainerOptions opt;
  opt.vocab_size = 400;
  opt.threads = 1;
  std::string a = trained_tokenizer_json(train_bpe(corpus(), opt));
  opt.threads = 0;
  std::string b = trained_tokenizer_json(train_bpe(corpus(), opt));
  EXPECT_EQ(a, b);
}

TEST(BpeTrainer, RejectsTooSmallVocab) {
  BpeTrainerOptions opt;
  opt.vocab_size = 100;
  EXPECT_THROW(train_bpe({"x"}, opt), packbench::Error);
}

// Hugging Face's tokenizers reads the trained file and gives the same ids as packbench.
TEST(BpeTrainer, HuggingFaceAgreesOnTrainedTokenizer) {
  PB_REQUIRE_VENV(python);
  const std::string script = packbench::testing::source_dir() + "/scripts/tokenizer/encode_with_hf.py";
  const auto docs = corpus();
  BpeTrainerOptions opt;
  opt.vocab_size = 2000;  // more than the corpus supports: training stops at min_frequency
  const std::string dir = packbench::testing::temp_dir("bpe_trainer_hf");
  write_trained_tokenizer(train_bpe(docs, opt), dir);
  auto tok = Tokenizer::from_dir(dir);
  std::vector<std::string> texts(docs.begin(), docs.begin() + 40);
  texts.push_back("Never seen: \xD0\x9F\xD1\x80\xD0\xB8 \xE2\x80\x89 it's <|eot_id|> THE'LL\r\n\r\n   99999");
  {
    std::ofstream f(dir + "/texts.json");
    f << nlohmann::json(texts).dump();
  }
  std::string out;
  ASSERT_EQ(packbench::testing::run_command(python + " " + script + " " + dir + "/tokenizer.json " + dir +
                                                "/texts.json > " + dir + "/hf.json",
                                            &out),
            0)
      << out;
  std::ifstream hf_file(dir + "/hf.json");
  auto hf = nlohmann::json::parse(hf_file);
  ASSERT_EQ(hf.size(), texts.size());
  for (size_t i = 0; i < texts.size(); ++i)
    EXPECT_EQ(tok->encode(texts[i]), hf[i].get<std::vector<int32_t>>()) << texts[i];
}
