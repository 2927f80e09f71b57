// LlamaForCausalLM invariants: block attention equals samples run alone, padding does not change
// real tokens, KV-cache decoding equals a full forward, checkpointing keeps gradients.
#include <gtest/gtest.h>

#include <torch/torch.h>

#include "tests/common/llama_shape.h"
#include "trainers/model/llama_model.h"

namespace packbench::train {
namespace {

using data::AttentionLayout;

LlamaConfig tiny_config(bool tied = false) {
  LlamaConfig c = packbench::testing::llama_shape(50, 32, 48, 2, 4, 2, 64);
  c.rope_theta = 10000.0;
  c.rms_norm_eps = 1e-5;
  c.initializer_range = 0.2;  // large, so attention patterns are far from uniform
  c.rope_scaling = RopeScaling{"llama3", 4.0, 1.0, 4.0, 32};
  c.tie_word_embeddings = tied;
  return c;
}

torch::Tensor arange_pos(int64_t B, int64_t T) {
  return torch::arange(T, torch::kLong).unsqueeze(0).expand({B, T}).contiguous();
}

class ModelLayouts : public ::testing::Test {
 protected:
  void SetUp() override {
    at::set_num_threads(1);
    torch::manual_seed(7);
  }
};

TEST_F(ModelLayouts, BlockLayoutEqualsEachSampleAlone) {
  LlamaForCausalLM model(tiny_config());
  model->init_weights(3);
  const std::vector<int64_t> lens = {5, 7, 4};
  const int64_t T = 16;
  torch::Tensor ids = torch::randint(0, 50, {1, T}, torch::kLong);
  torch::Tensor seg = torch::empty({1, T}, torch::kLong), pos = torch::empty({1, T}, torch::kLong);
  int64_t off = 0;
  for (size_t s = 0; s < lens.size(); ++s) {
    for (int64_t i = 0; i < lens[s]; ++i) {
      seg[0][off + i] = static_cast<int64_t>(s);
      pos[0][off + i] = i;
    }
    off += lens[s];
  }
  torch::NoGradGuard ng;
  AttentionInputs block{AttentionLayout::kBlock, pos, {}, seg};
  torch::Tensor packed = model->forward(ids, block);
  ASSERT_EQ(packed.sizes(), (std::vector<int64_t>{1, T, 50}));
  off = 0;
  double worst = 0;
  for (int64_t len : lens) {
    torch::Tensor alone = model->forward(ids.narrow(1, off, len), AttentionInputs{AttentionLayout::kCross, arange_pos(1, len)});
    worst = std::max(worst, (alone - packed.narrow(1, off, len)).abs().max().item<double>());
    off += len;
  }
  std::printf("block vs alone: max |diff| = %.3g\n", worst);
  EXPECT_LT(worst, 1e-5);
  // And the cross layout over the same row is different (the samples see each other).
  torch::Tensor cross = model->forward(ids, AttentionInputs{AttentionLayout::kCross, arange_pos(1, T)});
  EXPECT_GT((cross.narrow(1, 5, 11) - packed.narrow(1, 5, 11)).abs().max().item<double>(), 1e-3);
}

TEST_F(ModelLayouts, PaddingDoesNotChangeRealTokens) {
  LlamaForCausalLM model(tiny_config(true));
  model->init_weights(4);
  const int64_t L = 9, T = 13;
  torch::Tensor real = torch::randint(0, 50, {1, L}, torch::kLong);
  torch::NoGradGuard ng;
  torch::Tensor alone = model->forward(real, AttentionInputs{AttentionLayout::kCross, arange_pos(1, L)});
  // Row 0 right-padded, row 1 left-padded (positions count real tokens only), both with junk pad ids.
  torch::Tensor ids = torch::full({2, T}, 17, torch::kLong);
  torch::Tensor mask = torch::zeros({2, T}, torch::kLong);
  torch::Tensor pos = torch::zeros({2, T}, torch::kLong);
  ids[0].narrow(0, 0, L).copy_(real[0]);
  mask[0].narrow(0, 0, L).fill_(1);
  pos[0].copy_(torch::arange(T, torch::kLong));
  ids[1].narrow(0, T - L, L).copy_(real[0]);
  mask[1].narrow(0, T - L, L).fill_(1);
  pos[1].narrow(0, T - L, L).copy_(torch::arange(L, torch::kLong));
  torch::Tensor out = model->forward(ids, AttentionInputs{AttentionLayout::kCross, pos, mask});
  EXPECT_TRUE(torch::isfinite(out).all().item<bool>());
  const double right = (out[0].narrow(0, 0, L) - alone[0]).abs().max().item<double>();
  const double left = (out[1].narrow(0, T - L, L) - alone[0]).abs().max().item<double>();
  std::printf("padded vs alone: right %.3g left %.3g\n", right, left);
  EXPECT_LT(right, 1e-5);
  EXPECT_LT(left, 1e-5);
  // The block layout with padding gives the same real-token logits too.
  torch::Tensor seg = torch::zeros({2, T}, torch::kLong);
  torch::Tensor block = model->forward(ids, AttentionInputs{AttentionLayout::kBlock, pos, mask, seg});
  EXPECT_LT((block[0].narrow(0, 0, L) - alone[0]).abs().max().item<double>(), 1e-5);
  EXPECT_LT((block[1].narrow(0, T - L, L) - alone[0]).abs().max().item<double>(), 1e-5);
}

TEST_F(ModelLayouts, KVCacheDecodingEqualsFullForward) {
  LlamaForCausalLM model(tiny_config());
  model->init_weights(5);
  model->eval();
  torch::NoGradGuard ng;
  // Two prompts of lengths 4 and 6, left-padded to 6, then 5 decoded tokens each.
  const int64_t P = 6, N = 5;
  torch::Tensor prompt = torch::randint(0, 50, {2, P}, torch::kLong);
  torch::Tensor mask = torch::ones({2, P}, torch::kLong);
  mask[0].narrow(0, 0, 2).fill_(0);
  torch::Tensor cont = torch::randint(0, 50, {2, N}, torch::kLong);
  auto cache = KVCache::allocate(model->config(), 2, P + N, torch::kFloat, torch::kCPU);
  torch::Tensor pos = (mask.cumsum(1) - 1).clamp_min(0);
  std::vector<torch::Tensor> step_logits;
  step_logits.push_back(model->forward(prompt, AttentionInputs{AttentionLayout::kCross, pos, mask}, &cache).narrow(1, P - 1, 1));
  torch::Tensor next_pos = pos.select(1, P - 1).unsqueeze(1) + 1;
  for (int64_t s = 0; s < N; ++s) {
    torch::Tensor tok = cont.narrow(1, s, 1);
    torch::Tensor logits = model->forward(tok, AttentionInputs{AttentionLayout::kCross, next_pos, torch::ones({2, 1}, torch::kLong)}, &cache);
    step_logits.push_back(logits);
    next_pos = next_pos + 1;
  }
  EXPECT_EQ(cache.length, P + N);
  torch::Tensor incremental = torch::cat(step_logits, 1);  // [2, N+1, V]
  // Full forward of each row alone, without padding.
  double worst = 0;
  for (int64_t b = 0; b < 2; ++b) {
    const int64_t skip = b == 0 ? 2 : 0;
    torch::Tensor seq = torch::cat({prompt[b].narrow(0, skip, P - skip), cont[b]}).unsqueeze(0);
    const int64_t L = seq.size(1);
    torch::Tensor full = model->forward(seq, AttentionInputs{AttentionLayout::kCross, arange_pos(1, L)});
    torch::Tensor want = full[0].narrow(0, L - N - 1, N + 1);
    worst = std::max(worst, (incremental[b] - want).abs().max().item<double>());
  }
  std::printf("kv cache vs full: max |diff| = %.3g\n", worst);
  EXPECT_LT(worst, 1e-5);
}

TEST_F(ModelLayouts, GradientCheckpointingGivesSameGradients) {
  LlamaConfig c = tiny_config();
  LlamaForCausalLM a(c), b(c);
  a->init_weights(9);
  b->init_weights(9);
  b->set_gradient_checkpointing(true);
  a->train();
  b->train();
  torch::Tensor ids = torch::randint(0, 50, {2, 10}, torch::kLong);
  AttentionInputs attn{AttentionLayout::kCross, arange_pos(2, 10)};
  auto loss_of = [&](LlamaForCausalLM& m) {
    torch::Tensor logits = m->forward(ids, attn);
    return torch::nn::functional::cross_entropy(logits.narrow(1, 0, 9).reshape({-1, 50}), ids.narrow(1, 1, 9).reshape({-1}));
  };
  torch::Tensor la = loss_of(a), lb = loss_of(b);
  la.backward();
  lb.backward();
  EXPECT_NEAR(la.item<double>(), lb.item<double>(), 1e-6);
  auto pa = a->hf_named_parameters(), pb = b->hf_named_parameters();
  ASSERT_EQ(pa.size(), pb.size());
  for (size_t i = 0; i < pa.size(); ++i) {
    ASSERT_TRUE(pb[i].second.grad().defined()) << pb[i].first;
    EXPECT_LT((pa[i].second.grad() - pb[i].second.grad()).abs().max().item<double>(), 1e-6) << pa[i].first;
  }
}

TEST_F(ModelLayouts, HfNamesAndParameterCount) {
  LlamaConfig c = tiny_config();
  LlamaForCausalLM m(c);
  auto named = m->hf_named_parameters();
  ASSERT_FALSE(named.empty());
  EXPECT_EQ(named.front().first, "model.embed_tokens.weight");
  EXPECT_EQ(named[1].first, "model.layers.0.self_attn.q_proj.weight");
  EXPECT_EQ(named.back().first, "lm_head.weight");
  int64_t n = 0;
  for (auto& [name, p] : named) n += p.numel();
  EXPECT_EQ(n, c.num_parameters());
  c.tie_word_embeddings = true;
  LlamaForCausalLM t(c);
  auto tn = t->hf_named_parameters();
  EXPECT_EQ(tn.back().first, "model.norm.weight");
  n = 0;
  for (auto& [name, p] : tn) n += p.numel();
  EXPECT_EQ(n, c.num_parameters());
  // HF's init: norms are ones, linear weights have std ~ initializer_range.
  for (auto& [name, p] : named) {
    if (name.find("norm") != std::string::npos) EXPECT_TRUE(p.eq(1).all().item<bool>()) << name;
  }
  EXPECT_NEAR(named[1].second.std().item<double>(), c.initializer_range, 0.02);
}

}  // namespace
}  // namespace packbench::train

namespace packbench::train {
namespace {

// Central finite differences against autograd on a float64 model, for a padded cross batch and
// padded block rows: picks a few elements of every parameter.
TEST(ModelGradcheck, FiniteDifferencesMatchAutogradInFloat64) {
  at::set_num_threads(1);
  LlamaConfig c = tiny_config(false);
  c.vocab_size = 24;
  c.hidden_size = 16;
  c.intermediate_size = 20;
  LlamaForCausalLM m(c, torch::TensorOptions().dtype(torch::kDouble), true);
  m->init_weights(17);
  torch::manual_seed(3);
  const int64_t B = 2, T = 8;
  torch::Tensor ids = torch::randint(0, 24, {B, T}, torch::kLong);
  torch::Tensor mask = torch::ones({B, T}, torch::kLong);
  mask[1].narrow(0, 6, 2).fill_(0);
  torch::Tensor labels = ids.clone();
  labels.masked_fill_(mask == 0, -100);
  for (AttentionLayout layout : {AttentionLayout::kCross, AttentionLayout::kBlock}) {
    AttentionInputs attn;
    attn.layout = layout;
    attn.attention_mask = mask;
    if (layout == AttentionLayout::kBlock) {
      attn.segment_ids = torch::tensor({0, 0, 0, 1, 1, 1, 1, 1, 0, 0, 1, 1, 1, 1, 2, 2}, torch::kLong).view({B, T});
      attn.position_ids = torch::tensor({0, 1, 2, 0, 1, 2, 3, 4, 0, 1, 0, 1, 2, 3, 0, 1}, torch::kLong).view({B, T});
    } else {
      attn.position_ids = torch::arange(T, torch::kLong).unsqueeze(0).expand({B, T}).contiguous();
    }
    auto loss_fn = [&]() {
      torch::Tensor logits = m->forward(ids, attn);
      return torch::nn::functional::cross_entropy(
          logits.narrow(1, 0, T - 1).reshape({-1, c.vocab_size}), labels.narrow(1, 1, T - 1).reshape({-1}),
          torch::nn::functional::CrossEntropyFuncOptions().ignore_index(-100));
    };
    m->zero_grad();
    torch::Tensor loss = loss_fn();
    loss.backward();
    double worst = 0;
    torch::Generator gen = at::detail::createCPUGenerator(1);
    for (auto& [name, p] : m->hf_named_parameters()) {
      torch::Tensor flat = p.detach().view({-1});
      torch::Tensor g = p.grad().view({-1});
      for (int k = 0; k < 3; ++k) {
        const int64_t i = torch::randint(flat.numel(), {1}, gen, torch::kLong).item<int64_t>();
        const double eps = 1e-6, orig = flat[i].item<double>();
        torch::NoGradGuard ng;
        flat[i] = orig + eps;
        const double up = loss_fn().item<double>();
        flat[i] = orig - eps;
        const double down = loss_fn().item<double>();
        flat[i] = orig;
        const double fd = (up - down) / (2 * eps), ag = g[i].item<double>();
        EXPECT_NEAR(fd, ag, 1e-7 + 1e-5 * std::abs(ag)) << name << "[" << i << "]";
        worst = std::max(worst, std::abs(fd - ag));
      }
    }
    std::printf("finite differences vs autograd (%s): max |diff| = %.3g\n",
                layout == AttentionLayout::kBlock ? "block" : "cross", worst);
  }
}

}  // namespace
}  // namespace packbench::train
