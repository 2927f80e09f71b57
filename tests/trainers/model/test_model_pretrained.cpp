// Checkpoint folders: save_pretrained / load_pretrained round trips (fp32, bf16, shards, tied),
// the files written (config, generation config, tokenizer), and clear errors for bad folders.
#include <gtest/gtest.h>
#include <gmock/gmock.h>

#include <torch/torch.h>

#include <filesystem>
#include <fstream>

#include <nlohmann/json.hpp>

#include "core/atomic_file.h"
#include "core/error.h"
#include "tests/common/llama_shape.h"
#include "tests/common/test_paths.h"
#include "trainers/model/pretrained.h"
#include "trainers/model/safetensors.h"

namespace packbench::train {
namespace {

using ::testing::HasSubstr;
namespace fs = std::filesystem;

LlamaConfig small_config(bool tied) {
  LlamaConfig c = packbench::testing::llama_shape(40, 16, 24, 2, 4, 1, 32);
  c.rope_theta = 500000.0;
  c.rope_scaling = RopeScaling{"llama3", 8.0, 1.0, 4.0, 16};
  c.tie_word_embeddings = tied;
  c.bos_token_id = 1;
  c.eos_token_ids = {2, 3};
  return c;
}

torch::Tensor logits_of(LlamaForCausalLM& m) {
  torch::NoGradGuard ng;
  torch::Tensor ids = torch::arange(10, torch::kLong).view({1, 10}) * 3 % 40;
  AttentionInputs a;
  a.position_ids = torch::arange(10, torch::kLong).view({1, 10});
  return m->forward(ids, a);
}

void expect_same_params(LlamaForCausalLM& a, LlamaForCausalLM& b, torch::Dtype via) {
  auto pa = a->hf_named_parameters(), pb = b->hf_named_parameters();
  ASSERT_EQ(pa.size(), pb.size());
  for (size_t i = 0; i < pa.size(); ++i) {
    EXPECT_EQ(pa[i].first, pb[i].first);
    torch::Tensor want = pa[i].second.detach().to(via).to(torch::kFloat);
    EXPECT_TRUE(torch::equal(want, pb[i].second.detach().to(torch::kFloat))) << pa[i].first;
  }
}

class Pretrained : public ::testing::Test {
 protected:
  void SetUp() override { at::set_num_threads(1); }
};

TEST_F(Pretrained, Float32RoundTripWithConfigAndTokenizer) {
  LlamaForCausalLM m(small_config(false));
  m->init_weights(21);
  const std::string tok = testing::temp_dir("tok");
  write_file_atomic(tok + "/tokenizer.json", "{\"model\": {}}");
  write_file_atomic(tok + "/tokenizer_config.json", "{\"eos_token\": \"<|eot_id|>\"}");
  const std::string dir = testing::temp_dir("pre_fp32") + "/ckpt";
  SaveOptions o;
  o.dtype = torch::kFloat;
  o.tokenizer_dir = tok;
  save_pretrained(*m, dir, o);
  for (const char* f : {"config.json", "generation_config.json", "model.safetensors", "tokenizer.json", "tokenizer_config.json"}) {
    EXPECT_TRUE(fs::exists(dir + "/" + f)) << f;
  }
  EXPECT_FALSE(fs::exists(dir + "/model.safetensors.index.json"));
  auto cfg = nlohmann::json::parse(read_file(dir + "/config.json"));
  EXPECT_EQ(cfg["torch_dtype"], "float32");
  EXPECT_EQ(cfg["rope_scaling"]["rope_type"], "llama3");
  EXPECT_EQ(cfg["eos_token_id"], nlohmann::json::array({2, 3}));
  EXPECT_EQ(cfg["architectures"][0], "LlamaForCausalLM");
  auto gen = nlohmann::json::parse(read_file(dir + "/generation_config.json"));
  EXPECT_EQ(gen["bos_token_id"], 1);
  EXPECT_EQ(gen["eos_token_id"], nlohmann::json::array({2, 3}));
  EXPECT_EQ(SafetensorsFile(dir + "/model.safetensors").metadata().at("format"), "pt");

  LlamaForCausalLM back = load_pretrained(dir);
  expect_same_params(m, back, torch::kFloat);
  EXPECT_TRUE(torch::equal(logits_of(m), logits_of(back)));
  EXPECT_EQ(back->config().to_json(), m->config().to_json());
  // Saving again over the folder replaces it and leaves no temporary folders behind.
  m->init_weights(22);
  save_pretrained(*m, dir, o);
  LlamaForCausalLM again = load_pretrained(dir);
  expect_same_params(m, again, torch::kFloat);
  for (const auto& e : fs::directory_iterator(fs::path(dir).parent_path())) {
    EXPECT_EQ(e.path().filename(), "ckpt") << "left behind: " << e.path();
  }
}

TEST_F(Pretrained, Bfloat16ShardedAndTied) {
  LlamaForCausalLM m(small_config(true));
  m->init_weights(5);
  const std::string dir = testing::temp_dir("pre_bf16") + "/ckpt";
  SaveOptions o;
  o.dtype = torch::kBFloat16;
  o.max_shard_bytes = 2000;  // several shards
  save_pretrained(*m, dir, o);
  ASSERT_TRUE(fs::exists(dir + "/model.safetensors.index.json"));
  SafetensorsCheckpoint ck(dir);
  EXPECT_GT(ck.files().size(), 2u);
  EXPECT_EQ(ck.find("lm_head.weight"), nullptr);  // tied: the head is the embedding
  for (const auto& name : ck.names()) EXPECT_EQ(ck.at(name).dtype, StDtype::kBF16) << name;
  EXPECT_EQ(nlohmann::json::parse(read_file(dir + "/config.json"))["torch_dtype"], "bfloat16");
  LlamaForCausalLM back = load_pretrained(dir, torch::kFloat);
  expect_same_params(m, back, torch::kBFloat16);
  EXPECT_TRUE(back->lm_head_weight().is_same(back->hf_named_parameters()[0].second));
  // Loaded as bf16 parameters, the forward still runs and stays close.
  LlamaForCausalLM half = load_pretrained(dir, torch::kBFloat16);
  EXPECT_EQ(half->hf_named_parameters()[0].second.scalar_type(), torch::kBFloat16);
  const double d = (logits_of(half) - logits_of(back)).abs().max().item<double>();
  EXPECT_LT(d, 0.1);
}

TEST_F(Pretrained, MismatchedFoldersAreClearErrors) {
  LlamaForCausalLM m(small_config(false));
  const std::string dir = testing::temp_dir("pre_bad") + "/ckpt";
  SaveOptions o;
  o.dtype = torch::kFloat;
  save_pretrained(*m, dir, o);
  // A config that disagrees with the weights.
  LlamaConfig wide = small_config(false);
  wide.intermediate_size = 32;
  write_file_atomic(dir + "/config.json", wide.to_json_string());
  try {
    load_pretrained(dir);
    FAIL() << "no throw";
  } catch (const Error& e) {
    EXPECT_THAT(e.what(), HasSubstr("mlp.gate_proj.weight"));
    EXPECT_THAT(e.what(), HasSubstr("[24, 16]"));
  }
  // A missing tensor and an unexpected one.
  write_file_atomic(dir + "/config.json", small_config(false).to_json_string());
  {
    SafetensorsFile f(dir + "/model.safetensors");
    std::vector<StTensorView> views;
    for (const auto& v : f.tensors()) {
      if (v.name == "model.layers.1.mlp.up_proj.weight") continue;
      views.push_back(v);
    }
    views.back().name = "model.extra.weight";
    write_safetensors_checkpoint(dir + ".edit", views, 0);
  }
  fs::copy_file(dir + "/config.json", dir + ".edit/config.json");
  try {
    load_pretrained(dir + ".edit");
    FAIL() << "no throw";
  } catch (const Error& e) {
    EXPECT_THAT(e.what(), HasSubstr("missing 2 tensor(s)"));
    EXPECT_THAT(e.what(), HasSubstr("model.layers.1.mlp.up_proj.weight"));
    EXPECT_THAT(e.what(), HasSubstr("unexpected 1 tensor(s): model.extra.weight"));
  }
  // config.json errors name the file and the field.
  write_file_atomic(dir + "/config.json", R"({"model_type": "llama", "vocab_size": 40, "hidden_size": "16"})");
  try {
    load_pretrained(dir);
    FAIL() << "no throw";
  } catch (const Error& e) {
    EXPECT_THAT(e.what(), HasSubstr(dir + "/config.json"));
    EXPECT_THAT(e.what(), HasSubstr("'hidden_size'"));
  }
  auto cfg = small_config(false).to_json();
  cfg["rope_scaling"] = {{"rope_type", "yarn"}, {"factor", 4.0}};
  write_file_atomic(dir + "/config.json", cfg.dump());
  EXPECT_THROW(load_pretrained(dir), Error);
  cfg = small_config(false).to_json();
  cfg["num_key_value_heads"] = 3;
  write_file_atomic(dir + "/config.json", cfg.dump());
  try {
    load_pretrained(dir);
    FAIL() << "no throw";
  } catch (const Error& e) {
    EXPECT_THAT(e.what(), HasSubstr("'num_key_value_heads'"));
  }
}

TEST(LlamaConfigJson, ParsesHuggingFaceLlama3Config) {
  // The fields of Meta-Llama-3.1-8B's config.json.
  const char* text = R"({
    "architectures": ["LlamaForCausalLM"], "attention_bias": false, "attention_dropout": 0.0,
    "bos_token_id": 128000, "eos_token_id": [128001, 128008, 128009], "hidden_act": "silu",
    "hidden_size": 4096, "initializer_range": 0.02, "intermediate_size": 14336,
    "max_position_embeddings": 131072, "mlp_bias": false, "model_type": "llama",
    "num_attention_heads": 32, "num_hidden_layers": 32, "num_key_value_heads": 8,
    "pretraining_tp": 1, "rms_norm_eps": 1e-05,
    "rope_scaling": {"factor": 8.0, "low_freq_factor": 1.0, "high_freq_factor": 4.0,
                     "original_max_position_embeddings": 8192, "rope_type": "llama3"},
    "rope_theta": 500000.0, "tie_word_embeddings": false, "torch_dtype": "bfloat16",
    "transformers_version": "4.43.0.dev0", "use_cache": true, "vocab_size": 128256})";
  LlamaConfig c = LlamaConfig::from_json(nlohmann::json::parse(text), "config.json");
  EXPECT_EQ(c.head_dim(), 128);
  EXPECT_EQ(c.num_key_value_groups(), 4);
  EXPECT_EQ(c.eos_token_ids, (std::vector<int64_t>{128001, 128008, 128009}));
  EXPECT_EQ(c.rope_scaling->original_max_position_embeddings, 8192);
  EXPECT_EQ(c.num_parameters(), 8030261248);  // LLaMA-3.1-8B's published parameter count
  LlamaConfig back = LlamaConfig::from_json(c.to_json(), "round trip");
  EXPECT_EQ(back.to_json(), c.to_json());
  // Older configs say "type" instead of "rope_type"; a single eos id is an integer.
  auto j = nlohmann::json::parse(text);
  j["rope_scaling"].erase("rope_type");
  j["rope_scaling"]["type"] = "llama3";
  j["eos_token_id"] = 128001;
  LlamaConfig old = LlamaConfig::from_json(j, "old.json");
  EXPECT_EQ(old.rope_scaling->rope_type, "llama3");
  EXPECT_EQ(old.eos_token_ids, (std::vector<int64_t>{128001}));
  j["hidden_act"] = "gelu";
  EXPECT_THROW(LlamaConfig::from_json(j, "gelu.json"), Error);
}

}  // namespace
}  // namespace packbench::train
