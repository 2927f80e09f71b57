// 'packbench data tokenize' through the binary: ids added in input order, special tokens,
// threads, files, and bad lines named by number.
#include <gtest/gtest.h>

#include <fstream>
#include <nlohmann/json.hpp>
#include <sstream>

#include "datasets/tokenizer.h"
#include "tests/common/test_files.h"
#include "tests/common/test_paths.h"

using packbench::testing::packbench_bin;
using packbench::testing::run_command;

using packbench::testing::slurp;
using packbench::testing::write_text;

namespace {

std::string tiny() { return packbench::testing::fixtures_dir() + "/tokenizer/tiny"; }

std::vector<std::string> lines_of(const std::string& s) {
  std::vector<std::string> v;
  std::istringstream in(s);
  std::string l;
  while (std::getline(in, l)) v.push_back(l);
  return v;
}

}  // namespace

TEST(DataTokenize, AddsIdsInInputOrderFromStdin) {
  const std::string dir = packbench::testing::temp_dir("data_tokenize");
  write_text(dir + "/in.jsonl",
        "{\"id\": 7, \"text\": \"hello the\"}\n"
        "{\"text\":\"hi<|eos|>there\",\"z\":[1]}\n"
        "\n"
        "{\"text\": \"\"}\n");
  std::string out;
  ASSERT_EQ(run_command(packbench_bin() + " data tokenize --tokenizer " + tiny() + " < " + dir + "/in.jsonl > " +
                            dir + "/out.jsonl"),
            0);
  auto lines = lines_of(slurp(dir + "/out.jsonl"));
  ASSERT_EQ(lines.size(), 3u);
  // keys and formatting kept, ids last (hand-computed with the tiny fixture's merges)
  EXPECT_EQ(lines[0], "{\"id\": 7, \"text\": \"hello the\",\"ids\":[259,262]}");
  EXPECT_EQ(lines[1], "{\"text\":\"hi<|eos|>there\",\"z\":[1],\"ids\":[104,105,269,116,256,114,101]}");
  EXPECT_EQ(lines[2], "{\"text\": \"\",\"ids\":[]}");
}

TEST(DataTokenize, SpecialTokensThreadsAndFiles) {
  const std::string dir = packbench::testing::temp_dir("data_tokenize_files");
  auto tok = packbench::data::Tokenizer::from_dir(tiny());
  std::string in;
  std::vector<std::string> texts;
  for (int i = 0; i < 5000; ++i) {
    texts.push_back("line " + std::to_string(i) + " hello\u00a0the aaaa<|eos|>");
    in += nlohmann::json({{"n", i}, {"text", texts.back()}}).dump() + "\n";
  }
  write_text(dir + "/in.jsonl", in);
  for (const char* threads : {"1", "3"}) {
    std::string log;
    ASSERT_EQ(run_command(packbench_bin() + " data tokenize --tokenizer " + tiny() + "/tokenizer.json --threads " +
                              threads + " --add-special-tokens --input " + dir + "/in.jsonl --output " + dir +
                              "/out.jsonl",
                          &log),
              0)
        << log;
    auto lines = lines_of(slurp(dir + "/out.jsonl"));
    ASSERT_EQ(lines.size(), texts.size());
    for (size_t i = 0; i < texts.size(); ++i) {
      auto j = nlohmann::json::parse(lines[i]);
      ASSERT_EQ(j["n"], static_cast<int>(i));
      ASSERT_EQ(j["ids"].get<std::vector<int32_t>>(), tok->encode(texts[i], true)) << i;
      ASSERT_EQ(j["ids"][0], 268);  // <|bos|> from the template
    }
  }
}

TEST(DataTokenize, BadLinesAreNamed) {
  const std::string dir = packbench::testing::temp_dir("data_tokenize_bad");
  struct Case { std::string input, needle; };
  const std::vector<Case> cases = {
      {"{\"text\": \"ok\"}\n{\"text\": 5}\n", "line 2: field 'text': expected a string"},
      {"{\"text\": \"ok\"}\n\n{\"nope\": 1}\n", "line 3: field 'text': missing"},
      {"{\"text\": \"ok\"\n", "line 1: not valid JSON"},
      {"[1, 2]\n", "line 1: expected a JSON object"},
      {"{\"text\": \"a\xFF\"}\n", "line 1: not valid JSON"},
  };
  for (const auto& c : cases) {
    write_text(dir + "/in.jsonl", c.input);
    std::string out;
    EXPECT_EQ(run_command(packbench_bin() + " data tokenize --tokenizer " + tiny() + " --input " + dir +
                              "/in.jsonl --output " + dir + "/out.jsonl",
                          &out),
              1)
        << out;
    EXPECT_NE(out.find(dir + "/in.jsonl: " + c.needle), std::string::npos) << out;
    EXPECT_FALSE(std::ifstream(dir + "/out.jsonl").good()) << "no half-written output";
  }
  std::string out;
  EXPECT_NE(run_command(packbench_bin() + " data tokenize --tokenizer /nonexistent < /dev/null", &out), 0);
  EXPECT_NE(out.find("/nonexistent"), std::string::npos) << out;
  EXPECT_NE(run_command(packbench_bin() + " data tokenize < /dev/null", &out), 0);  // --tokenizer required
}
