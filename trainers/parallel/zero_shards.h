// ZeRO sharding over c10d: each unit's parameters flattened and split across ranks; gradients reduce-scattered to their owners, parameters gathered per unit (zero3).
#pragma once

#include <torch/torch.h>

#include <cstdint>
#include <string>
#include <utility>
#include <vector>

#include "trainers/parallel/async_collective.h"

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
  // Overlap of communication with compute (train config `zero_prefetch`). zero3: while a decoder
  // layer runs, the all-gather of the next layer in the pass's order (i+1 in forward, i-1 in
  // backward) is in flight, at most `prefetch` units ahead. zero2/3: a unit's gradient
  // reduce-scatter stays in flight until the next unit's is issued or the gradients are read.
  // 0: every collective is waited on where it is issued (so is everything with one process).
  int prefetch = 1;
};

// What the overlap did, counted as it happened.
struct ZeroOverlapStats {
  int64_t gathers_ahead = 0;           // all-gathers started before their unit was needed
  int64_t gathers_ahead_used = 0;      // ... that were in flight when their unit was needed
  int64_t gathers_ahead_finished = 0;  // ... and had already finished by then, during compute
  int64_t gathers_ahead_dropped = 0;   // ... never used (waited on and freed)
  int64_t reduces_deferred = 0;        // gradient reduce-scatters left in flight after their issue
  int64_t reduces_finished = 0;        // ... that had finished by themselves when waited on
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
  int64_t reducing = 0;   // gradient buffers of reduce-scatters in flight (not in `grads`)
};

class ZeroShards {
 public:
  // `params`: the model's trainable parameters, the same order on every rank, already equal
  // across ranks (broadcast). Takes this rank's shards; at zero3 frees the model's full tensors.
  ZeroShards(std::vector<std::pair<std::string, torch::Tensor>> params, Distributed& dist, ZeroOptions options);
  ~ZeroShards();

  const ZeroOptions& options() const { return options_; }
  const std::vector<ZeroUnit>& units() const { return units_; }
  const std::vector<ZeroPiece>& pieces() const { return pieces_; }
  int unit_of_layer(int layer) const;
  int embed_unit() const { return embed_unit_; }
  int head_unit() const { return head_unit_; }

  // zero3: all-gathers unit u's parameters into the model's tensors / frees them (no-ops below zero3).
  // gather(u) of a unit whose all-gather is in flight (prefetch) waits for it; release(u) of one
  // drops it.
  void gather(int u);
  void release(int u);
  bool gathered(int u) const { return gathered_[u]; }
  // zero3: starts all-gathering unit u into a buffer of its own, installed by gather(u) (no-op when
  // u < 0, below zero3, with prefetch 0, or when u is gathered, in flight, or `prefetch` units are).
  void prefetch(int u);
  bool in_flight(int u) const;

  // The decoder-layer hooks (the trainer's LayerParamHooks call these). before_layer gathers the
  // layer and starts the prefetch of the next one in the pass's order: i+1 in a forward pass, i-1
  // in the backward pass (told apart by the order of the calls: the backward recomputes the last
  // layer right after the forward's use of it, then goes down). after_layer frees it;
  // after_layer_backward reduces its gradients.
  void before_layer(int layer);
  void after_layer(int layer);
  void after_layer_backward(int layer);

  const ZeroOverlapStats& overlap_stats() const { return stats_; }
  // A log of the collectives (by unit) and layer events (by layer), in order: "gather-ahead U"
  // (prefetch issued), "gather-wait-finished U" / "gather-wait-pending U" (a prefetched unit
  // needed: its all-gather had / had not finished by then), "gather-drop U", "gather U" (gathered
  // where needed), "release U", "reduce-issue U", "reduce-wait U", "reduce U" (waited where
  // issued), "layer-begin L", "layer-end L"; kept while tracing is on (for tests).
  void set_trace(bool on) { trace_on_ = on; }
  const std::vector<std::string>& trace() const { return trace_; }

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
  // (Waits for the gradient reduce-scatters in flight.)
  torch::Tensor& grad_shard(int u);
  // Waits for every collective in flight: reduce-scatters land in the gradient shards, prefetched
  // gathers are dropped. The optimizer step and checkpoints run after it.
  void finish_in_flight();
  // The L2 norm of the whole (all ranks') gradient, from the shards.
  double grad_global_norm();
  // After the optimizer updated the master shards: zero1/2 all-gather them into the model's
  // parameters; zero3 copies them into the parameter shards (when those are separate). Clears the
  // gradient shards.
  void publish();

  // (params counts the buffers of gathers in flight; `reducing` those of reduce-scatters.)
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
  void finish_reduces();
  void note(const char* event, int n);
  struct InFlightGather {
    int unit;
    torch::Tensor flat;
    AsyncCollective work;
  };
  struct InFlightReduce {
    int unit;
    torch::Tensor flat, out;
    AsyncCollective work;
  };
  int ahead_ = 0;                         // options_.prefetch, 0 for one process
  std::vector<InFlightGather> gathers_;  // oldest first
  std::vector<InFlightReduce> reduces_;  // oldest first
  ZeroOverlapStats stats_;
  bool trace_on_ = false;
  std::vector<std::string> trace_;
  // The last after_layer: which layer, and whether it ended that layer's backward.
  int last_layer_ = -1;
  bool last_was_backward_ = false, backward_done_ = false;
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
