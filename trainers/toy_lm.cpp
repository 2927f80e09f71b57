// A tiny causal LM for trainer tests and references.
#include "trainers/toy_lm.h"

#include <filesystem>

#include "datasets/error.h"

namespace packbench::train {

ToyCausalLM::ToyCausalLM(int64_t vocab, int64_t hidden, uint64_t seed) : vocab_(vocab), hidden_(hidden) {
  auto gen = at::detail::createCPUGenerator(seed);
  auto opts = torch::TensorOptions().dtype(torch::kFloat32);
  embed_ = (at::normal(0.0, 1.0, {vocab, hidden}, gen, opts) * 0.5).requires_grad_();
  w1_ = (at::normal(0.0, 1.0, {hidden, hidden}, gen, opts) / std::sqrt(double(hidden))).requires_grad_();
  b1_ = torch::zeros({hidden}, opts).requires_grad_();
  w2_ = (at::normal(0.0, 1.0, {vocab, hidden}, gen, opts) / std::sqrt(double(hidden))).requires_grad_();
}

torch::Tensor ToyCausalLM::forward(const Batch& batch) {
  auto e = embed_.index_select(0, batch.input_ids.reshape({-1})).view({batch.input_ids.size(0), batch.input_ids.size(1), hidden_});
  // Causal mean within each segment (whole row for cross/padding): mask [B, T, T].
  auto seg = batch.segment_ids;
  auto T = seg.size(1);
  auto causal = torch::ones({T, T}, torch::kBool).tril();
  auto same = seg.unsqueeze(2) == seg.unsqueeze(1);
  if (batch.layout == data::AttentionLayout::kCross) {
    auto real = batch.attention_mask.to(torch::kBool);
    same = real.unsqueeze(2) & real.unsqueeze(1);
  }
  auto m = (same & causal.unsqueeze(0)).to(torch::kFloat32);
  m = m / m.sum(-1, true).clamp_min(1.0);
  auto h = e + 0.5 * torch::matmul(m, e);
  auto a = torch::tanh(torch::matmul(h, w1_.t()) + b1_);
  return torch::matmul(a, w2_.t());
}

std::vector<std::pair<std::string, torch::Tensor>> ToyCausalLM::named_parameters() {
  return {{"embed", embed_}, {"w1", w1_}, {"b1", b1_}, {"w2", w2_}};
}

void ToyCausalLM::to(torch::Device device) {
  for (auto* t : {&embed_, &w1_, &b1_, &w2_}) *t = t->detach().to(device).requires_grad_();
}

void ToyCausalLM::save(const std::string& dir) {
  std::filesystem::create_directories(dir);
  std::vector<torch::Tensor> ts{embed_.detach(), w1_.detach(), b1_.detach(), w2_.detach()};
  torch::save(ts, dir + "/toy_model.pt");
}

void ToyCausalLM::load(const std::string& dir) {
  std::vector<torch::Tensor> ts;
  try {
    torch::load(ts, dir + "/toy_model.pt");
  } catch (const c10::Error& e) {
    throw Error(dir + "/toy_model.pt: cannot load the model: " + e.what_without_backtrace());
  }
  if (ts.size() != 4) throw Error(dir + "/toy_model.pt: expected 4 tensors");
  torch::NoGradGuard ng;
  embed_.copy_(ts[0]);
  w1_.copy_(ts[1]);
  b1_.copy_(ts[2]);
  w2_.copy_(ts[3]);
}

double ToyCausalLM::train_flops_per_token(int64_t seq_len) {
  return 6.0 * double(num_parameters() - vocab_ * hidden_) + 6.0 * double(seq_len * hidden_);
}

}  // namespace packbench::train
