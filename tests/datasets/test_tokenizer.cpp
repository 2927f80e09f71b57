// Tokenizer on the tiny hand-made fixture: hand-computed ids, added tokens, decode, round trips,
// the fast merge paths against the reference loop, pathological input, bad files.
#include <gtest/gtest.h>

#include <chrono>
#include <fstream>
#include <random>
#include <sstream>
#include <thread>

#include "datasets/bpe.h"
#include "core/error.h"
#include "datasets/pretokenize.h"
#include "datasets/tokenizer.h"
#include "tests/common/test_files.h"
#include "tests/common/test_paths.h"

using packbench::Error;
using packbench::data::Tokenizer;
using Ids = std::vector<int32_t>;

using packbench::testing::slurp;

namespace {

std::string tiny_dir() { return packbench::testing::fixtures_dir() + "/tokenizer/tiny"; }

std::shared_ptr<const Tokenizer> tiny() {
  static auto t = Tokenizer::from_dir(tiny_dir());
  return t;
}

// Random valid UTF-8 drawn from ASCII, Latin, CJK, emoji and whitespace of all kinds.
std::string random_utf8(std::mt19937& rng, size_t n_chars) {
  static const std::vector<uint32_t> pool = {' ', ' ', '\n', '\r', '\t', 'a', 'b', 'h', 'e', 'l', 'o', 'x', 'y', 'z',
                                             'A', 'Z', '1', '2', '9', '\'', '.', '<', '|', '>', 0xA0, 0x2009, 0x3000,
                                             0x200B, 0x4E2D, 0x6587, 0x1F600, 0x0301, 0x0416, 0x0627, 0xE9};
  std::string s;
  for (size_t i = 0; i < n_chars; ++i) {
    uint32_t cp = rng() % 3 == 0 ? static_cast<uint32_t>(0x20 + rng() % 0x2FF0) : pool[rng() % pool.size()];
    if (cp >= 0xD800 && cp <= 0xDFFF) cp = 'q';
    packbench::data::utf8_append(cp, &s);
  }
  return s;
}

}  // namespace

// Expected ids below were worked out by hand from the fixture's merges (ids 0..255 are the
// bytes; 256 he, 257 ll, 258 hell, 259 hello, 260 Ġt, 261 Ġth, 262 Ġthe, 263 aa, 264 aaaa,
// 265 ĊĊ, 266 12, 267 xyz; added 268 <|bos|>, 269 <|eos|>, 270 <|pad|>, 271 <mask>) and agree
// with Hugging Face's tokenizers on the same file.
TEST(Tokenizer, HandComputedIds) {
  auto t = tiny();
  EXPECT_EQ(t->encode("hello"), (Ids{259}));
  EXPECT_EQ(t->encode(" the"), (Ids{262}));
  EXPECT_EQ(t->encode("hellohello"), (Ids{259, 259}));
  EXPECT_EQ(t->encode("aaaaaaaaa"), (Ids{264, 264, 97}));
  EXPECT_EQ(t->encode("xyz"), (Ids{267}));  // ignore_merges: whole word found in the vocabulary
  EXPECT_EQ(t->encode("xyzxyz"), (Ids{120, 121, 122, 120, 121, 122}));
  EXPECT_EQ(t->encode("12345"), (Ids{266, 51, 52, 53}));  // digits split in threes
  EXPECT_EQ(t->encode("a\n\nb"), (Ids{97, 265, 98}));
  EXPECT_EQ(t->encode("I'M"), (Ids{73, 39, 77}));
  EXPECT_EQ(t->encode(""), (Ids{}));
}

TEST(Tokenizer, LongRepeatedWordUsesHeapPathCorrectly) {
  auto t = tiny();
  Ids expect(25, 264);
  expect.push_back(97);
  EXPECT_EQ(t->encode(std::string(101, 'a')), expect);
}

TEST(Tokenizer, AddedTokensSplitOutOfText) {
  auto t = tiny();
  EXPECT_EQ(t->encode("hi<|eos|>there"), (Ids{104, 105, 269, 116, 256, 114, 101}));
  EXPECT_EQ(t->encode("x <mask> y"), (Ids{120, 271, 121}));  // lstrip and rstrip eat the spaces
  EXPECT_EQ(t->encode("<|bos|><|bos|>"), (Ids{268, 268}));
  EXPECT_EQ(t->encode("<|bos"), (Ids{60, 124, 98, 111, 115}));
}

TEST(Tokenizer, AddSpecialTokensUsesTemplate) {
  auto t = tiny();
  EXPECT_EQ(t->encode("hello", true), (Ids{268, 259}));
  EXPECT_EQ(t->encode("", true), (Ids{268}));
}

TEST(Tokenizer, SpecialIdsAndLookups) {
  auto t = tiny();
  EXPECT_EQ(t->bos_id(), 268);
  EXPECT_EQ(t->eos_id(), 269);
  EXPECT_EQ(t->pad_id(), 270);
  EXPECT_EQ(t->vocab_size(), 272);
  EXPECT_EQ(t->token_to_id("Ġthe"), 262);
  EXPECT_EQ(t->token_to_id("<mask>"), 271);
  EXPECT_FALSE(t->token_to_id("nope").has_value());
  EXPECT_EQ(t->id_to_token(262), "Ġthe");
  EXPECT_EQ(t->id_to_token(10), "Ċ");
  EXPECT_EQ(t->id_to_token(269), "<|eos|>");
}

TEST(Tokenizer, Decode) {
  auto t = tiny();
  EXPECT_EQ(t->decode({268, 259, 226}), "<|bos|>hello\xEF\xBF\xBD");
  EXPECT_EQ(t->decode({268, 259}, true), "hello");
  EXPECT_EQ(t->decode({0xE4, 0xB8, 0xAD}), "\xE4\xB8\xAD");  // bytes joined across tokens
  EXPECT_EQ(t->decode({0xE4, 0xB8, 97}), "\xEF\xBF\xBD" "a");  // truncated sequence: one U+FFFD
  EXPECT_THROW(t->decode({5000}), Error);
}

TEST(Tokenizer, RoundTripRandomUtf8) {
  auto t = tiny();
  std::mt19937 rng(7);
  for (int i = 0; i < 300; ++i) {
    std::string s = random_utf8(rng, rng() % 200);
    ASSERT_EQ(t->decode(t->encode(s)), s) << "case " << i;
  }
}

TEST(Tokenizer, InvalidUtf8IsEncodedByteForByte) {
  auto t = tiny();
  std::string s = "ab\xFF\xC3 hello\xE2\x82";
  Ids ids = t->encode(s);
  for (int32_t id : ids) ASSERT_LT(id, 268);  // no added tokens
  EXPECT_EQ(t->decode(ids), packbench::data::utf8_lossy(s));
}

TEST(Tokenizer, EncodeBatchMatchesEncodeOnAllThreads) {
  auto t = tiny();
  std::mt19937 rng(11);
  std::vector<std::string> texts;
  for (int i = 0; i < 500; ++i) texts.push_back(random_utf8(rng, rng() % 300) + "<|eos|>hello");
  auto batch = t->encode_batch(texts, true, 0);
  ASSERT_EQ(batch.size(), texts.size());
  for (size_t i = 0; i < texts.size(); ++i) ASSERT_EQ(batch[i], t->encode(texts[i], true)) << i;
  // and plain std::threads sharing one tokenizer
  std::vector<std::thread> th;
  std::vector<int> bad(4, 0);
  for (int k = 0; k < 4; ++k)
    th.emplace_back([&, k] {
      for (size_t i = static_cast<size_t>(k); i < texts.size(); i += 4)
        if (t->encode(texts[i], true) != batch[i]) ++bad[static_cast<size_t>(k)];
    });
  for (auto& x : th) x.join();
  EXPECT_EQ(bad, std::vector<int>(4, 0));
}

TEST(Bpe, FastPathsMatchReferenceLoop) {
  // A model with many overlapping merges over a small alphabet, so merge order matters.
  packbench::data::BpeModel m;
  int32_t next = 0;
  std::map<std::string, int32_t> ids;
  for (int b = 0; b < 256; ++b) {
    std::string s(1, static_cast<char>(b));
    ids[s] = next;
    m.add_token(s, next++);
  }
  std::mt19937 rng(3);
  std::vector<std::string> toks = {"a", "b", "c"};
  for (int i = 0; i < 60; ++i) {
    const std::string& l = toks[rng() % toks.size()];
    const std::string& r = toks[rng() % toks.size()];
    std::string j = l + r;
    if (ids.count(j)) continue;
    ids[j] = next;
    m.add_token(j, next++);
    m.add_merge(ids[l], ids[r], ids[j]);
    toks.push_back(j);
  }
  m.finish();
  for (int i = 0; i < 400; ++i) {
    std::string w;
    size_t n = 1 + rng() % (i % 2 ? 40 : 300);
    for (size_t k = 0; k < n; ++k) w.push_back("abc"[rng() % 3]);
    Ids fast, ref;
    m.encode_word(w, false, &fast);
    m.encode_word_reference(w, &ref);
    ASSERT_EQ(fast, ref) << w;
  }
}

TEST(Tokenizer, PathologicalInputStaysLinear) {
  auto t = tiny();
  std::mt19937 rng(5);
  std::string rnd(100000, ' ');
  for (char& c : rnd) c = static_cast<char>(rng());
  const std::vector<std::string> inputs = {std::string(100000, 'a'), std::string(100000, ' '),
                                           std::string(100000, '\n'), std::string(100000, '1'), rnd};
  for (const auto& s : inputs) {
    auto t0 = std::chrono::steady_clock::now();
    Ids ids = t->encode(s);
    double sec = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
    EXPECT_LT(sec, 1.0) << "100 KB took " << sec << " s (quadratic?)";
    EXPECT_EQ(t->decode(ids), packbench::data::utf8_lossy(s));
  }
}

TEST(Tokenizer, MalformedFilesNameFileAndField) {
  const std::string good = slurp(tiny_dir() + "/tokenizer.json");
  auto expect_error = [](const std::string& json, const std::string& needle) {
    try {
      Tokenizer::from_json(json, "", "bad.json");
      ADD_FAILURE() << "no error for " << needle;
    } catch (const Error& e) {
      std::string what = e.what();
      EXPECT_NE(what.find("bad.json"), std::string::npos) << what;
      EXPECT_NE(what.find(needle), std::string::npos) << what;
    }
  };
  expect_error("{not json", "not valid JSON");
  expect_error("{}", "model");
  expect_error(R"({"model": {"type": "BPE", "vocab": {"a": 0}, "merges": ["a b"]}})", "model.merges[0]");
  expect_error(R"({"model": {"type": "BPE", "vocab": {"a": "x"}, "merges": []}})", "model.vocab[\"a\"]");
  expect_error(R"({"model": {"type": "WordPiece", "vocab": {}}})", "model.type");
  expect_error(R"({"model": {"type": "BPE", "vocab": {"a": 0}, "merges": []}, "added_tokens": [{"id": 1}]})",
               "added_tokens[0].content");
  std::string bad_regex = good;
  bad_regex.replace(bad_regex.find("(?i:"), 4, "(?i:(");
  expect_error(bad_regex, "pre_tokenizer.pretokenizers[0].pattern");
  EXPECT_THROW(Tokenizer::from_dir("/nonexistent/tokenizer"), Error);
  try {
    Tokenizer::from_json(good, R"({"bos_token": "<|nope|>"})");
    ADD_FAILURE();
  } catch (const Error& e) {
    EXPECT_NE(std::string(e.what()).find("bos_token"), std::string::npos) << e.what();
  }
}

TEST(Pretokenize, Llama3PatternPieces) {
  packbench::data::RegexSplitter s(packbench::data::kLlama3Pattern, "test");
  using V = std::vector<std::string>;
  EXPECT_EQ(s.split_to_vector("Hello world  12345 I'M ok!!\r\n\n  x"),
            (V{"Hello", " world", " ", " ", "123", "45", " I", "'M", " ok", "!!\r\n\n", " ", " x"}));
}
