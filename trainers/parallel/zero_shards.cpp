// ZeRO sharding over c10d (see zero_shards.h).
#include "trainers/parallel/zero_shards.h"

#include <fmt/format.h>

#include <regex>
#include <set>

#include "core/error.h"
#include "trainers/parallel/distributed.h"

namespace packbench::train {

ZeroStage parse_zero_stage(const std::string& name, const std::string& where) {
  if (name == "none" || name.empty()) return ZeroStage::kNone;
  if (name == "zero1") return ZeroStage::kOne;
  if (name == "zero2") return ZeroStage::kTwo;
  if (name == "zero3") return ZeroStage::kThree;
  throw Error(fmt::format("{}: sharding '{}': expected none, zero1, zero2 or zero3", where, name));
}

std::string zero_stage_name(ZeroStage stage) {
  switch (stage) {
    case ZeroStage::kOne: return "zero1";
    case ZeroStage::kTwo: return "zero2";
    case ZeroStage::kThree: return "zero3";
    default: return "none";
  }
}

int64_t storage_bytes(const std::vector<torch::Tensor>& tensors) {
  std::set<const void*> seen;
  int64_t b = 0;
  for (const auto& t : tensors)
    if (t.defined() && t.numel() > 0 && seen.insert(t.storage().data()).second) b += static_cast<int64_t>(t.storage().nbytes());
  return b;
}

std::vector<ZeroUnit> zero_units(const std::vector<std::pair<std::string, torch::Tensor>>& params, int world_size) {
  static const std::regex layer_re(R"(^(.*\blayers\.(\d+))\.)");
  std::vector<ZeroUnit> units;
  auto unit_named = [&](const std::string& name, int layer) -> ZeroUnit& {
    for (auto& u : units)
      if (u.name == name) return u;
    units.push_back(ZeroUnit{name, {}, 0, 0, layer});
    return units.back();
  };
  for (size_t i = 0; i < params.size(); ++i) {
    const std::string& n = params[i].first;
    std::smatch m;
    ZeroUnit* u;
    if (std::regex_search(n, m, layer_re)) u = &unit_named(m[1], std::stoi(m[2]));
    else if (n.find("embed_tokens") != std::string::npos) u = &unit_named("model.embed_tokens", -1);
    else u = &unit_named("head", -1);
    u->params.push_back(static_cast<int>(i));
    u->numel += params[i].second.numel();
  }
  for (auto& u : units) u.shard = (u.numel + world_size - 1) / world_size;
  return units;
}

ZeroShards::ZeroShards(std::vector<std::pair<std::string, torch::Tensor>> params, Distributed& dist, ZeroOptions options)
    : params_(std::move(params)), dist_(dist), options_(options), device_(torch::kCPU), shard_device_(torch::kCPU) {
  if (options_.stage == ZeroStage::kNone) throw Error("ZeroShards: sharding is none");
  if (options_.offload_params && options_.stage != ZeroStage::kThree)
    throw Error("offload_params: parameters can be offloaded only with sharding zero3");
  if (params_.empty()) throw Error("ZeroShards: the model has no parameters");
  device_ = params_.front().second.device();
  const bool on_cpu = options_.offload_optimizer || options_.offload_params;
  shard_device_ = on_cpu ? torch::Device(torch::kCPU) : device_;
  for (auto& [name, p] : params_) {
    if (p.scalar_type() != torch::kFloat)
      throw Error(fmt::format("sharding: parameter {} is {}, sharded training keeps float32 weights", name,
                              std::string(c10::toString(p.scalar_type()))));
    shapes_.push_back(p.sizes().vec());
  }
  units_ = zero_units(params_, dist_.world_size());
  const int64_t r = dist_.rank();
  torch::NoGradGuard ng;
  for (size_t u = 0; u < units_.size(); ++u) {
    const ZeroUnit& unit = units_[u];
    if (unit.name == "model.embed_tokens") embed_unit_ = static_cast<int>(u);
    if (unit.name == "head") head_unit_ = static_cast<int>(u);
    master_.push_back(flat_of_params(static_cast<int>(u)).narrow(0, r * unit.shard, unit.shard).to(shard_device_).clone());
    grad_shard_.push_back(torch::zeros({unit.shard}, master_.back().options()));
    int64_t off = 0;
    const int64_t lo = r * unit.shard, hi = lo + unit.shard;
    for (int i : unit.params) {
      const int64_t n = params_[i].second.numel();
      const int64_t a = std::max(off, lo), b = std::min(off + n, hi);
      if (a < b) pieces_.push_back(ZeroPiece{static_cast<int>(u), i, a - lo, b - a});
      off += n;
    }
  }
  gathered_.assign(units_.size(), true);
  grads_pending_.assign(units_.size(), false);
  if (options_.stage == ZeroStage::kThree)
    for (size_t u = 0; u < units_.size(); ++u) release(static_cast<int>(u));
}

int ZeroShards::unit_of_layer(int layer) const {
  for (size_t u = 0; u < units_.size(); ++u)
    if (units_[u].layer == layer) return static_cast<int>(u);
  return -1;
}

torch::Tensor ZeroShards::flat_of_params(int u) const {
  const ZeroUnit& unit = units_[u];
  std::vector<torch::Tensor> parts;
  for (int i : unit.params) parts.push_back(params_[i].second.detach().reshape({-1}));
  const int64_t pad = unit.shard * dist_.world_size() - unit.numel;
  if (pad > 0) parts.push_back(torch::zeros({pad}, parts.front().options()));
  return torch::cat(parts);
}

torch::Tensor ZeroShards::flat_of_grads(int u) const {
  const ZeroUnit& unit = units_[u];
  std::vector<torch::Tensor> parts;
  const auto opts = torch::TensorOptions().dtype(torch::kFloat).device(device_);
  for (int i : unit.params) {
    const torch::Tensor& g = params_[i].second.grad();
    parts.push_back(g.defined() ? g.reshape({-1}).to(torch::kFloat) : torch::zeros({params_[i].second.numel()}, opts));
  }
  const int64_t pad = unit.shard * dist_.world_size() - unit.numel;
  if (pad > 0) parts.push_back(torch::zeros({pad}, opts));
  return torch::cat(parts);
}

void ZeroShards::set_params_from_flat(int u, const torch::Tensor& flat) {
  int64_t off = 0;
  for (int i : units_[u].params) {
    torch::Tensor& p = params_[i].second;
    const int64_t n = c10::multiply_integers(shapes_[i]);
    p.set_data(flat.narrow(0, off, n).view(shapes_[i]));
    off += n;
  }
}

torch::Tensor ZeroShards::gathered_flat(int u) {
  torch::Tensor flat = torch::empty({units_[u].shard * dist_.world_size()}, master_[u].options().device(device_));
  dist_.all_gather(master_[u].to(device_), flat);
  return flat;
}

void ZeroShards::gather(int u) {
  if (options_.stage != ZeroStage::kThree || gathered_[u]) return;
  torch::NoGradGuard ng;
  set_params_from_flat(u, gathered_flat(u));
  gathered_[u] = true;
}

void ZeroShards::release(int u) {
  if (options_.stage != ZeroStage::kThree || !gathered_[u]) return;
  torch::NoGradGuard ng;
  for (int i : units_[u].params) {
    torch::Tensor& p = params_[i].second;
    p.set_data(torch::empty({0}, p.options()));
  }
  gathered_[u] = false;
}

void ZeroShards::reduce_gradients(int u) {
  torch::NoGradGuard ng;
  const ZeroUnit& unit = units_[u];
  torch::Tensor out = torch::empty({unit.shard}, torch::TensorOptions().dtype(torch::kFloat).device(device_));
  dist_.reduce_scatter_sum(flat_of_grads(u), out);
  grad_shard_[u].add_(out.to(shard_device_));
  for (int i : unit.params) params_[i].second.mutable_grad() = torch::Tensor();
  grads_pending_[u] = false;
}

void ZeroShards::begin_gradient_round() { grads_pending_.assign(units_.size(), true); }

void ZeroShards::reduce_remaining_gradients() {
  for (size_t u = 0; u < units_.size(); ++u)
    if (grads_pending_[u]) reduce_gradients(static_cast<int>(u));
}

double ZeroShards::grad_global_norm() {
  double sq = 0.0;
  for (const auto& g : grad_shard_) sq += g.to(torch::kDouble).pow(2).sum().item<double>();
  return std::sqrt(dist_.all_reduce_sum({sq})[0]);
}

void ZeroShards::publish() {
  torch::NoGradGuard ng;
  for (size_t u = 0; u < units_.size(); ++u) {
    grad_shard_[u].zero_();
    if (options_.stage == ZeroStage::kThree) continue;  // the master shard is the parameter shard
    const torch::Tensor flat = gathered_flat(static_cast<int>(u));
    int64_t off = 0;
    for (int i : units_[u].params) {
      torch::Tensor& p = params_[i].second;
      p.detach().copy_(flat.narrow(0, off, p.numel()).view_as(p));
      off += p.numel();
    }
  }
}

ZeroBytes ZeroShards::bytes() const {
  ZeroBytes b;
  std::vector<torch::Tensor> params, grads;
  for (const auto& [name, p] : params_) {
    params.push_back(p);
    grads.push_back(p.grad());
  }
  b.params = storage_bytes(params);
  b.grads = storage_bytes(grads);
  for (size_t u = 0; u < units_.size(); ++u) {
    const int64_t m = master_[u].numel() * master_[u].element_size();
    if (options_.stage == ZeroStage::kThree) b.params += m;
    else b.master += m;
    b.grads += grad_shard_[u].numel() * grad_shard_[u].element_size();
  }
  return b;
}

void ZeroShards::load_state_tensors(const std::vector<torch::Tensor>& t, const std::string& where) {
  if (t.size() != master_.size())
    throw Error(fmt::format("{}: {} shards, this run has {} units", where, t.size(), master_.size()));
  torch::NoGradGuard ng;
  for (size_t u = 0; u < master_.size(); ++u) {
    if (t[u].sizes() != master_[u].sizes())
      throw Error(fmt::format("{}: shard {} ({}) has {} elements, this run's has {}", where, u, units_[u].name,
                              t[u].numel(), master_[u].numel()));
    master_[u].copy_(t[u]);
  }
  publish();
}

void ZeroShards::begin_consolidated() {
  if (options_.stage != ZeroStage::kThree || consolidated_) return;
  torch::NoGradGuard ng;
  for (size_t u = 0; u < units_.size(); ++u) {
    release(static_cast<int>(u));
    set_params_from_flat(static_cast<int>(u), gathered_flat(static_cast<int>(u)).cpu());
  }
  consolidated_ = true;
}

void ZeroShards::end_consolidated() {
  if (!consolidated_) return;
  torch::NoGradGuard ng;
  for (size_t u = 0; u < units_.size(); ++u) {
    for (int i : units_[u].params) {
      torch::Tensor& p = params_[i].second;
      p.set_data(torch::empty({0}, p.options().device(device_)));
    }
    gathered_[u] = false;
  }
  consolidated_ = false;
}

}  // namespace packbench::train
