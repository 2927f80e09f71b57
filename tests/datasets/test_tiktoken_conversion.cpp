// Setup's LLaMA-3 tokenizer.json (converted from Meta's tokenizer.model) against transformers'
// TikTokenConverter and tiktoken reading the same file (scripts/tokenizer/check_tiktoken_conversion.py),
// and packbench's ids against tiktoken's on the parity texts and real benchmark documents.
#include <gtest/gtest.h>

#include <algorithm>
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

namespace {

std::string checker() {
  return packbench::testing::source_dir() + "/scripts/tokenizer/check_tiktoken_conversion.py";
}

std::string show(const packbench::data::Tokenizer& t, const Ids& ids) {
  std::string s;
  for (size_t i = 0; i < ids.size() && i < 40; ++i) s += std::to_string(ids[i]) + ":" + json(t.id_to_token(ids[i])).dump() + " ";
  return s;
}

// Runs the checker on `texts` (structure checks included) and compares packbench's ids with
// tiktoken's. Returns the checker's report.
std::string check_texts(const std::string& python, const std::string& dir, const std::vector<std::string>& texts,
                        const std::string& tag) {
  const std::string tmp = packbench::testing::temp_dir(tag);
  {
    std::ofstream f(tmp + "/texts.json", std::ios::binary);
    f << json(texts).dump();
  }
  std::string log;
  EXPECT_EQ(packbench::testing::run_command(python + " " + checker() + " " + dir + "/tokenizer.model " + dir +
                                                "/tokenizer.json --texts " + tmp + "/texts.json --ids-out " + tmp +
                                                "/tiktoken.json",
                                            &log),
            0)
      << log;
  if (!fs::exists(tmp + "/tiktoken.json")) {
    ADD_FAILURE() << "no ids from tiktoken";
    return log;
  }
  const json tt = json::parse(slurp(tmp + "/tiktoken.json"));
  EXPECT_EQ(tt.size(), texts.size());
  auto tok = packbench::data::Tokenizer::from_dir(dir);
  auto got = tok->encode_batch(texts, false, 0);
  int bad = 0;
  for (size_t i = 0; i < texts.size() && i < tt.size(); ++i) {
    Ids expect = tt[i].get<Ids>();
    if (got[i] == expect) continue;
    if (++bad > 5) continue;
    ADD_FAILURE() << "text " << json(texts[i].substr(0, 200)).dump() << "\n  tiktoken:  " << show(*tok, expect)
                  << "\n  packbench: " << show(*tok, got[i]);
  }
  EXPECT_EQ(bad, 0) << "of " << texts.size() << " texts";
  return log;
}

// Up to `cap` bytes of one JSON-lines file, each listed string field a text of its own.
void add_jsonl(const std::string& path, std::initializer_list<const char*> fields, size_t cap,
               std::vector<std::string>* texts) {
  std::ifstream in(path);
  ASSERT_TRUE(in) << path;
  std::string line;
  size_t used = 0;
  while (used < cap && std::getline(in, line)) {
    auto j = json::parse(line, nullptr, false);
    if (j.is_discarded()) continue;
    for (const char* f : fields)
      if (j.contains(f) && j[f].is_string()) {
        texts->push_back(j[f].get<std::string>());
        used += texts->back().size();
      }
  }
}

#define REQUIRE_TOKENIZER_MODEL(dir)                                                                    \
  PB_REQUIRE_LLAMA3(dir);                                                                               \
  if (!fs::exists(dir + "/tokenizer.model"))                                                            \
  GTEST_SKIP() << "Meta's tokenizer.model not found in " << dir << ": run scripts/setup.sh"

}  // namespace

// Vocabulary, merges (in order), special tokens and pattern equal transformers' conversion; the
// parity fixture's texts give the same ids in tiktoken, Hugging Face and packbench.
TEST(TiktokenConversion, ParityTextsMatchTransformersAndTiktoken) {
  REQUIRE_TOKENIZER_MODEL(dir);
  PB_REQUIRE_VENV(python);
  const json fx = json::parse(slurp(packbench::testing::fixtures_dir() + "/tokenizer/llama3_parity.json"));
  std::vector<std::string> texts;
  for (const auto& c : fx["cases"]) texts.push_back(c["text"].get<std::string>());
  for (const auto& c : fx["bos_cases"]) texts.push_back("<|begin_of_text|>" + c["text"].get<std::string>());
  const std::string log = check_texts(python, dir, texts, "tiktoken_parity");
  // The checker's lines say what it compared; make sure the structure checks ran.
  EXPECT_NE(log.find("converted merges == transformers' merges, same order"), std::string::npos) << log;
  EXPECT_NE(log.find("converted vocabulary == transformers' TikTokenConverter vocabulary"), std::string::npos) << log;
}

// Real benchmark documents: GSM8K, MATH, IFEval prompts and responses, MMLU rows, BBH inputs.
TEST(TiktokenConversion, BenchmarkDocumentsMatchTiktoken) {
  REQUIRE_TOKENIZER_MODEL(dir);
  PB_REQUIRE_VENV(python);
  PB_REQUIRE_SHARED(shared);
  const size_t cap = 200000;  // bytes per source: about 1 MB in all
  std::vector<std::string> texts;
  add_jsonl(shared + "/gsm8k/test.jsonl", {"question", "answer"}, cap, &texts);
  add_jsonl(shared + "/math/test.jsonl", {"problem", "solution"}, cap, &texts);
  add_jsonl(shared + "/ifeval/input_response_data_gpt4_20231107_145030.jsonl", {"prompt", "response"}, cap, &texts);
  // MMLU: 8 CSV rows of every fourth subject make one text.
  std::vector<fs::path> csvs;
  for (const auto& e : fs::directory_iterator(shared + "/mmlu/test")) csvs.push_back(e.path());
  std::sort(csvs.begin(), csvs.end());
  size_t used = 0;
  for (size_t i = 0; i < csvs.size() && used < cap; i += 4) {
    std::istringstream in(slurp(csvs[i].string()));
    std::string line, doc;
    for (int n = 1; std::getline(in, line) && used < cap; ++n) {
      doc += line + "\n";
      if (n % 8 == 0) { used += doc.size(); texts.push_back(std::move(doc)); doc.clear(); }
    }
  }
  // BBH: the first 8 inputs of every task.
  std::vector<fs::path> bbh;
  for (const auto& e : fs::directory_iterator(shared + "/bbh/bbh"))
    if (e.path().extension() == ".json") bbh.push_back(e.path());
  std::sort(bbh.begin(), bbh.end());
  for (const auto& p : bbh) {
    json j = json::parse(slurp(p.string()));
    for (size_t k = 0; k < j["examples"].size() && k < 8; ++k) texts.push_back(j["examples"][k]["input"].get<std::string>());
  }
  ASSERT_GT(texts.size(), 1500u);
  check_texts(python, dir, texts, "tiktoken_real");
}

// The checker itself notices a converted file that differs: two merges swapped, one id moved.
TEST(TiktokenConversion, CheckerRejectsATamperedFile) {
  REQUIRE_TOKENIZER_MODEL(dir);
  PB_REQUIRE_VENV(python);
  json tj = json::parse(slurp(dir + "/tokenizer.json"));
  auto& merges = tj["model"]["merges"];
  std::swap(merges[1000], merges[1001]);
  tj["model"]["vocab"]["\u0120the"] = 128000 - 1;  // "Ġthe" (" the")
  const std::string tmp = packbench::testing::temp_dir("tiktoken_tampered");
  {
    std::ofstream f(tmp + "/tokenizer.json", std::ios::binary);
    f << tj.dump();
  }
  std::string log;
  EXPECT_NE(packbench::testing::run_command(python + " " + checker() + " " + dir + "/tokenizer.model " + tmp +
                                                "/tokenizer.json",
                                            &log),
            0);
  EXPECT_NE(log.find("FAIL converted merges == transformers' merges, same order"), std::string::npos) << log;
  EXPECT_NE(log.find("first difference at 1000"), std::string::npos) << log;
  EXPECT_NE(log.find("FAIL converted vocabulary: "), std::string::npos) << log;
}
