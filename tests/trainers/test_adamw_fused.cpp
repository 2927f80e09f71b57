// The fused AdamW step against torch::optim::AdamW with clip_grad_norm_: parameters, moments and
// step counts after several steps, with weight decay and with clipping on and off; the state it
// leaves saves and loads like AdamW's own.
#include <gtest/gtest.h>
#include <torch/torch.h>

#include <filesystem>

#include "trainers/adamw_fused.h"

namespace packbench::train {
namespace {

using torch::Tensor;

std::vector<Tensor> make_params(torch::ScalarType dt) {
  torch::manual_seed(5);
  return {torch::randn({17, 9}, dt).requires_grad_(true), torch::randn({33}, dt).requires_grad_(true),
          torch::randn({4, 4}, dt).requires_grad_(true)};
}

std::unique_ptr<torch::optim::AdamW> make_opt(std::vector<Tensor> ps) {
  std::vector<torch::optim::OptimizerParamGroup> groups;
  auto o1 = std::make_unique<torch::optim::AdamWOptions>(torch::optim::AdamWOptions(3e-2).betas({0.9, 0.95}).eps(1e-8).weight_decay(0.1));
  auto o2 = std::make_unique<torch::optim::AdamWOptions>(torch::optim::AdamWOptions(3e-2).weight_decay(0.0));
  groups.emplace_back(std::vector<Tensor>{ps[0], ps[1]}, std::move(o1));
  groups.emplace_back(std::vector<Tensor>{ps[2]}, std::move(o2));
  return std::make_unique<torch::optim::AdamW>(groups, torch::optim::AdamWOptions(3e-2));
}

void set_grads(std::vector<Tensor>& ps, int step, double magnitude) {
  torch::manual_seed(100 + step);
  for (auto& p : ps) p.mutable_grad() = torch::randn(p.sizes(), p.options()) * magnitude;
}

struct Case {
  torch::ScalarType dtype;
  double grad_magnitude;  // large: clipping active
};

class FusedAdamW : public ::testing::TestWithParam<Case> {};

TEST_P(FusedAdamW, MatchesTorchAdamWWithClipping) {
  const Case c = GetParam();
  auto a = make_params(c.dtype), b = make_params(c.dtype);
  auto opt_a = make_opt(a), opt_b = make_opt(b);
  ASSERT_TRUE(fused_adamw_applies(*opt_b));
  const double max_norm = 1.0;
  for (int step = 0; step < 6; ++step) {
    set_grads(a, step, c.grad_magnitude);
    set_grads(b, step, c.grad_magnitude);
    const double norm_a = torch::nn::utils::clip_grad_norm_(a, max_norm);
    opt_a->step();
    opt_a->zero_grad();
    const double norm_b = grad_global_norm(b);
    EXPECT_NEAR(norm_a, norm_b, 1e-5 * norm_a);
    fused_adamw_step(*opt_b, std::min(1.0, max_norm / (norm_b + 1e-6)));
    for (auto& p : b) EXPECT_EQ(p.grad().abs().sum().item<double>(), 0.0);  // zeroed in the same pass
  }
  const double tol = c.dtype == torch::kDouble ? 1e-12 : 2e-6;
  for (size_t i = 0; i < a.size(); ++i) {
    EXPECT_LT((a[i] - b[i]).abs().max().item<double>(), tol) << "parameter " << i;
    auto& sa = static_cast<torch::optim::AdamWParamState&>(
        *opt_a->state().at(adamw_state_key(a[i])));
    auto& sb = static_cast<torch::optim::AdamWParamState&>(
        *opt_b->state().at(adamw_state_key(b[i])));
    EXPECT_EQ(sa.step(), sb.step());
    EXPECT_LT((sa.exp_avg() - sb.exp_avg()).abs().max().item<double>(), tol);
    EXPECT_LT((sa.exp_avg_sq() - sb.exp_avg_sq()).abs().max().item<double>(), tol);
  }
}

INSTANTIATE_TEST_SUITE_P(Cases, FusedAdamW,
                         ::testing::Values(Case{torch::kDouble, 0.01}, Case{torch::kDouble, 10.0},
                                           Case{torch::kFloat, 0.01}, Case{torch::kFloat, 10.0}),
                         [](const ::testing::TestParamInfo<Case>& i) {
                           return std::string(i.param.dtype == torch::kDouble ? "float64" : "float32") +
                                  (i.param.grad_magnitude > 1 ? "_clipped" : "_unclipped");
                         });

TEST(FusedAdamW, StateRoundTripsThroughTorchSave) {
  auto a = make_params(torch::kFloat);
  auto opt = make_opt(a);
  set_grads(a, 0, 1.0);
  fused_adamw_step(*opt, 1.0);
  const std::string path = (std::filesystem::temp_directory_path() / ("pb_adamw_" + std::to_string(::getpid()) + ".pt")).string();
  torch::save(*opt, path);
  auto b = make_params(torch::kFloat);
  auto opt2 = make_opt(b);
  torch::load(*opt2, path);
  std::filesystem::remove(path);
  for (size_t i = 0; i < a.size(); ++i) {
    auto& s1 = static_cast<torch::optim::AdamWParamState&>(*opt->state().at(adamw_state_key(a[i])));
    auto& s2 = static_cast<torch::optim::AdamWParamState&>(*opt2->state().at(adamw_state_key(b[i])));
    EXPECT_EQ(s2.step(), 1);
    EXPECT_TRUE(s1.exp_avg().equal(s2.exp_avg()));
    EXPECT_TRUE(s1.exp_avg_sq().equal(s2.exp_avg_sq()));
  }
}

TEST(FusedAdamW, DoesNotApplyToAmsgrad) {
  auto a = make_params(torch::kFloat);
  torch::optim::AdamW opt(a, torch::optim::AdamWOptions(1e-3).amsgrad(true));
  EXPECT_FALSE(fused_adamw_applies(opt));
}

TEST(FusedAdamW, UsesTheStateTorchAdamWCreated) {  // one state per parameter, whoever stepped first
  auto a = make_params(torch::kFloat);
  auto opt = make_opt(a);
  set_grads(a, 0, 1.0);
  opt->step();
  set_grads(a, 1, 1.0);
  fused_adamw_step(*opt, 1.0);
  EXPECT_EQ(opt->state().size(), a.size());
  for (auto& p : a)
    EXPECT_EQ(static_cast<torch::optim::AdamWParamState&>(*opt->state().at(adamw_state_key(p))).step(), 2);
}

}  // namespace
}  // namespace packbench::train
