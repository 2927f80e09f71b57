// ZeRO sharding over c10d (see zero_shards.h).
#include "trainers/parallel/zero_shards.h"

#include <fmt/format.h>

#include <exception>
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
  if (options_.prefetch < 0) throw Error(fmt::format("ZeroShards: prefetch {}: expected 0 or more units", options_.prefetch));
  // One process has nothing to overlap (its collectives are copies): no buffers held ahead.
  ahead_ = dist_.world_size() > 1 ? options_.prefetch : 0;
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

ZeroShards::~ZeroShards() {
  // The collectives in flight hold their tensors themselves; wait for them unless an exception
  // (a failed peer, say) is unwinding, when waiting would only add another timeout.
  if (std::uncaught_exceptions() > 0) return;
  try {
    finish_in_flight();
  } catch (...) {
  }
}

void ZeroShards::note(const char* event, int n) {
  if (trace_on_) trace_.push_back(fmt::format("{} {}", event, n));
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

bool ZeroShards::in_flight(int u) const {
  for (const auto& g : gathers_)
    if (g.unit == u) return true;
  return false;
}

void ZeroShards::gather(int u) {
  if (u < 0 || options_.stage != ZeroStage::kThree || gathered_[u]) return;
  torch::NoGradGuard ng;
  for (size_t k = 0; k < gathers_.size(); ++k) {
    if (gathers_[k].unit != u) continue;
    InFlightGather g = std::move(gathers_[k]);
    gathers_.erase(gathers_.begin() + static_cast<std::ptrdiff_t>(k));
    const bool finished = g.work.completed();
    g.work.wait();
    ++stats_.gathers_ahead_used;
    if (finished) ++stats_.gathers_ahead_finished;
    note(finished ? "gather-wait-finished" : "gather-wait-pending", u);
    set_params_from_flat(u, g.flat);
    gathered_[u] = true;
    return;
  }
  note("gather", u);
  set_params_from_flat(u, gathered_flat(u));
  gathered_[u] = true;
}

void ZeroShards::prefetch(int u) {
  if (u < 0 || options_.stage != ZeroStage::kThree || ahead_ <= 0 || gathered_[u] || in_flight(u) ||
      static_cast<int>(gathers_.size()) >= ahead_)
    return;
  torch::NoGradGuard ng;
  torch::Tensor flat = torch::empty({units_[u].shard * dist_.world_size()}, master_[u].options().device(device_));
  AsyncCollective work = all_gather_async(dist_, master_[u].to(device_), flat);
  gathers_.push_back(InFlightGather{u, flat, std::move(work)});
  ++stats_.gathers_ahead;
  note("gather-ahead", u);
}

void ZeroShards::before_layer(int layer) {
  // The backward pass recomputes the last layer right after the forward's use of it, then goes
  // down one layer at a time; anything else is a forward pass.
  const bool backward = (!last_was_backward_ && layer == last_layer_) || (last_was_backward_ && layer == last_layer_ - 1);
  note("layer-begin", layer);
  gather(unit_of_layer(layer));
  for (int k = 1; k <= ahead_; ++k) prefetch(unit_of_layer(backward ? layer - k : layer + k));
}

void ZeroShards::after_layer(int layer) {
  release(unit_of_layer(layer));
  note("layer-end", layer);
  last_layer_ = layer;
  last_was_backward_ = backward_done_;
  backward_done_ = false;
}

void ZeroShards::after_layer_backward(int layer) {
  reduce_gradients(unit_of_layer(layer));
  backward_done_ = true;
}

void ZeroShards::release(int u) {
  if (u < 0 || options_.stage != ZeroStage::kThree) return;
  for (size_t k = 0; k < gathers_.size(); ++k) {
    if (gathers_[k].unit != u) continue;
    InFlightGather g = std::move(gathers_[k]);
    gathers_.erase(gathers_.begin() + static_cast<std::ptrdiff_t>(k));
    g.work.wait();
    ++stats_.gathers_ahead_dropped;
    note("gather-drop", u);
    break;
  }
  if (!gathered_[u]) return;
  note("release", u);
  torch::NoGradGuard ng;
  for (int i : units_[u].params) {
    torch::Tensor& p = params_[i].second;
    p.set_data(torch::empty({0}, p.options()));
  }
  gathered_[u] = false;
}

void ZeroShards::reduce_gradients(int u) {
  if (u < 0) return;
  torch::NoGradGuard ng;
  const ZeroUnit& unit = units_[u];
  torch::Tensor out = torch::empty({unit.shard}, torch::TensorOptions().dtype(torch::kFloat).device(device_));
  if (ahead_ > 0) {
    // Left in flight: it travels while the previous layer's backward runs. The one issued before
    // it is waited on now (after this one is issued, so the link stays busy).
    torch::Tensor flat = flat_of_grads(u);
    for (int i : unit.params) params_[i].second.mutable_grad() = torch::Tensor();
    grads_pending_[u] = false;
    AsyncCollective work = reduce_scatter_sum_async(dist_, flat, out);
    ++stats_.reduces_deferred;
    note("reduce-issue", u);
    InFlightReduce next{u, flat, out, std::move(work)};
    finish_reduces();
    reduces_.push_back(std::move(next));
    return;
  }
  note("reduce", u);
  dist_.reduce_scatter_sum(flat_of_grads(u), out);
  grad_shard_[u].add_(out.to(shard_device_));
  for (int i : unit.params) params_[i].second.mutable_grad() = torch::Tensor();
  grads_pending_[u] = false;
}

void ZeroShards::finish_reduces() {
  torch::NoGradGuard ng;
  while (!reduces_.empty()) {
    InFlightReduce r = std::move(reduces_.front());
    reduces_.erase(reduces_.begin());
    const bool finished = r.work.completed();
    r.work.wait();
    if (finished) ++stats_.reduces_finished;
    note("reduce-wait", r.unit);
    grad_shard_[r.unit].add_(r.out.to(shard_device_));
  }
}

void ZeroShards::finish_in_flight() {
  finish_reduces();
  while (!gathers_.empty()) {
    InFlightGather g = std::move(gathers_.front());
    gathers_.erase(gathers_.begin());
    g.work.wait();
    ++stats_.gathers_ahead_dropped;
    note("gather-drop", g.unit);
  }
}

torch::Tensor& ZeroShards::grad_shard(int u) {
  finish_reduces();
  return grad_shard_[u];
}

void ZeroShards::begin_gradient_round() { grads_pending_.assign(units_.size(), true); }

void ZeroShards::reduce_remaining_gradients() {
  for (size_t u = 0; u < units_.size(); ++u)
    if (grads_pending_[u]) reduce_gradients(static_cast<int>(u));
}

double ZeroShards::grad_global_norm() {
  finish_in_flight();
  double sq = 0.0;
  for (const auto& g : grad_shard_) sq += g.to(torch::kDouble).pow(2).sum().item<double>();
  return std::sqrt(dist_.all_reduce_sum({sq})[0]);
}

void ZeroShards::publish() {
  finish_in_flight();  // a gather in flight reads the master shards this step changed
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
  for (const auto& g : gathers_) params.push_back(g.flat);
  b.params = storage_bytes(params);
  b.grads = storage_bytes(grads);
  std::vector<torch::Tensor> reducing;
  for (const auto& r : reduces_) {
    reducing.push_back(r.flat);
    reducing.push_back(r.out);
  }
  b.reducing = storage_bytes(reducing);
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
  finish_in_flight();
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
  finish_in_flight();
  torch::NoGradGuard ng;
  for (size_t u = 0; u < units_.size(); ++u) {
    release(static_cast<int>(u));
    set_params_from_flat(static_cast<int>(u), gathered_flat(static_cast<int>(u)).cpu());
  }
  consolidated_ = true;
}

void ZeroShards::end_consolidated() {
  if (!consolidated_) return;
  finish_in_flight();
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
