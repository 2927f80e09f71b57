// Causal grouped-query attention by query chunks, with a hand-written backward (see the header).
//
// With S = (q * scale) k^T (causal), P = softmax(S), O = P v, per chunk of queries [s, e):
//   forward:  S_c = Qs_c K_{<e}^T (+ -inf above the diagonal of its last block), P_c, O_c = P_c V_{<e}
//   backward: dV_{<e} += P_c^T dO_c;  dP_c = dO_c V_{<e}^T;  dS_c = P_c * (dP_c - rowsum(dP_c * P_c))
//             dQ_c = scale * dS_c K_{<e};  dK_{<e} += dS_c^T Qs_c
// Queries of the heads sharing one key/value head are stacked as rows of one matrix per chunk,
// so K and V are never copied per head.
#include "trainers/model/attention_causal.h"

#include <cmath>
#include <cstdlib>
#include <limits>

namespace packbench::train {
namespace {

using torch::Tensor;
using torch::autograd::AutogradContext;
using torch::autograd::variable_list;

bool low_precision(torch::ScalarType t) { return t == torch::kBFloat16 || t == torch::kHalf; }

// [len, len] additive mask: 0 on and below the diagonal, -inf above.
Tensor upper_minus_inf(int64_t len, const torch::TensorOptions& o) {
  return torch::full({len, len}, -std::numeric_limits<double>::infinity(), o).triu(1);
}

struct Chunk {
  int64_t s, len;
};

std::vector<Chunk> chunks_of(int64_t T, int64_t c) {
  std::vector<Chunk> out;
  for (int64_t s = 0; s < T; s += c) out.push_back({s, std::min(c, T - s)});
  return out;
}

class CausalAttentionFunction : public torch::autograd::Function<CausalAttentionFunction> {
 public:
  static Tensor forward(AutogradContext* ctx, const Tensor& q, const Tensor& k, const Tensor& v, const Tensor& key_valid) {
    const int64_t B = q.size(0), H = q.size(1), T = q.size(2), d = q.size(3), KV = k.size(1), rep = H / KV;
    const double scale = 1.0 / std::sqrt(static_cast<double>(d));
    const auto dtype = q.scalar_type();
    Tensor qg = q.reshape({B, KV, rep, T, d});
    Tensor kk = k.reshape({B * KV, T, d}), vv = v.reshape({B * KV, T, d});
    Tensor out = torch::empty({B, T, KV, rep, d}, q.options());
    c10::List<Tensor> saved_q, saved_p;
    Tensor tri;
    // Keys that may not be attended to: -inf, added to every query's scores (not the diagonal).
    Tensor key_bias;
    if (key_valid.numel() > 0) {
      key_bias = torch::zeros({B, T}, q.options().dtype(low_precision(dtype) ? torch::kFloat : dtype))
                     .masked_fill(key_valid.to(q.device(), torch::kBool).logical_not(),
                                  -std::numeric_limits<double>::infinity());
    }
    const int64_t chunk = causal_attention_chunk(T);
    for (const Chunk& c : chunks_of(T, chunk)) {
      const int64_t e = c.s + c.len;
      Tensor qs = qg.narrow(3, c.s, c.len).mul(scale).reshape({B * KV, rep * c.len, d});
      Tensor kc = kk.narrow(1, 0, e), vc = vv.narrow(1, 0, e);
      Tensor scores = torch::bmm(qs, kc.transpose(1, 2));  // [B*KV, rep*len, e]
      if (!tri.defined() || tri.size(0) != c.len) tri = upper_minus_inf(c.len, scores.options());
      scores.view({B * KV, rep, c.len, e}).narrow(3, c.s, c.len).add_(tri);
      if (key_bias.defined()) {
        Tensor bias = key_bias.narrow(1, 0, e).unsqueeze(1).repeat({1, c.len, 1});  // [B,len,e]
        bias.narrow(2, c.s, c.len).diagonal(0, 1, 2).zero_();                      // each query sees itself
        scores.view({B, KV, rep, c.len, e}).add_(bias.view({B, 1, 1, c.len, e}).to(scores.scalar_type()));
      }
      Tensor p = low_precision(dtype) ? torch::softmax(scores, -1, torch::kFloat).to(dtype) : torch::softmax(scores, -1);
      Tensor o = torch::bmm(p, vc);  // [B*KV, rep*len, d]
      out.narrow(1, c.s, c.len).permute({0, 2, 3, 1, 4}).copy_(o.view({B, KV, rep, c.len, d}));
      saved_q.push_back(qs);
      saved_p.push_back(p);
    }
    ctx->saved_data["q"] = saved_q;
    ctx->saved_data["p"] = saved_p;
    ctx->saved_data["k"] = kk;
    ctx->saved_data["v"] = vv;
    ctx->saved_data["shape"] = std::vector<int64_t>{B, H, T, d, KV, chunk};
    return out.view({B, T, H * d});
  }

  static variable_list backward(AutogradContext* ctx, variable_list grads) {
    const auto shape = ctx->saved_data["shape"].toIntVector();
    const int64_t B = shape[0], H = shape[1], T = shape[2], d = shape[3], KV = shape[4], rep = H / KV;
    const double scale = 1.0 / std::sqrt(static_cast<double>(d));
    const auto saved_q = ctx->saved_data["q"].toTensorList();
    const auto saved_p = ctx->saved_data["p"].toTensorList();
    const Tensor kk = ctx->saved_data["k"].toTensor(), vv = ctx->saved_data["v"].toTensor();
    const auto dtype = kk.scalar_type();
    Tensor dout = grads[0].reshape({B, T, KV, rep, d});
    Tensor dq = torch::empty({B, KV, rep, T, d}, kk.options());
    Tensor dk = torch::zeros({B * KV, T, d}, kk.options()), dv = torch::zeros({B * KV, T, d}, kk.options());
    const auto chunks = chunks_of(T, shape[5]);
    for (size_t i = 0; i < chunks.size(); ++i) {
      const Chunk& c = chunks[i];
      const int64_t e = c.s + c.len;
      const Tensor qs = saved_q.get(i), p = saved_p.get(i);
      Tensor kc = kk.narrow(1, 0, e), vc = vv.narrow(1, 0, e);
      Tensor doc = dout.narrow(1, c.s, c.len).permute({0, 2, 3, 1, 4}).reshape({B * KV, rep * c.len, d});
      // (bmm then add: an in-place baddbmm_ on these batch-strided views runs one addmm per batch)
      dv.narrow(1, 0, e).add_(torch::bmm(p.transpose(1, 2), doc));
      Tensor dp = torch::bmm(doc, vc.transpose(1, 2));  // [B*KV, rep*len, e]
      Tensor ds = low_precision(dtype)
          ? at::_softmax_backward_data(dp.to(torch::kFloat), p.to(torch::kFloat), -1, torch::kFloat).to(dtype)
          : at::_softmax_backward_data(dp, p, -1, dtype);
      dk.narrow(1, 0, e).add_(torch::bmm(ds.transpose(1, 2), qs));
      dq.narrow(3, c.s, c.len).copy_(torch::bmm(ds, kc).view({B, KV, rep, c.len, d}));
    }
    dq.mul_(scale);
    return {dq.view({B, H, T, d}), dk.view({B, KV, T, d}), dv.view({B, KV, T, d}), Tensor()};
  }
};

}  // namespace

int64_t causal_attention_chunk(int64_t T) {
  if (const char* env = std::getenv("PACKBENCH_ATTENTION_CHUNK")) {
    const int64_t c = std::atoll(env);
    if (c > 0) return std::min(c, std::max<int64_t>(T, 1));
  }
  if (T <= 128) return std::max<int64_t>(T, 1);
  // About eight chunks: the score work is (1 + 1/chunks) / 2 of the full product.
  const int64_t c = (T / 8 + 15) / 16 * 16;
  return std::max<int64_t>(64, c);
}

torch::Tensor causal_attention(const torch::Tensor& q, const torch::Tensor& k, const torch::Tensor& v,
                               const torch::Tensor& key_valid) {
  // (an empty tensor stands for "no mask": apply() needs a defined tensor)
  return CausalAttentionFunction::apply(q, k, v,
                                        key_valid.defined() ? key_valid : torch::empty({0}, torch::kBool));
}

}  // namespace packbench::train
