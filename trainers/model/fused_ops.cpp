// RMSNorm, rotary embedding and SwiGLU: one pass forward, one pass backward on the CPU.
//
// Backward formulas (r = 1/sqrt(mean(x^2) + eps), xh = x r, D = row length):
//   RMSNorm  y = w xh:            dw = sum_rows dy xh;  dx = r (dy w - xh mean(dy w xh))
//   RoPE     y_i = x_i c_i + rot(x)_i s_i, rot(x) = (-x2, x1):
//            dx_j = dy_j c_j + dy_{j+h} s_{j+h} (j < h);  dx_j = dy_j c_j - dy_{j-h} s_{j-h} (j >= h)
//   SwiGLU   y = g sig(g) u:      du = dy g sig(g);  dg = dy u sig(g) (1 + g (1 - sig(g)))
#include "trainers/model/fused_ops.h"

#include <ATen/Parallel.h>

#include <cmath>
#include <vector>

namespace packbench::train {
namespace {

using torch::Tensor;
using torch::autograd::AutogradContext;
using torch::autograd::variable_list;

bool fast_path(const Tensor& t) {
  return t.device().is_cpu() && (t.scalar_type() == torch::kFloat || t.scalar_type() == torch::kDouble);
}


// ---------------------------------------------------------------------------------------------
// RMSNorm

template <typename T>
void rms_forward_rows(const T* x, const T* w, T* y, T* rstd, int64_t begin, int64_t end, int64_t D, double eps) {
  for (int64_t n = begin; n < end; ++n) {
    const T* xr = x + n * D;
    T* yr = y + n * D;
    T ss = 0;
    for (int64_t i = 0; i < D; ++i) ss += xr[i] * xr[i];
    const T r = static_cast<T>(1.0 / std::sqrt(static_cast<double>(ss) / static_cast<double>(D) + eps));
    rstd[n] = r;
    for (int64_t i = 0; i < D; ++i) yr[i] = w[i] * (xr[i] * r);
  }
}

template <typename T>
void rms_backward_rows(const T* x, const T* w, const T* rstd, const T* dy, T* dx, T* dw_partial, int64_t begin,
                       int64_t end, int64_t D) {
  for (int64_t n = begin; n < end; ++n) {
    const T* xr = x + n * D;
    const T* dyr = dy + n * D;
    T* dxr = dx + n * D;
    const T r = rstd[n];
    T dot = 0;  // sum(dy w xh)
    for (int64_t i = 0; i < D; ++i) {
      const T xh = xr[i] * r;
      dot += dyr[i] * w[i] * xh;
      dw_partial[i] += dyr[i] * xh;
    }
    const T mean = dot / static_cast<T>(D);
    for (int64_t i = 0; i < D; ++i) dxr[i] = r * (dyr[i] * w[i] - xr[i] * r * mean);
  }
}

class RMSNormFunction : public torch::autograd::Function<RMSNormFunction> {
 public:
  static Tensor forward(AutogradContext* ctx, const Tensor& x_in, const Tensor& w, double eps) {
    Tensor x = x_in.contiguous();
    const int64_t D = x.size(-1), N = x.numel() / D;
    Tensor y = torch::empty_like(x);
    Tensor rstd = torch::empty({N}, x.options());
    AT_DISPATCH_FLOATING_TYPES(x.scalar_type(), "rms_norm_forward", [&] {
      const scalar_t* xp = x.data_ptr<scalar_t>();
      const scalar_t* wp = w.contiguous().data_ptr<scalar_t>();
      scalar_t* yp = y.data_ptr<scalar_t>();
      scalar_t* rp = rstd.data_ptr<scalar_t>();
      at::parallel_for(0, N, 16, [&](int64_t b, int64_t e) { rms_forward_rows(xp, wp, yp, rp, b, e, D, eps); });
    });
    ctx->save_for_backward({x, w, rstd});
    return y;
  }
  static variable_list backward(AutogradContext* ctx, variable_list grads) {
    auto saved = ctx->get_saved_variables();
    const Tensor x = saved[0], w = saved[1].contiguous(), rstd = saved[2];
    Tensor dy = grads[0].contiguous();
    const int64_t D = x.size(-1), N = x.numel() / D;
    Tensor dx = torch::empty_like(x);
    const int threads = at::get_num_threads();
    Tensor partial = torch::zeros({threads, D}, x.options());
    AT_DISPATCH_FLOATING_TYPES(x.scalar_type(), "rms_norm_backward", [&] {
      const scalar_t* xp = x.data_ptr<scalar_t>();
      const scalar_t* wp = w.data_ptr<scalar_t>();
      const scalar_t* rp = rstd.data_ptr<scalar_t>();
      const scalar_t* dyp = dy.data_ptr<scalar_t>();
      scalar_t* dxp = dx.data_ptr<scalar_t>();
      scalar_t* pp = partial.data_ptr<scalar_t>();
      at::parallel_for(0, N, 16, [&](int64_t b, int64_t e) {
        rms_backward_rows(xp, wp, rp, dyp, dxp, pp + at::get_thread_num() * D, b, e, D);
      });
    });
    return {dx, partial.sum(0), Tensor()};
  }
};

// ---------------------------------------------------------------------------------------------
// Rotary embedding: x [B,T,H,d] in, y [B,H,T,d] out.

template <typename T>
void rope_forward_rows(const T* x, const T* cs, const T* sn, T* y, int64_t begin, int64_t end, int64_t Tn, int64_t H,
                       int64_t d) {
  const int64_t h2 = d / 2;
  for (int64_t bt = begin; bt < end; ++bt) {  // one (row, position): all heads
    const int64_t b = bt / Tn, t = bt % Tn;
    const T* c = cs + bt * d;
    const T* s = sn + bt * d;
    for (int64_t h = 0; h < H; ++h) {
      const T* xr = x + (bt * H + h) * d;
      T* yr = y + ((b * H + h) * Tn + t) * d;
      for (int64_t i = 0; i < h2; ++i) yr[i] = xr[i] * c[i] - xr[i + h2] * s[i];
      for (int64_t i = h2; i < d; ++i) yr[i] = xr[i] * c[i] + xr[i - h2] * s[i];
    }
  }
}

template <typename T>
void rope_backward_rows(const T* dy, const T* cs, const T* sn, T* dx, int64_t begin, int64_t end, int64_t Tn, int64_t H,
                        int64_t d) {
  const int64_t h2 = d / 2;
  for (int64_t bt = begin; bt < end; ++bt) {
    const int64_t b = bt / Tn, t = bt % Tn;
    const T* c = cs + bt * d;
    const T* s = sn + bt * d;
    for (int64_t h = 0; h < H; ++h) {
      const T* g = dy + ((b * H + h) * Tn + t) * d;
      T* dr = dx + (bt * H + h) * d;
      for (int64_t j = 0; j < h2; ++j) dr[j] = g[j] * c[j] + g[j + h2] * s[j + h2];
      for (int64_t j = h2; j < d; ++j) dr[j] = g[j] * c[j] - g[j - h2] * s[j - h2];
    }
  }
}

class RopeFunction : public torch::autograd::Function<RopeFunction> {
 public:
  static Tensor forward(AutogradContext* ctx, const Tensor& x_in, const Tensor& cos_in, const Tensor& sin_in,
                        int64_t heads) {
    Tensor x = x_in.contiguous();
    const int64_t B = x.size(0), Tn = x.size(1), d = x.size(2) / heads;
    Tensor cs = cos_in.to(x.scalar_type()).contiguous(), sn = sin_in.to(x.scalar_type()).contiguous();
    Tensor y = torch::empty({B, heads, Tn, d}, x.options());
    AT_DISPATCH_FLOATING_TYPES(x.scalar_type(), "rope_forward", [&] {
      const scalar_t* xp = x.data_ptr<scalar_t>();
      const scalar_t* cp = cs.data_ptr<scalar_t>();
      const scalar_t* sp = sn.data_ptr<scalar_t>();
      scalar_t* yp = y.data_ptr<scalar_t>();
      at::parallel_for(0, B * Tn, 8, [&](int64_t b, int64_t e) { rope_forward_rows(xp, cp, sp, yp, b, e, Tn, heads, d); });
    });
    ctx->saved_data["cos"] = cs;
    ctx->saved_data["sin"] = sn;
    ctx->saved_data["heads"] = heads;
    return y;
  }
  static variable_list backward(AutogradContext* ctx, variable_list grads) {
    const Tensor cs = ctx->saved_data["cos"].toTensor(), sn = ctx->saved_data["sin"].toTensor();
    const int64_t heads = ctx->saved_data["heads"].toInt();
    Tensor dy = grads[0].contiguous();
    const int64_t B = dy.size(0), Tn = dy.size(2), d = dy.size(3);
    Tensor dx = torch::empty({B, Tn, heads * d}, dy.options());
    AT_DISPATCH_FLOATING_TYPES(dy.scalar_type(), "rope_backward", [&] {
      const scalar_t* gp = dy.data_ptr<scalar_t>();
      const scalar_t* cp = cs.data_ptr<scalar_t>();
      const scalar_t* sp = sn.data_ptr<scalar_t>();
      scalar_t* dp = dx.data_ptr<scalar_t>();
      at::parallel_for(0, B * Tn, 8, [&](int64_t b, int64_t e) { rope_backward_rows(gp, cp, sp, dp, b, e, Tn, heads, d); });
    });
    return {dx, Tensor(), Tensor(), Tensor()};
  }
};

// ---------------------------------------------------------------------------------------------
// SwiGLU

// sig = sigmoid(g) comes from ATen's vectorised kernel (a scalar exp here would be the slowest
// part); the loops only multiply.
template <typename T>
void swiglu_forward(const T* g, const T* sig, const T* u, T* y, int64_t begin, int64_t end) {
  for (int64_t i = begin; i < end; ++i) y[i] = g[i] * sig[i] * u[i];
}

template <typename T>
void swiglu_backward(const T* g, const T* sig, const T* u, const T* dy, T* dg, T* du, int64_t begin, int64_t end) {
  for (int64_t i = begin; i < end; ++i) {
    du[i] = dy[i] * g[i] * sig[i];
    dg[i] = dy[i] * u[i] * sig[i] * (T(1) + g[i] * (T(1) - sig[i]));
  }
}

class SwiGLUFunction : public torch::autograd::Function<SwiGLUFunction> {
 public:
  static Tensor forward(AutogradContext* ctx, const Tensor& g_in, const Tensor& u_in) {
    Tensor g = g_in.contiguous(), u = u_in.contiguous();
    Tensor sig = torch::sigmoid(g);
    Tensor y = torch::empty_like(g);
    AT_DISPATCH_FLOATING_TYPES(g.scalar_type(), "swiglu_forward", [&] {
      const scalar_t* gp = g.data_ptr<scalar_t>();
      const scalar_t* sp = sig.data_ptr<scalar_t>();
      const scalar_t* up = u.data_ptr<scalar_t>();
      scalar_t* yp = y.data_ptr<scalar_t>();
      at::parallel_for(0, g.numel(), 4096, [&](int64_t b, int64_t e) { swiglu_forward(gp, sp, up, yp, b, e); });
    });
    ctx->save_for_backward({g, sig, u});
    return y;
  }
  static variable_list backward(AutogradContext* ctx, variable_list grads) {
    auto saved = ctx->get_saved_variables();
    const Tensor g = saved[0], sig = saved[1], u = saved[2];
    Tensor dy = grads[0].contiguous();
    Tensor dg = torch::empty_like(g), du = torch::empty_like(u);
    AT_DISPATCH_FLOATING_TYPES(g.scalar_type(), "swiglu_backward", [&] {
      const scalar_t* gp = g.data_ptr<scalar_t>();
      const scalar_t* sp = sig.data_ptr<scalar_t>();
      const scalar_t* up = u.data_ptr<scalar_t>();
      const scalar_t* dyp = dy.data_ptr<scalar_t>();
      scalar_t* dgp = dg.data_ptr<scalar_t>();
      scalar_t* dup = du.data_ptr<scalar_t>();
      at::parallel_for(0, g.numel(), 4096, [&](int64_t b, int64_t e) { swiglu_backward(gp, sp, up, dyp, dgp, dup, b, e); });
    });
    return {dg, du};
  }
};

}  // namespace

// ---------------------------------------------------------------------------------------------

torch::ScalarType accumulate_dtype(torch::ScalarType t) { return t == torch::kDouble ? torch::kDouble : torch::kFloat; }

Tensor reference_rms_norm(const Tensor& x, const Tensor& weight, double eps) {
  const auto dt = x.scalar_type();
  Tensor h = x.to(accumulate_dtype(dt));
  Tensor var = h.pow(2).mean(-1, /*keepdim=*/true);
  h = h * torch::rsqrt(var + eps);
  return weight * h.to(dt);
}

Tensor reference_rope(const Tensor& x, const Tensor& cos, const Tensor& sin, int64_t heads) {
  const int64_t B = x.size(0), T = x.size(1), d = x.size(2) / heads;
  Tensor xh = x.view({B, T, heads, d}).transpose(1, 2);  // [B,H,T,d]
  Tensor c = cos.to(x.scalar_type()).unsqueeze(1), s = sin.to(x.scalar_type()).unsqueeze(1);
  const int64_t half = d / 2;
  Tensor rot = torch::cat({-xh.narrow(-1, half, half), xh.narrow(-1, 0, half)}, -1);
  return (xh * c + rot * s).contiguous();
}

Tensor reference_swiglu(const Tensor& gate, const Tensor& up) { return torch::silu(gate) * up; }

Tensor fused_rms_norm(const Tensor& x, const Tensor& weight, double eps) {
  if (!fast_path(x) || weight.scalar_type() != x.scalar_type()) return reference_rms_norm(x, weight, eps);
  return RMSNormFunction::apply(x, weight, eps);
}

Tensor fused_rope(const Tensor& x, const Tensor& cos, const Tensor& sin, int64_t heads) {
  if (!fast_path(x)) return reference_rope(x, cos, sin, heads);
  return RopeFunction::apply(x, cos, sin, heads);
}

Tensor fused_swiglu(const Tensor& gate, const Tensor& up) {
  if (!fast_path(gate) || up.scalar_type() != gate.scalar_type()) return reference_swiglu(gate, up);
  return SwiGLUFunction::apply(gate, up);
}

}  // namespace packbench::train
