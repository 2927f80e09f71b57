// The chunked causal attention kernel against plain masked softmax attention written out in
// float64: outputs and the gradients of q, k and v, for grouped heads, ragged last chunks and
// strided inputs.
#include <gtest/gtest.h>
#include <torch/torch.h>

#include <cmath>
#include <cstdlib>
#include <limits>
#include <string>

#include "trainers/model/attention_causal.h"

namespace packbench::train {
namespace {

using torch::Tensor;

// softmax(q k^T / sqrt(d) + causal) v with K/V repeated to every query head; [B,T,H*d].
Tensor reference(const Tensor& q, const Tensor& k, const Tensor& v) {
  const int64_t B = q.size(0), H = q.size(1), T = q.size(2), d = q.size(3), rep = H / k.size(1);
  Tensor ke = k.repeat_interleave(rep, 1), ve = v.repeat_interleave(rep, 1);
  Tensor s = torch::matmul(q, ke.transpose(-1, -2)) / std::sqrt(double(d));
  Tensor mask = torch::ones({T, T}, torch::kBool).triu(1);
  s = s.masked_fill(mask, -std::numeric_limits<double>::infinity());
  return torch::matmul(torch::softmax(s, -1), ve).transpose(1, 2).reshape({B, T, H * d});
}

// Runs the kernel (chunk length `chunk`, 0 = default) and `want_fn` on separate leaf copies of
// q, k, v, backpropagates one random cotangent through both, and compares outputs and gradients.
// Returns the kernel's gradients of (q, k, v).
template <typename Want>
std::vector<Tensor> expect_matches(const Tensor& q, const Tensor& k, const Tensor& v, const Tensor& valid, int64_t chunk,
                                   Want want_fn) {
  if (chunk > 0) ::setenv("PACKBENCH_ATTENTION_CHUNK", std::to_string(chunk).c_str(), 1);
  std::vector<Tensor> a, b;
  for (const Tensor& t : {q, k, v}) {
    a.push_back(t.detach().clone().requires_grad_(true));
    b.push_back(t.detach().clone().requires_grad_(true));
  }
  Tensor got = causal_attention(a[0], a[1], a[2], valid);
  ::unsetenv("PACKBENCH_ATTENTION_CHUNK");
  Tensor want = want_fn(b[0], b[1], b[2]);
  EXPECT_EQ(got.sizes(), want.sizes());
  EXPECT_FALSE(got.isnan().any().item<bool>());
  EXPECT_LT((got - want).abs().max().item<double>(), 1e-12);
  Tensor g = torch::randn(want.sizes(), want.options());
  (got * g).sum().backward();
  (want * g).sum().backward();
  const char* names[] = {"q", "k", "v"};
  for (int i = 0; i < 3; ++i)
    EXPECT_LT((a[i].grad() - b[i].grad()).abs().max().item<double>(), 1e-12) << "gradient of " << names[i];
  return {a[0].grad(), a[1].grad(), a[2].grad()};
}

struct Case {
  int64_t B, H, KV, T, d, chunk;  // chunk 0: the kernel's default
  bool strided;
};

class CausalAttention : public ::testing::TestWithParam<Case> {};

TEST_P(CausalAttention, MatchesMaskedSoftmaxForwardAndBackward) {
  const Case c = GetParam();
  torch::manual_seed(7);
  auto o = torch::TensorOptions().dtype(torch::kDouble);
  Tensor q, k, v;
  if (c.strided) {  // [B,T,H,d] projections viewed as [B,H,T,d], as the model produces them
    q = torch::randn({c.B, c.T, c.H, c.d}, o).transpose(1, 2);
    k = torch::randn({c.B, c.T, c.KV, c.d}, o).transpose(1, 2);
    v = torch::randn({c.B, c.T, c.KV, c.d}, o).transpose(1, 2);
  } else {
    q = torch::randn({c.B, c.H, c.T, c.d}, o);
    k = torch::randn({c.B, c.KV, c.T, c.d}, o);
    v = torch::randn({c.B, c.KV, c.T, c.d}, o);
  }
  const auto grads = expect_matches(q, k, v, Tensor(), c.chunk, reference);
  // The gradients are not trivially zero (k's is for a single token: softmax over one key).
  EXPECT_GT(grads[2].abs().sum().item<double>(), 1.0);
  if (c.T > 1) EXPECT_GT(grads[1].abs().sum().item<double>(), 1e-3);
}

INSTANTIATE_TEST_SUITE_P(Shapes, CausalAttention,
                         ::testing::Values(Case{2, 4, 2, 37, 8, 8, false},    // ragged last chunk, 2 heads per KV
                                           Case{1, 4, 4, 16, 4, 16, false},   // one chunk, no grouping
                                           Case{2, 8, 2, 29, 8, 5, true},     // strided inputs, 4 heads per KV
                                           Case{1, 2, 1, 1, 4, 0, false},     // a single token
                                           Case{1, 4, 2, 300, 8, 0, true}),
                         [](const ::testing::TestParamInfo<Case>& i) {
                           const Case& c = i.param;
                           return "B" + std::to_string(c.B) + "H" + std::to_string(c.H) + "KV" + std::to_string(c.KV) +
                                  "T" + std::to_string(c.T) + "chunk" + std::to_string(c.chunk) +
                                  (c.strided ? "strided" : "");
                         });  // default chunking (5 chunks)

// With a key mask: keys marked invalid are seen only by their own query (padded_causal_mask).
Tensor reference_masked(const Tensor& q, const Tensor& k, const Tensor& v, const Tensor& valid) {
  const int64_t B = q.size(0), H = q.size(1), T = q.size(2), d = q.size(3), rep = H / k.size(1);
  Tensor ke = k.repeat_interleave(rep, 1), ve = v.repeat_interleave(rep, 1);
  Tensor s = torch::matmul(q, ke.transpose(-1, -2)) / std::sqrt(double(d));
  Tensor causal = torch::ones({T, T}, torch::kBool).tril();
  Tensor self = torch::eye(T, torch::kBool);
  Tensor allowed = causal.unsqueeze(0) & (valid.unsqueeze(1) | self.unsqueeze(0));  // [B,T,S]
  s = s.masked_fill(allowed.unsqueeze(1).logical_not(), -std::numeric_limits<double>::infinity());
  return torch::matmul(torch::softmax(s, -1), ve).transpose(1, 2).reshape({B, T, H * d});
}

TEST(CausalAttention, KeyMaskMatchesPaddedCausalMaskForwardAndBackward) {
  torch::manual_seed(11);
  const int64_t B = 3, H = 4, KV = 2, T = 23, d = 8;
  auto o = torch::TensorOptions().dtype(torch::kDouble);
  Tensor valid = torch::ones({B, T}, torch::kBool);
  valid[0].narrow(0, 0, 9).fill_(false);   // left padding across a chunk boundary
  valid[2].narrow(0, 15, 8).fill_(false);  // right padding
  Tensor q = torch::randn({B, H, T, d}, o), k = torch::randn({B, KV, T, d}, o), v = torch::randn({B, KV, T, d}, o);
  expect_matches(q, k, v, valid, 6, [&](const Tensor& q2, const Tensor& k2, const Tensor& v2) {
    return reference_masked(q2, k2, v2, valid);
  });
  Tensor want = reference_masked(q, k, v, valid);
  // The mask matters: without it row 0's real queries would read its padding keys.
  Tensor unmasked = causal_attention(q, k, v);
  EXPECT_GT((unmasked[0] - want[0]).abs().max().item<double>(), 1e-3);
}

TEST(CausalAttentionChunk, AboutEightChunksForLongRowsAndOneForShortOnes) {
  EXPECT_EQ(causal_attention_chunk(100), 100);
  EXPECT_EQ(causal_attention_chunk(512), 64);
  EXPECT_EQ(causal_attention_chunk(4096), 512);
  EXPECT_EQ(causal_attention_chunk(300), 64);
}

TEST(CausalAttention, MatchesInFloat32) {
  torch::manual_seed(3);
  Tensor q = torch::randn({2, 4, 200, 16}), k = torch::randn({2, 2, 200, 16}), v = torch::randn({2, 2, 200, 16});
  Tensor got = causal_attention(q, k, v);
  Tensor want = reference(q.to(torch::kDouble), k.to(torch::kDouble), v.to(torch::kDouble));
  EXPECT_LT((got.to(torch::kDouble) - want).abs().max().item<double>(), 1e-5);
}

}  // namespace
}  // namespace packbench::train
