// AdamW over this rank's ZeRO shards (see zero_adamw.h).
#include "trainers/zero_adamw.h"

#include <fmt/format.h>

#include <cmath>

#include "core/error.h"
#include "trainers/adamw_fused.h"

namespace packbench::train {

ZeroAdamW::ZeroAdamW(ZeroShards& shards, ZeroAdamWOptions options, std::vector<bool> decays)
    : shards_(shards), o_(options), decays_(std::move(decays)) {
  for (size_t u = 0; u < shards_.units().size(); ++u) {
    exp_avg_.push_back(torch::zeros_like(shards_.master(static_cast<int>(u))));
    exp_avg_sq_.push_back(torch::zeros_like(shards_.master(static_cast<int>(u))));
  }
}

double ZeroAdamW::step(double lr, double max_grad_norm) {
  torch::NoGradGuard ng;
  const double norm = shards_.grad_global_norm();
  const double scale = max_grad_norm > 0 ? std::min(1.0, max_grad_norm / (norm + 1e-6)) : 1.0;
  ++step_;
  for (const ZeroPiece& piece : shards_.pieces()) {
    auto part = [&](torch::Tensor& t) { return t.narrow(0, piece.shard_offset, piece.length); };
    AdamWStep s;
    s.lr = lr;
    s.weight_decay = decays_[piece.param] ? o_.weight_decay : 0.0;
    s.beta1 = o_.beta1;
    s.beta2 = o_.beta2;
    s.eps = o_.eps;
    s.step = step_;
    s.grad_scale = scale;
    adamw_update(part(shards_.master(piece.unit)), part(shards_.grad_shard(piece.unit)), part(exp_avg_[piece.unit]),
                 part(exp_avg_sq_[piece.unit]), s);
  }
  shards_.publish();
  return norm;
}

int64_t ZeroAdamW::moment_bytes() const {
  int64_t b = 0;
  for (size_t u = 0; u < exp_avg_.size(); ++u)
    b += (exp_avg_[u].numel() + exp_avg_sq_[u].numel()) * exp_avg_[u].element_size();
  return b;
}

void ZeroAdamW::save(const std::string& path) const {
  std::vector<torch::Tensor> all = shards_.state_tensors();
  all.insert(all.end(), exp_avg_.begin(), exp_avg_.end());
  all.insert(all.end(), exp_avg_sq_.begin(), exp_avg_sq_.end());
  for (auto& t : all) t = t.cpu();
  all.push_back(torch::tensor({step_}, torch::kLong));
  const std::string tmp = path + ".tmp";
  try {
    torch::save(all, tmp);
  } catch (const c10::Error& e) {
    throw Error(fmt::format("{}: cannot write the optimizer shard: {}", path, e.what_without_backtrace()));
  }
  if (std::rename(tmp.c_str(), path.c_str()) != 0) throw Error(fmt::format("{}: cannot rename {} into place", path, tmp));
}

void ZeroAdamW::load(const std::string& path) {
  std::vector<torch::Tensor> all;
  try {
    torch::load(all, path);
  } catch (const c10::Error& e) {
    throw Error(fmt::format("{}: cannot load the optimizer shard: {}", path, e.what_without_backtrace()));
  }
  const size_t n = exp_avg_.size();
  if (all.size() != 3 * n + 1)
    throw Error(fmt::format("{}: {} tensors, expected {} (3 per unit and the step) for this model", path, all.size(),
                            3 * n + 1));
  torch::NoGradGuard ng;
  shards_.load_state_tensors(std::vector<torch::Tensor>(all.begin(), all.begin() + n), path);
  for (size_t u = 0; u < n; ++u) {
    if (all[n + u].sizes() != exp_avg_[u].sizes() || all[2 * n + u].sizes() != exp_avg_sq_[u].sizes())
      throw Error(fmt::format("{}: the moments of unit {} do not match this run's shard", path, u));
    exp_avg_[u].copy_(all[n + u]);
    exp_avg_sq_[u].copy_(all[2 * n + u]);
  }
  step_ = all.back().item<int64_t>();
}

}  // namespace packbench::train
