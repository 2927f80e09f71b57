// scripts/tokenizer/tiktoken_to_hf.py on a hand-made tiny tiktoken file (vocabulary and merges
// worked out by hand, ids checked through Hugging Face's tokenizers and packbench) and on
// malformed files (a clear error naming the file and line, non-zero exit, nothing written).
#include <gtest/gtest.h>

#include <filesystem>
#include <fstream>
#include <nlohmann/json.hpp>
#include <sstream>

#include "datasets/tokenizer.h"
#include "tests/common/test_files.h"
#include "tests/common/test_paths.h"

using nlohmann::json;
using Ids = std::vector<int32_t>;
namespace fs = std::filesystem;

using packbench::testing::slurp;
using packbench::testing::write_text;

namespace {

std::string script_dir() { return packbench::testing::source_dir() + "/scripts/tokenizer"; }

// 15 ranks in tiktoken's format ("base64(bytes) rank"), listed out of rank order with a blank line:
//   0 a  1 b  2 c  3 ' '  4 0xC3  5 0xA9  6 ab  7 bc  8 abc  9 ' a'  10 0xC3 0xA9 (é)  11 ca
//   12 ' ab'  13 cab  14 xyz (no two tokens make it: no merge)
const char* kTinyModel =
    "Y2Fi 13\n"
    "YQ== 0\n"
    "IGFi 12\n"
    "Yg== 1\n"
    "YWJj 8\n"
    "\n"
    "Yw== 2\n"
    "IA== 3\n"
    "eHl6 14\n"
    "ww== 4\n"
    "qQ== 5\n"
    "YWI= 6\n"
    "w6k= 10\n"
    "YmM= 7\n"
    "IGE= 9\n"
    "Y2E= 11\n";
constexpr int kTinyRanks = 15;

// tiktoken_to_hf.py accepts only LLaMA-3's 128,000 ranks; this runs its whole command line
// (read, convert, write) with that count lowered to the tiny file's.
int convert_tiny(const std::string& python, const std::string& model, const std::string& out, std::string* log) {
  const std::string code =
      "import sys; sys.path.insert(0, sys.argv[1]); import tiktoken_to_hf as m; "
      "m.NUM_BASE_TOKENS = " + std::to_string(kTinyRanks) + "; "
      "sys.argv = ['tiktoken_to_hf.py'] + sys.argv[2:]; m.main()";
  return packbench::testing::run_command(python + " -c \"" + code + "\" " + script_dir() + " " + model + " " + out, log);
}

}  // namespace

TEST(TiktokenToHf, TinyFileGivesHandWorkedVocabularyAndMerges) {
  PB_REQUIRE_VENV(python);
  const std::string tmp = packbench::testing::temp_dir("tiktoken_to_hf");
  write_text(tmp + "/tokenizer.model", kTinyModel);
  std::string log;
  ASSERT_EQ(convert_tiny(python, tmp + "/tokenizer.model", tmp + "/out", &log), 0) << log;
  const json tj = json::parse(slurp(tmp + "/out/tokenizer.json"));

  // Each token's bytes in GPT-2's byte alphabet (' ' -> U+0120 'Ġ'; 0xC3, 0xA9 stand for
  // themselves: 'Ã', '©'), id = rank.
  const json vocab = {{"a", 0},   {"b", 1},   {"c", 2},    {"\u0120", 3},    {"\u00c3", 4},
                      {"\u00a9", 5}, {"ab", 6}, {"bc", 7}, {"abc", 8},  {"\u0120a", 9},
                      {"\u00c3\u00a9", 10}, {"ca", 11}, {"\u0120ab", 12}, {"cab", 13}, {"xyz", 14}};
  EXPECT_EQ(tj["model"]["vocab"], vocab);
  // Merges: every split of a token into two tokens, ordered by the token's rank, and within one
  // token by the left part's rank (abc: a+bc (0,7) before ab+c (6,2)). xyz has none.
  const json merges = json::parse(R"([["a","b"],["b","c"],["a","bc"],["ab","c"],["\u0120","a"],)"
                                  R"(["\u00c3","\u00a9"],["c","a"],["\u0120","ab"],["\u0120a","b"],)"
                                  R"(["c","ab"],["ca","b"]])");
  EXPECT_EQ(tj["model"]["merges"], merges);
  EXPECT_EQ(tj["model"]["ignore_merges"], true);

  // 256 special tokens right after the ranks, LLaMA-3's names; BOS first.
  ASSERT_EQ(tj["added_tokens"].size(), 256u);
  EXPECT_EQ(tj["added_tokens"][0]["content"], "<|begin_of_text|>");
  EXPECT_EQ(tj["added_tokens"][0]["id"], kTinyRanks);
  EXPECT_EQ(tj["added_tokens"][9]["content"], "<|eot_id|>");
  EXPECT_EQ(tj["added_tokens"][255]["id"], kTinyRanks + 255);
  for (const auto& t : tj["added_tokens"]) EXPECT_TRUE(t["special"].get<bool>()) << t.dump();
  const json cfg = json::parse(slurp(tmp + "/out/tokenizer_config.json"));
  EXPECT_EQ(cfg["bos_token"], "<|begin_of_text|>");
  EXPECT_EQ(cfg["eos_token"], "<|end_of_text|>");
  EXPECT_EQ(cfg["added_tokens_decoder"].size(), 256u);

  // Same input, same bytes.
  ASSERT_EQ(convert_tiny(python, tmp + "/tokenizer.model", tmp + "/again", &log), 0) << log;
  EXPECT_EQ(slurp(tmp + "/again/tokenizer.json"), slurp(tmp + "/out/tokenizer.json"));
  EXPECT_EQ(slurp(tmp + "/again/tokenizer_config.json"), slurp(tmp + "/out/tokenizer_config.json"));

  // Ids worked out by hand with tiktoken's rule (merge the adjacent pair whose result has the
  // lowest rank; a word that is itself a token stays whole):
  //   "abc" is a token: 8.  " abc": Ġ a b c -> Ġ ab c (6) -> Ġ abc (8); "Ġabc" is no token.
  //   "cabab": c a b a b -> c ab a b -> c ab ab -> cab ab (13, 6).  "éé": 0xC3 0xA9 twice -> 10 10.
  //   Special tokens in the text are matched whole: <|eot_id|> = 15 + 9.
  const std::vector<std::string> texts = {"abc", " abc", "cabab", "\xC3\xA9\xC3\xA9", "cab<|eot_id|>ab"};
  const std::vector<Ids> expect = {{8}, {3, 8}, {13, 6}, {10, 10}, {13, kTinyRanks + 9, 6}};
  write_text(tmp + "/texts.json", json(texts).dump());
  ASSERT_EQ(packbench::testing::run_command(python + " " + script_dir() + "/encode_with_hf.py " + tmp +
                                                "/out/tokenizer.json " + tmp + "/texts.json > " + tmp + "/hf.json",
                                            &log),
            0)
      << log;
  const json hf = json::parse(slurp(tmp + "/hf.json"));
  auto tok = packbench::data::Tokenizer::from_dir(tmp + "/out");
  for (size_t i = 0; i < texts.size(); ++i) {
    EXPECT_EQ(hf[i].get<Ids>(), expect[i]) << "Hugging Face, text " << json(texts[i]).dump();
    EXPECT_EQ(tok->encode(texts[i]), expect[i]) << "packbench, text " << json(texts[i]).dump();
  }
  EXPECT_EQ(tok->encode("ab", true), (Ids{kTinyRanks, 6}));  // <|begin_of_text|> first
}

TEST(TiktokenToHf, MalformedFilesFailWithFileAndLine) {
  PB_REQUIRE_VENV(python);
  const std::string tmp = packbench::testing::temp_dir("tiktoken_to_hf_bad");
  const std::string script = script_dir() + "/tiktoken_to_hf.py";
  struct Case {
    const char* name;
    std::string text;
    std::string message;  // expected in the output, after the file name
  };
  const std::vector<Case> cases = {
      {"three_fields", "YQ== 0\nYWI= 1 extra\n", ":2: expected 'base64 rank'"},
      {"bad_base64", "YQ== 0\n@@@@ 1\n", ":2: malformed token line"},
      {"bad_padding", "YQ 0\n", ":1: malformed token line"},
      {"rank_not_a_number", "YQ== zero\n", ":1: malformed token line"},
      {"token_twice", "YQ== 0\nYg== 1\nYQ== 2\n", ":3: token listed twice"},
      {"rank_gap", "YQ== 0\nYg== 2\n", ": ranks are not 0..1 without gaps"},
      {"rank_twice", "YQ== 0\nYg== 0\n", ": ranks are not 0..1 without gaps"},
      {"too_few_ranks", kTinyModel, ": 15 tokens, LLaMA-3 has 128000"},
  };
  for (const auto& c : cases) {
    const std::string model = tmp + "/" + c.name + ".model", out = tmp + "/" + c.name;
    write_text(model, c.text);
    std::string log;
    EXPECT_NE(packbench::testing::run_command(python + " " + script + " " + model + " " + out, &log), 0) << c.name;
    EXPECT_NE(log.find(model + c.message), std::string::npos) << c.name << ": " << log;
    EXPECT_EQ(log.find("Traceback"), std::string::npos) << c.name << ": " << log;
    EXPECT_FALSE(fs::exists(out + "/tokenizer.json")) << c.name;
  }
  std::string log;
  EXPECT_NE(packbench::testing::run_command(python + " " + script, &log), 0);
  EXPECT_NE(log.find("usage: tiktoken_to_hf.py"), std::string::npos) << log;
  // A missing file fails too (the message names the path).
  log.clear();
  EXPECT_NE(packbench::testing::run_command(python + " " + script + " " + tmp + "/absent.model " + tmp + "/o", &log), 0);
  EXPECT_NE(log.find(tmp + "/absent.model"), std::string::npos) << log;
  EXPECT_FALSE(fs::exists(tmp + "/o/tokenizer.json"));
}
