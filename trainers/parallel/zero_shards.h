// ZeRO sharding over c10d: each unit's parameters flattened and split across ranks; gradients reduce-scattered to their owners, parameters gathered per unit (zero3).
#pragma once

#include <torch/torch.h>

#include <cstdint>
#include <string>
#include <utility>
#include <vector>

namespace packbench::train {

class Distributed;

// DeepSpeed's stage names: zero1 shards the optimizer state, zero2 also the gradients, zero3 also
// the parameters.
enum class ZeroStage { kNone = 0, kOne = 1, kTwo = 2, kThree = 3 };
// "none" | "zero1" | "zero2" | "zero3"; anything else throws packbench::Error naming `where`.
ZeroStage parse_zero_stage(const std::string& name, const std::string& where);
std::string zero_stage_name(ZeroStage stage);

struct ZeroOptions {
  ZeroStage stage = ZeroStage::kNone;
  bool offload_optimizer = false;  // the fp32 master shard, its gradient shard and the AdamW state live in CPU memory
  bool offload_params = false;     // zero3: the parameter shards live in CPU memory between uses
};

// A unit: parameters flattened together (in named_parameters order) and sharded as one buffer.
// One unit per decoder layer ("model.layers.N."), one for the embedding, one for the rest (final
// norm, output head). A unit of n elements has shard = ceil(n / world) elements per rank (the last
// rank's tail is zero padding).
struct ZeroUnit {
  std::string name;         // "model.embed_tokens", "model.layers.3", "head"
  std::vector<int> params;  // indices into the parameter list
  int64_t numel = 0, shard = 0;
  int layer = -1;           // decoder layer index, or -1
};
// Bytes of the tensors' storage, each storage once (views of one buffer count once; undefined
// and empty tensors count nothing).
int64_t storage_bytes(const std::vector<torch::Tensor>& tensors);

std::vector<ZeroUnit> zero_units(const std::vector<std::pair<std::string, torch::Tensor>>& params, int world_size);

// A stretch of this rank's shard of a unit that belongs to one parameter (for per-parameter
// settings such as weight decay).
struct ZeroPiece {
  int unit = 0, param = 0;
  int64_t shard_offset = 0;  // where in the unit's shard
  int64_t length = 0;
};

// Bytes this rank holds (measured from the tensors' storage, not computed from sizes).
struct ZeroBytes {
  int64_t params = 0;     // model parameter storage plus zero3 shards
  int64_t grads = 0;      // model gradients plus gradient shards
  int64_t master = 0;     // zero1/2: fp32 master shards (zero3's shards are the parameters)
};

class ZeroShards {
 public:
  // `params`: the model's trainable parameters, the same order on every rank, already equal
  // across ranks (broadcast). Takes this rank's shards; at zero3 frees the model's full tensors.
  ZeroShards(std::vector<std::pair<std::string, torch::Tensor>> params, Distributed& dist, ZeroOptions options);

  const ZeroOptions& options() const { return options_; }
  const std::vector<ZeroUnit>& units() const { return units_; }
  const std::vector<ZeroPiece>& pieces() const { return pieces_; }
  int unit_of_layer(int layer) const;
  int embed_unit() const { return embed_unit_; }
  int head_unit() const { return head_unit_; }

  // zero3: all-gathers unit u's parameters into the model's tensors / frees them (no-ops below zero3).
  void gather(int u);
  void release(int u);
  bool gathered(int u) const { return gathered_[u]; }

  // Every rank calls the collectives below in the same order: a round of gradient reduction
  // starts with begin_gradient_round() (zero1: once per optimizer step; zero2/3: once per
  // micro-batch), reduce_gradients(u) sums unit u's gradients across ranks (a rank without a
  // gradient for it sends zeros) into this rank's gradient shard and frees the model's full
  // gradients of u, and reduce_remaining_gradients() reduces every unit of the round not reduced yet.
  void begin_gradient_round();
  void reduce_gradients(int u);
  void reduce_remaining_gradients();

  // This rank's fp32 master shard and gradient shard of unit u ([shard] elements each).
  torch::Tensor& master(int u) { return master_[u]; }
  torch::Tensor& grad_shard(int u) { return grad_shard_[u]; }
  // The L2 norm of the whole (all ranks') gradient, from the shards.
  double grad_global_norm();
  // After the optimizer updated the master shards: zero1/2 all-gather them into the model's
  // parameters; zero3 copies them into the parameter shards (when those are separate). Clears the
  // gradient shards.
  void publish();

  ZeroBytes bytes() const;
  // Saves / restores this rank's master shards (and the step's gradient state is empty by then).
  std::vector<torch::Tensor> state_tensors() const { return master_; }
  void load_state_tensors(const std::vector<torch::Tensor>& t, const std::string& where);

  // Every unit's full parameters in the model's tensors, in CPU memory (for writing a consolidated
  // checkpoint, unit by unit); end_consolidated() frees them again at zero3.
  void begin_consolidated();
  void end_consolidated();

 private:
  torch::Tensor flat_of_params(int u) const;  // the model's full parameters of u, flattened and padded
  torch::Tensor flat_of_grads(int u) const;
  torch::Tensor gathered_flat(int u);          // every rank's master shard of u, all-gathered on the device
  void set_params_from_flat(int u, const torch::Tensor& flat);
  std::vector<std::pair<std::string, torch::Tensor>> params_;
  std::vector<std::vector<int64_t>> shapes_;
  Distributed& dist_;
  ZeroOptions options_;
  std::vector<ZeroUnit> units_;
  std::vector<ZeroPiece> pieces_;
  std::vector<torch::Tensor> master_, grad_shard_;
  std::vector<bool> gathered_, grads_pending_;
  int embed_unit_ = -1, head_unit_ = -1;
  torch::Device device_;
  torch::Device shard_device_;
  bool consolidated_ = false;
};

}  // namespace packbench::train
