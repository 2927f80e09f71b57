// The single-pass RMSNorm, rotary and SwiGLU kernels against the same maths in ATen ops: outputs
// and every gradient, in float64 (exact to rounding) and float32.
#include <gtest/gtest.h>
#include <torch/torch.h>

#include "trainers/model/fused_ops.h"

namespace packbench::train {
namespace {

using torch::Tensor;

double max_diff(const Tensor& a, const Tensor& b) { return (a.to(torch::kDouble) - b.to(torch::kDouble)).abs().max().item<double>(); }

// Runs f and g on separate leaf copies of `inputs`, backpropagates the same random cotangent and
// compares outputs and the gradients of the inputs that require them.
template <typename F, typename G>
void check(F f, G g, std::vector<Tensor> inputs, std::vector<bool> grad, double tol) {
  std::vector<Tensor> a, b;
  for (size_t i = 0; i < inputs.size(); ++i) {
    a.push_back(inputs[i].detach().clone().requires_grad_(grad[i]));
    b.push_back(inputs[i].detach().clone().requires_grad_(grad[i]));
  }
  Tensor ya = f(a), yb = g(b);
  ASSERT_EQ(ya.sizes(), yb.sizes());
  EXPECT_LT(max_diff(ya, yb), tol);
  Tensor cot = torch::randn(yb.sizes(), yb.options());
  (ya * cot).sum().backward();
  (yb * cot).sum().backward();
  for (size_t i = 0; i < inputs.size(); ++i) {
    if (!grad[i]) continue;
    ASSERT_TRUE(a[i].grad().defined()) << "input " << i;
    EXPECT_LT(max_diff(a[i].grad(), b[i].grad()), tol) << "gradient of input " << i;
    EXPECT_GT(b[i].grad().abs().sum().item<double>(), 1e-3) << "input " << i;
  }
}

class Fused : public ::testing::TestWithParam<torch::ScalarType> {
 protected:
  double tol() const { return GetParam() == torch::kDouble ? 1e-12 : 2e-5; }
  torch::TensorOptions o() const { return torch::TensorOptions().dtype(GetParam()); }
};

TEST_P(Fused, RmsNorm) {
  torch::manual_seed(1);
  check([](auto& v) { return fused_rms_norm(v[0], v[1], 1e-5); },
        [](auto& v) { return reference_rms_norm(v[0], v[1], 1e-5); },
        {torch::randn({3, 7, 40}, o()) * 3, torch::randn({40}, o())}, {true, true}, tol());
}

TEST_P(Fused, RmsNormOfAStridedInput) {
  torch::manual_seed(2);
  Tensor x = torch::randn({40, 6}, o()).t();  // [6, 40], not contiguous
  check([](auto& v) { return fused_rms_norm(v[0].t(), v[1], 1e-6); },
        [](auto& v) { return reference_rms_norm(v[0].t(), v[1], 1e-6); }, {x.t().contiguous(), torch::rand({40}, o())},
        {true, true}, tol());
}

TEST_P(Fused, Rope) {
  torch::manual_seed(3);
  const int64_t B = 2, T = 11, H = 3, d = 8;
  Tensor ang = torch::rand({B, T, d / 2}, o()) * 6;
  ang = torch::cat({ang, ang}, -1);
  Tensor c = ang.cos(), s = ang.sin();
  check([&](auto& v) { return fused_rope(v[0], c, s, H); }, [&](auto& v) { return reference_rope(v[0], c, s, H); },
        {torch::randn({B, T, H * d}, o())}, {true}, tol());
}

TEST_P(Fused, SwiGlu) {
  torch::manual_seed(4);
  check([](auto& v) { return fused_swiglu(v[0], v[1]); }, [](auto& v) { return reference_swiglu(v[0], v[1]); },
        {torch::randn({5, 9, 33}, o()) * 4, torch::randn({5, 9, 33}, o())}, {true, true}, tol());
}

INSTANTIATE_TEST_SUITE_P(Dtypes, Fused, ::testing::Values(torch::kDouble, torch::kFloat),
                         [](const ::testing::TestParamInfo<torch::ScalarType>& i) {
                           return i.param == torch::kDouble ? std::string("float64") : std::string("float32");
                         });

TEST(FusedRope, RotatesPairsOfTheTwoHalves) {  // a hand-computed case: d = 2, angle 90 degrees
  Tensor x = torch::tensor({1.0, 2.0}, torch::kDouble).view({1, 1, 2});
  Tensor c = torch::zeros({1, 1, 2}, torch::kDouble), s = torch::ones({1, 1, 2}, torch::kDouble);
  Tensor y = fused_rope(x, c, s, 1).flatten();
  EXPECT_DOUBLE_EQ(y[0].item<double>(), -2.0);  // x1 c - x2 s
  EXPECT_DOUBLE_EQ(y[1].item<double>(), 1.0);   // x2 c + x1 s
}

}  // namespace
}  // namespace packbench::train
