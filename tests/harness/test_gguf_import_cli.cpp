// `packbench model import --gguf`: the SmolLM2 GGUF becomes a folder whose logits equal transformers' model built from the GGUF.
#include <gtest/gtest.h>
#include <gmock/gmock.h>

#include <cmath>
#include <cstring>
#include <filesystem>
#include <fstream>

#include <nlohmann/json.hpp>

#include "core/atomic_file.h"
#include "core/paths.h"
#include "datasets/tokenizer.h"
#include "tests/common/test_files.h"
#include "tests/common/test_paths.h"
#include "tests/trainers/model/gguf_test_writer.h"

namespace packbench {
using packbench::testing::read_npy;
using packbench::testing::run_packbench;

namespace {

using ::testing::HasSubstr;
using json = nlohmann::json;
namespace fs = std::filesystem;

struct GgufImport : ::testing::Test {
  static void SetUpTestSuite() {
    const std::string gguf = smollm2_gguf();
    if (gguf.empty()) return;
    parent = new std::string(testing::temp_dir("gguf_import_cli"));
    dir = new std::string(*parent + "/smollm2");
    log = new std::string;
    rc = run_packbench("model import --gguf " + gguf + " --out " + *dir, log);
  }
  void SetUp() override {
    if (smollm2_gguf().empty()) GTEST_SKIP() << "SmolLM2 GGUF not found: run scripts/setup.sh";
    ASSERT_EQ(rc, 0) << *log;
  }
  static inline std::string *parent = nullptr, *dir = nullptr, *log = nullptr;
  static inline int rc = -1;
};

}  // namespace

TEST_F(GgufImport, WritesAHuggingFaceFolder) {
  EXPECT_THAT(*log, HasSubstr("30 layers, hidden 576, intermediate 1536, 9 heads (3 key/value), vocab 49152, tied head"));
  EXPECT_THAT(*log, HasSubstr("61 F32, 210 Q4_1, 1 Q8_0"));
  EXPECT_THAT(*log, HasSubstr("134,515,008 parameters"));
  for (const char* f : {"config.json", "model.safetensors", "tokenizer.json", "tokenizer_config.json", "generation_config.json"})
    EXPECT_TRUE(fs::exists(*dir + "/" + f)) << f;
  for (const auto& e : fs::directory_iterator(*parent))  // no temporary folder left behind
    EXPECT_EQ(e.path().filename(), "smollm2");
  const json c = json::parse(read_file(*dir + "/config.json"));
  EXPECT_EQ(c["architectures"][0], "LlamaForCausalLM");
  EXPECT_EQ(c["num_hidden_layers"], 30);
  EXPECT_EQ(c["num_key_value_heads"], 3);
  EXPECT_EQ(c["max_position_embeddings"], 8192);
  EXPECT_EQ(c["rope_theta"], 100000.0);
  EXPECT_EQ(c["rms_norm_eps"], static_cast<double>(1e-5f));  // the file's float32 value
  EXPECT_EQ(c["tie_word_embeddings"], true);
  EXPECT_EQ(c["torch_dtype"], "float32");
  EXPECT_EQ(c["bos_token_id"], 1);
  EXPECT_EQ(c["eos_token_id"], 2);
  const json g = json::parse(read_file(*dir + "/generation_config.json"));
  EXPECT_EQ(g["eos_token_id"], 2);
  const json t = json::parse(read_file(*dir + "/tokenizer_config.json"));
  EXPECT_THAT(t["chat_template"].get<std::string>(), HasSubstr("<|im_start|>"));

  std::string out;
  ASSERT_EQ(run_packbench("model info " + *dir, &out), 0) << out;
  EXPECT_THAT(out, HasSubstr("30 layers, hidden 576, intermediate 1536, 9 heads (3 key/value, head_dim 64), vocab 49152"));
  EXPECT_THAT(out, HasSubstr("F32: 272 tensors, 134,515,008 elements"));
}

// packbench's logits of 256 tokens against transformers' own GGUF loading (its dequantization,
// Q/K un-permutation and config), and transformers loading the imported folder to the same weights.
TEST_F(GgufImport, LogitsEqualTransformersModelFromTheGguf) {
  PB_REQUIRE_VENV(python);
  auto tok = data::Tokenizer::from_dir(*dir);
  std::string text;
  for (int i = 0; i < 6; ++i)
    text += "Packing puts several short samples into one row, so a batch wastes fewer tokens on padding. "
            "Q: how many rows do 12 samples of 100 tokens need at 512 tokens per row? A: three. ";
  std::vector<int32_t> ids = tok->encode("<|im_start|>user\n" + text + "<|im_end|>\n<|im_start|>assistant\n", false);
  ASSERT_GE(ids.size(), 256u);
  ids.resize(256);
  std::string ids_text;
  for (int32_t id : ids) ids_text += (ids_text.empty() ? "" : ",") + std::to_string(id);

  const std::string work = testing::temp_dir("gguf_logits");
  std::string out;
  ASSERT_EQ(run_packbench("model logits --checkpoint " + *dir + " --ids " + ids_text + " --out " + work + "/pb.npy", &out), 0) << out;
  ASSERT_EQ(testing::run_command("HF_HUB_OFFLINE=1 " + python + " " + testing::source_dir() +
                                     "/scripts/reference/gguf_transformers_ref.py logits " + smollm2_gguf() + " " + *dir + " " +
                                     ids_text + " " + work + "/hf.npy " + work + "/hf.json",
                                 &out),
            0)
      << out;
  const json loaded = json::parse(read_file(work + "/hf.json"));
  EXPECT_EQ(loaded["parameters"], 272);
  EXPECT_EQ(loaded["differing"], json::array()) << "transformers' weights from the folder differ from its weights from the GGUF";

  std::vector<int64_t> sa, sb;
  const std::vector<float> a = read_npy(work + "/pb.npy", &sa), b = read_npy(work + "/hf.npy", &sb);
  ASSERT_EQ(sa, (std::vector<int64_t>{256, 49152}));
  ASSERT_EQ(sb, sa);
  double max_diff = 0, max_ref = 0;
  int argmax_differ = 0;
  for (int64_t t = 0; t < 256; ++t) {
    int64_t am = 0, bm = 0;
    for (int64_t v = 0; v < 49152; ++v) {
      const size_t i = static_cast<size_t>(t * 49152 + v);
      max_diff = std::max(max_diff, static_cast<double>(std::fabs(a[i] - b[i])));
      max_ref = std::max(max_ref, static_cast<double>(std::fabs(b[i])));
      if (a[i] > a[static_cast<size_t>(t * 49152 + am)]) am = v;
      if (b[i] > b[static_cast<size_t>(t * 49152 + bm)]) bm = v;
    }
    argmax_differ += am != bm;
  }
  std::printf("max |packbench - transformers| = %.3g, max |transformers| = %.3g, relative %.3g\n", max_diff, max_ref,
              max_diff / max_ref);
  EXPECT_LE(max_diff, 1e-4 * max_ref);
  EXPECT_EQ(argmax_differ, 0);
}

TEST(GgufImportErrors, RefusesOtherArchitecturesAndBrokenFiles) {
  const std::string d = testing::temp_dir("gguf_import_bad");
  testing::GgufWriter w;
  w.str("general.architecture", "gpt2");
  w.str("tokenizer.ggml.model", "gpt2");
  { std::ofstream(d + "/gpt2.gguf", std::ios::binary) << w.build(); }
  std::string out;
  EXPECT_EQ(run_packbench("model import --gguf " + d + "/gpt2.gguf --out " + d + "/out", &out), 1) << out;
  EXPECT_THAT(out, HasSubstr("general.architecture is 'gpt2'; packbench imports only: llama"));
  EXPECT_FALSE(fs::exists(d + "/out"));

  // Cut inside the first value (header 24 bytes, key 8 + 20, type 4, then the string's length).
  { std::ofstream(d + "/cut.gguf", std::ios::binary) << w.build().substr(0, 60); }
  out.clear();
  EXPECT_EQ(run_packbench("model import --gguf " + d + "/cut.gguf --out " + d + "/out", &out), 1) << out;
  EXPECT_THAT(out, HasSubstr(d + "/cut.gguf: metadata key 'general.architecture'"));
  EXPECT_THAT(out, HasSubstr("truncated"));
  EXPECT_FALSE(fs::exists(d + "/out"));

  out.clear();
  EXPECT_EQ(run_packbench("model import --gguf " + d + "/missing.gguf --out " + d + "/out", &out), 1) << out;
  EXPECT_THAT(out, HasSubstr("missing.gguf"));

  out.clear();
  ASSERT_EQ(run_packbench("model import --help", &out), 0) << out;
  EXPECT_THAT(out, HasSubstr("Architectures: llama"));
}

}  // namespace packbench
