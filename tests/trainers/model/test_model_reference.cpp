// packbench's LlamaForCausalLM against the independent PyTorch reference
// (scripts/reference/llama_ref.py): rotary frequencies, logits, loss, every gradient, and the
// first SGD losses, for a padded batch, a packed cross row and packed block rows, tied and untied.
#include <gtest/gtest.h>

#include <torch/torch.h>

#include <cstdio>

#include "tests/common/test_paths.h"
#include "tests/trainers/model/test_model_ref_dump.h"
#include "trainers/model/pretrained.h"

namespace packbench::train {
namespace {

using testing::RefArray;

const std::map<std::string, RefArray>& dump() {
  static const auto d = testing::load_llama_ref(testing::fixtures_dir() + "/llama_ref/llama_ref.bin");
  return d;
}

torch::Tensor tensor_of(const std::string& name) {
  auto it = dump().find(name);
  if (it == dump().end()) throw std::runtime_error("dump has no entry " + name + "; " + testing::kLlamaRefRegenerate);
  const RefArray& a = it->second;
  if (a.is_int) return torch::tensor(a.i, torch::kLong).view(a.shape);
  return torch::tensor(a.f, torch::kFloat).view(a.shape);
}

// Hugging Face's causal LM loss: token t+1 predicted at t, mean over labels != -100.
torch::Tensor causal_lm_loss(const torch::Tensor& logits, const torch::Tensor& labels) {
  const int64_t V = logits.size(-1);
  torch::Tensor lg = logits.narrow(1, 0, logits.size(1) - 1).reshape({-1, V});
  torch::Tensor lb = labels.narrow(1, 1, labels.size(1) - 1).reshape({-1});
  return torch::nn::functional::cross_entropy(lg, lb, torch::nn::functional::CrossEntropyFuncOptions().ignore_index(-100));
}

AttentionInputs inputs_of(const std::string& p) {
  AttentionInputs a;
  a.layout = tensor_of(p + "layout").item<int64_t>() == 1 ? data::AttentionLayout::kBlock : data::AttentionLayout::kCross;
  a.position_ids = tensor_of(p + "position_ids");
  a.attention_mask = tensor_of(p + "attention_mask");
  a.segment_ids = tensor_of(p + "segment_ids");
  return a;
}

void report(const std::string& what, double diff, double tol) {
  std::printf("%-44s %s  max |diff| %.3g (tolerance %.0e)\n", what.c_str(), diff <= tol ? "OK" : "NOT OK", diff, tol);
}

class ModelReference : public ::testing::TestWithParam<std::string> {
 protected:
  void SetUp() override { at::set_num_threads(1); }
};

TEST(ModelReferenceDump, HasMagicAndVersion) {
  ASSERT_NO_THROW(dump()) << "the reference dump could not be read";
  EXPECT_TRUE(dump().count("untied/padded/logits"));
}

TEST(ModelReferenceDump, RotaryFrequenciesWithLlama3Scaling) {
  for (const char* m : {"untied", "tied"}) {
    LlamaConfig c = LlamaConfig::load(testing::fixtures_dir() + "/llama_ref/" + m);
    ASSERT_TRUE(c.rope_scaling.has_value());
    torch::Tensor mine = rope_inv_freq(c), ref = tensor_of(std::string(m) + "/inv_freq");
    const double rel = ((mine - ref).abs() / ref.abs()).max().item<double>();
    report(std::string(m) + " inv_freq (relative)", rel, 1e-6);
    EXPECT_LT(rel, 1e-6);
    // The fixture covers all three llama3 bands: kept, blended and divided by the factor.
    torch::Tensor plain = 1.0 / torch::pow(c.rope_theta, torch::arange(0, c.head_dim(), 2).to(torch::kFloat) / c.head_dim());
    torch::Tensor ratio = plain / ref;
    EXPECT_NEAR(ratio[0].item<double>(), 1.0, 1e-6);
    EXPECT_NEAR(ratio[-1].item<double>(), c.rope_scaling->factor, 1e-4);
    bool blended = false;
    for (int64_t i = 0; i < ratio.size(0); ++i) {
      const double r = ratio[i].item<double>();
      blended |= r > 1.0001 && r < c.rope_scaling->factor - 1e-3;
    }
    EXPECT_TRUE(blended) << "no frequency in the blended band";
  }
}

TEST_P(ModelReference, LogitsLossAndGradientsMatch) {
  const std::string key = GetParam();  // "<model>/<case>"
  const std::string model_name = key.substr(0, key.find('/'));
  const std::string p = key + "/";
  LlamaForCausalLM model = load_pretrained(testing::fixtures_dir() + "/llama_ref/" + model_name);
  model->train();
  torch::Tensor ids = tensor_of(p + "input_ids"), labels = tensor_of(p + "labels");
  AttentionInputs attn = inputs_of(p);
  torch::Tensor logits = model->forward(ids, attn);
  torch::Tensor ref_logits = tensor_of(p + "logits");
  ASSERT_EQ(logits.sizes(), ref_logits.sizes());
  // Padding positions' logits are not defined by the model (only real tokens are compared).
  torch::Tensor real = attn.attention_mask.to(torch::kBool).unsqueeze(-1);
  const double dlogit = ((logits.detach() - ref_logits).abs() * real).max().item<double>();
  report(key + " logits", dlogit, 2e-5);
  EXPECT_LT(dlogit, 2e-5);

  torch::Tensor loss = causal_lm_loss(logits, labels);
  const double dloss = std::abs(loss.item<double>() - tensor_of(p + "loss").item<double>());
  report(key + " loss", dloss, 5e-6);
  EXPECT_LT(dloss, 5e-6);

  loss.backward();
  double worst = 0, worst_rel = 0;
  std::string worst_name;
  for (auto& [name, param] : model->hf_named_parameters()) {
    torch::Tensor ref = tensor_of(p + "grad/" + name);
    ASSERT_TRUE(param.grad().defined()) << name;
    ASSERT_EQ(param.grad().sizes(), ref.sizes()) << name;
    const double d = (param.grad() - ref).abs().max().item<double>();
    const double scale = ref.abs().max().item<double>();
    EXPECT_LT(d, 1e-5 + 1e-4 * scale) << name;
    if (d > worst) {
      worst = d;
      worst_name = name;
    }
    worst_rel = std::max(worst_rel, d / std::max(scale, 1e-12));
  }
  report(key + " grads (" + worst_name + ")", worst, 1e-5);
  std::printf("%-44s largest difference relative to the tensor's max |grad|: %.3g\n", (key + " grads").c_str(), worst_rel);

  // The first losses of five plain SGD steps (lr 0.5) follow the reference's.
  LlamaForCausalLM fresh = load_pretrained(testing::fixtures_dir() + "/llama_ref/" + model_name);
  std::vector<torch::Tensor> params;
  for (auto& [n, t] : fresh->hf_named_parameters()) params.push_back(t);
  torch::optim::SGD sgd(params, torch::optim::SGDOptions(0.5));
  torch::Tensor ref_losses = tensor_of(p + "sgd_losses");
  double dsgd = 0;
  for (int64_t step = 0; step < ref_losses.size(0); ++step) {
    sgd.zero_grad();
    torch::Tensor l = causal_lm_loss(fresh->forward(ids, attn), labels);
    dsgd = std::max(dsgd, std::abs(l.item<double>() - ref_losses[step].item<double>()));
    l.backward();
    sgd.step();
  }
  report(key + " first 5 SGD losses", dsgd, 1e-4);
  EXPECT_LT(dsgd, 1e-4);
}

INSTANTIATE_TEST_SUITE_P(Cases, ModelReference,
                         ::testing::Values("untied/padded", "untied/cross", "untied/block", "tied/padded"),
                         [](const auto& info) {
                           std::string s = info.param;
                           for (char& ch : s) if (ch == '/') ch = '_';
                           return s;
                         });

}  // namespace
}  // namespace packbench::train
