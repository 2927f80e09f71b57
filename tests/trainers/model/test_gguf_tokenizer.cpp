// The GGUF import's tokenizer files against the tokenizer transformers builds from the same GGUF, token for token.
#include <gtest/gtest.h>

#include <fstream>
#include <sstream>

#include <nlohmann/json.hpp>

#include "core/atomic_file.h"
#include "core/error.h"
#include "core/paths.h"
#include "datasets/tokenizer.h"
#include "tests/common/test_files.h"
#include "tests/common/test_paths.h"
#include "tests/trainers/model/gguf_test_writer.h"
#include "trainers/model/gguf.h"
#include "trainers/model/gguf_tokenizer.h"

using namespace packbench::train;
using packbench::testing::GgufWriter;
using packbench::testing::run_command;
using packbench::testing::source_dir;
using packbench::testing::temp_dir;
using json = nlohmann::json;

using packbench::testing::slurp;

namespace {

std::string show(const packbench::data::Tokenizer& tok, const std::vector<int32_t>& ids) {
  std::string s;
  for (int32_t id : ids) s += std::to_string(id) + ":" + json(tok.id_to_token(id)).dump() + " ";
  return s;
}

// The SmolLM2 tokenizer written by the import, and transformers' ids for the parity texts.
struct SmolLM2 : ::testing::Test {
  static void SetUpTestSuite() {
    const std::string gguf = packbench::smollm2_gguf(), python = packbench::testing::venv_python();
    if (gguf.empty() || python.empty()) return;
    dir = new std::string(temp_dir("gguf_tok"));
    GgufFile f(gguf);
    GgufTokenizerFiles files = gguf_tokenizer_files(f, 8192);
    packbench::write_file_atomic(*dir + "/tokenizer.json", files.tokenizer_json);
    packbench::write_file_atomic(*dir + "/tokenizer_config.json", files.tokenizer_config_json);
    const std::string out = *dir + "/reference.json";
    std::string log;
    const int rc = run_command("HF_HUB_OFFLINE=1 " + python + " " + source_dir() + "/scripts/reference/gguf_transformers_ref.py tokenize " +
                                   gguf + " " + packbench::testing::fixtures_dir() + "/tokenizer/llama3_parity.json " + *dir + " " + out,
                               &log);
    if (rc != 0) {
      error = new std::string(log);
      return;
    }
    ref = new json(json::parse(slurp(out)));
  }
  void SetUp() override {
    if (packbench::smollm2_gguf().empty()) GTEST_SKIP() << "SmolLM2 GGUF not found: run scripts/setup.sh";
    if (packbench::testing::venv_python().empty()) GTEST_SKIP() << "packbench's Python environment not found: run scripts/setup.sh";
    ASSERT_EQ(error, nullptr) << *error;
    ASSERT_NE(ref, nullptr);
  }
  static inline std::string* dir = nullptr;
  static inline std::string* error = nullptr;
  static inline json* ref = nullptr;
};

}  // namespace

// One test (ctest runs each case in its own process, and the reference takes one Python run).
TEST_F(SmolLM2, TokenizerFilesEqualTransformersGgufTokenizer) {
  SCOPED_TRACE("packbench's tokenizer on every text");
  auto tok = packbench::data::Tokenizer::from_dir(*dir);
  const auto& texts = (*ref)["texts"];
  const auto& ids = (*ref)["ids"];
  ASSERT_GT(texts.size(), 700u);  // the 447 committed parity texts and 340 generated ones
  size_t differing = 0;
  for (size_t i = 0; i < texts.size(); ++i) {
    const std::string text = texts[i];
    const auto want = ids[i].get<std::vector<int32_t>>();
    const auto got = tok->encode(text, false);
    if (got != want && ++differing <= 5)
      ADD_FAILURE() << "text " << i << " " << json(text).dump() << "\n  packbench:    " << show(*tok, got)
                    << "\n  transformers: " << show(*tok, want);
    EXPECT_EQ(tok->decode(got, false), text) << "round trip of text " << i;
  }
  EXPECT_EQ(differing, 0u) << "of " << texts.size() << " texts";
  // With special tokens: the file says add_bos_token false, and the ChatML ids are control tokens.
  EXPECT_EQ(tok->encode("Hi", true), tok->encode("Hi", false));
  EXPECT_EQ(tok->encode("<|im_start|>user\nHi<|im_end|>", false).front(), 1);
  EXPECT_EQ(tok->bos_id(), 1);
  EXPECT_EQ(tok->eos_id(), 2);
  EXPECT_EQ(tok->pad_id(), 2);
  EXPECT_EQ(tok->vocab_size(), 49152);

  SCOPED_TRACE("transformers loading the written folder");
  const auto& imported = (*ref)["imported_ids"];
  ASSERT_TRUE(imported.is_array());
  EXPECT_EQ(imported, (*ref)["ids"]);

  SCOPED_TRACE("tokenizer.json against the one transformers builds");
  const json ours = json::parse(slurp(*dir + "/tokenizer.json"));
  const json& theirs = (*ref)["tokenizer_json"];
  EXPECT_EQ(ours["model"]["vocab"], theirs["model"]["vocab"]);
  EXPECT_EQ(ours["model"]["merges"], theirs["model"]["merges"]);
  EXPECT_EQ(ours["added_tokens"], theirs["added_tokens"]);
  EXPECT_EQ(ours["pre_tokenizer"], theirs["pre_tokenizer"]);
  EXPECT_EQ(ours["normalizer"], theirs["normalizer"]);
  EXPECT_EQ(ours["decoder"]["type"], theirs["decoder"]["type"]);
  EXPECT_EQ(ours["post_processor"]["single"], theirs["post_processor"]["single"]);
  const json config = json::parse(slurp(*dir + "/tokenizer_config.json"));
  EXPECT_EQ(config["bos_token"], "<|im_start|>");
  EXPECT_EQ(config["eos_token"], "<|im_end|>");
  EXPECT_EQ(config["unk_token"], "<|endoftext|>");
  EXPECT_EQ(config["add_bos_token"], false);
  EXPECT_EQ(config["chat_template"], GgufFile(packbench::smollm2_gguf()).get_string("tokenizer.chat_template"));
}

// ---- hand-built GGUF tokenizers: respelling, BOS, refusals ----

namespace {

GgufWriter tiny_tokenizer(const std::string& model, const std::string& pre) {
  GgufWriter w;
  w.str("general.architecture", "llama");
  w.str("tokenizer.ggml.model", model);
  w.str("tokenizer.ggml.pre", pre);
  // 中 is outside the ByteLevel alphabet: it is spelled as its three UTF-8 bytes (ä¸Ń).
  w.strs("tokenizer.ggml.tokens", {"<s>", "a", "b", "ab", "Ġ", "Ġab", "中", "<tool>"});
  w.i32s("tokenizer.ggml.token_type", {3, 1, 1, 1, 1, 1, 1, 4});
  w.strs("tokenizer.ggml.merges", {"a b", "Ġ ab"});
  w.u32("tokenizer.ggml.bos_token_id", 0);
  w.boolean("tokenizer.ggml.add_bos_token", true);
  return w;
}

std::string write_gguf(const std::string& name, const std::string& bytes) {
  static const std::string d = temp_dir("gguf_tok_tiny");
  std::ofstream(d + "/" + name, std::ios::binary) << bytes;
  return d + "/" + name;
}

}  // namespace

TEST(GgufTokenizer, HandBuiltVocabularyRespellsAddsBosAndMarksAddedTokens) {
  GgufFile f(write_gguf("tiny.gguf", tiny_tokenizer("gpt2", "llama-bpe").build()));
  GgufTokenizerFiles files = gguf_tokenizer_files(f, 128);
  const json j = json::parse(files.tokenizer_json);
  EXPECT_EQ(j["model"]["vocab"]["ä¸Ń"], 6);
  EXPECT_EQ(j["model"]["merges"][1], json::array({"Ġ", "ab"}));
  ASSERT_EQ(j["added_tokens"].size(), 2u);
  EXPECT_EQ(j["added_tokens"][0]["content"], "<s>");
  EXPECT_EQ(j["added_tokens"][0]["special"], true);
  EXPECT_EQ(j["added_tokens"][1]["content"], "<tool>");
  EXPECT_EQ(j["added_tokens"][1]["special"], false);
  EXPECT_EQ(j["pre_tokenizer"]["type"], "Sequence");  // the LLaMA-3 split for llama-bpe
  EXPECT_EQ(json::parse(files.tokenizer_config_json)["model_max_length"], 128);

  auto tok = packbench::data::Tokenizer::from_json(files.tokenizer_json, files.tokenizer_config_json, "tiny");
  EXPECT_EQ(tok->encode("ab ab", true), (std::vector<int32_t>{0, 3, 5}));
  EXPECT_EQ(tok->encode("ab<tool>", false), (std::vector<int32_t>{3, 7}));
  EXPECT_EQ(tok->decode({6}, false), "中");  // (no merges reach it from its bytes, so text never encodes to it)
}

TEST(GgufTokenizer, RefusesOtherTokenizerModelsAndSplitsNamingTheKey) {
  auto message = [](const std::string& name, const GgufWriter& w) {
    GgufFile f(write_gguf(name, w.build()));
    try {
      gguf_tokenizer_files(f, 128);
    } catch (const packbench::Error& e) {
      return std::string(e.what());
    }
    return std::string("(no error)");
  };
  EXPECT_NE(message("spm.gguf", tiny_tokenizer("llama", "default")).find("'tokenizer.ggml.model': 'llama' is not supported"),
            std::string::npos);
  EXPECT_NE(message("qwen.gguf", tiny_tokenizer("gpt2", "qwen2")).find("'tokenizer.ggml.pre': 'qwen2' is not supported"),
            std::string::npos);
  GgufWriter no_merges;
  no_merges.str("tokenizer.ggml.model", "gpt2");
  no_merges.strs("tokenizer.ggml.tokens", {"a"});
  EXPECT_NE(message("nomerges.gguf", no_merges).find("'tokenizer.ggml.merges' is missing"), std::string::npos);
  GgufWriter bad_merge;
  bad_merge.str("tokenizer.ggml.model", "gpt2");
  bad_merge.strs("tokenizer.ggml.tokens", {"a", "b"});
  bad_merge.strs("tokenizer.ggml.merges", {"a b c"});
  EXPECT_NE(message("badmerge.gguf", bad_merge).find("'tokenizer.ggml.merges': item 0 ('a b c')"), std::string::npos);
}
