// Fused gradient norm and AdamW update loops (see the header).
#include "trainers/adamw_fused.h"

#include <ATen/Parallel.h>

#include <cmath>
#include <sstream>

namespace packbench::train {
namespace {

bool fast(const torch::Tensor& t) {
  return t.device().is_cpu() && t.is_contiguous() && (t.scalar_type() == torch::kFloat || t.scalar_type() == torch::kDouble);
}

constexpr int64_t kGrain = 1 << 14;

template <typename T>
void adamw_range(T* p, T* g, T* m, T* v, int64_t begin, int64_t end, T scale, T decay, T b1, T b2, T inv_sqrt_bc2,
                 T eps, T step_size) {
  const T one_b1 = T(1) - b1, one_b2 = T(1) - b2;
  for (int64_t i = begin; i < end; ++i) {
    const T grad = g[i] * scale;
    g[i] = T(0);
    const T mi = m[i] * b1 + one_b1 * grad;
    const T vi = v[i] * b2 + one_b2 * (grad * grad);
    m[i] = mi;
    v[i] = vi;
    const T denom = std::sqrt(vi) * inv_sqrt_bc2 + eps;
    p[i] = p[i] * decay - step_size * (mi / denom);
  }
}

}  // namespace

namespace {
// A template, so that only the branch of this LibTorch's key type is compiled.
template <typename Key>
Key state_key_of(const torch::Tensor& param) {
  if constexpr (std::is_same_v<Key, std::string>) {
    std::ostringstream key;  // what c10::guts::to_string(p.unsafeGetTensorImpl()) writes
    key << param.unsafeGetTensorImpl();
    return key.str();
  } else {
    return param.unsafeGetTensorImpl();
  }
}
}  // namespace

OptimizerStateKey adamw_state_key(const torch::Tensor& param) { return state_key_of<OptimizerStateKey>(param); }

bool fused_adamw_applies(torch::optim::AdamW& optimizer) {
  for (auto& group : optimizer.param_groups()) {
    if (static_cast<torch::optim::AdamWOptions&>(group.options()).amsgrad()) return false;
    for (auto& p : group.params())
      if (!fast(p)) return false;
  }
  return true;
}

double grad_global_norm(const std::vector<torch::Tensor>& params) {
  double total = 0.0;
  for (const auto& p : params) {
    const torch::Tensor& g = p.grad();
    if (!g.defined()) continue;
    if (!fast(g)) {
      total += g.to(torch::kDouble).pow(2).sum().item<double>();
      continue;
    }
    AT_DISPATCH_FLOATING_TYPES(g.scalar_type(), "grad_global_norm", [&] {
      const scalar_t* d = g.data_ptr<scalar_t>();
      total += at::parallel_reduce(
          0, g.numel(), kGrain, 0.0,
          [&](int64_t b, int64_t e, double acc) {
            double s = 0.0;  // per range in float64: the norm of millions of squares
            for (int64_t i = b; i < e; ++i) s += static_cast<double>(d[i]) * static_cast<double>(d[i]);
            return acc + s;
          },
          [](double a, double b) { return a + b; });
    });
  }
  return std::sqrt(total);
}

void adamw_update(torch::Tensor p, torch::Tensor g, torch::Tensor m, torch::Tensor v, const AdamWStep& s) {
  torch::NoGradGuard no_grad;
  const double bc1 = 1.0 - std::pow(s.beta1, static_cast<double>(s.step));
  const double bc2 = 1.0 - std::pow(s.beta2, static_cast<double>(s.step));
  const double decay = 1.0 - s.lr * s.weight_decay;
  const double step_size = s.lr / bc1;
  if (fast(p) && fast(g) && fast(m) && fast(v) && p.scalar_type() == g.scalar_type()) {
    AT_DISPATCH_FLOATING_TYPES(p.scalar_type(), "adamw_update", [&] {
      scalar_t* pp = p.data_ptr<scalar_t>();
      scalar_t* gp = g.data_ptr<scalar_t>();
      scalar_t* mp = m.data_ptr<scalar_t>();
      scalar_t* vp = v.data_ptr<scalar_t>();
      at::parallel_for(0, p.numel(), kGrain, [&](int64_t b, int64_t e) {
        adamw_range<scalar_t>(pp, gp, mp, vp, b, e, static_cast<scalar_t>(s.grad_scale), static_cast<scalar_t>(decay),
                              static_cast<scalar_t>(s.beta1), static_cast<scalar_t>(s.beta2),
                              static_cast<scalar_t>(1.0 / std::sqrt(bc2)), static_cast<scalar_t>(s.eps),
                              static_cast<scalar_t>(step_size));
      });
    });
    return;
  }
  // Other devices: the same formula in tensor operations.
  torch::Tensor grad = g * s.grad_scale;
  m.mul_(s.beta1).add_(grad, 1.0 - s.beta1);
  v.mul_(s.beta2).addcmul_(grad, grad, 1.0 - s.beta2);
  p.mul_(decay).addcdiv_(m, v.sqrt().mul_(1.0 / std::sqrt(bc2)).add_(s.eps), -step_size);
  g.zero_();
}

void fused_adamw_step(torch::optim::AdamW& optimizer, double grad_scale) {
  torch::NoGradGuard no_grad;
  auto& states = optimizer.state();
  for (auto& group : optimizer.param_groups()) {
    auto& o = static_cast<torch::optim::AdamWOptions&>(group.options());
    for (auto& p : group.params()) {
      if (!p.grad().defined()) continue;
      const OptimizerStateKey key = adamw_state_key(p);
      auto it = states.find(key);
      if (it == states.end()) {
        auto st = std::make_unique<torch::optim::AdamWParamState>();
        st->step(0);
        st->exp_avg(torch::zeros_like(p, torch::MemoryFormat::Preserve));
        st->exp_avg_sq(torch::zeros_like(p, torch::MemoryFormat::Preserve));
        it = states.emplace(key, std::move(st)).first;
      }
      auto& st = static_cast<torch::optim::AdamWParamState&>(*it->second);
      st.step(st.step() + 1);
      torch::Tensor g = p.grad();
      torch::Tensor m = st.exp_avg(), v = st.exp_avg_sq();
      TORCH_CHECK(g.is_contiguous() && m.is_contiguous() && v.is_contiguous(), "fused AdamW needs contiguous state");
      AdamWStep s;
      s.lr = o.lr();
      s.weight_decay = o.weight_decay();
      s.beta1 = std::get<0>(o.betas());
      s.beta2 = std::get<1>(o.betas());
      s.eps = o.eps();
      s.grad_scale = grad_scale;
      s.step = st.step();
      adamw_update(p, g, m, v, s);
    }
  }
}

}  // namespace packbench::train
