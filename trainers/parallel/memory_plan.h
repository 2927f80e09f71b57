// Per-rank memory of packbench's sharded trainer, by component, for a LLaMA shape and a ZeRO setting (no LibTorch).
//
// What this describes is what packbench's trainer allocates (trainers/trainer.cpp,
// trainers/parallel/zero_shards.{h,cpp}, trainers/zero_adamw.{h,cpp}; trainers/README.md,
// "Sharded data parallelism (ZeRO)"), not DeepSpeed's design.
//
// Units. Each decoder layer is one unit (its parameters flattened into one flat buffer); the
// embedding is a unit; the final norm + lm_head is a unit (with tied embeddings the lm_head is
// the embedding, so that unit holds only the final norm). A unit's flat buffer of n elements is
// split into W shards of ceil(n/W) elements (zero padded): its flat buffers (a gathered unit, a
// flattened gradient) hold pad(n) = W x ceil(n/W) elements; rank r owns shard r.
// P = LlamaConfig::num_parameters() (a tied head counted once); S = sum over units of ceil(n/W);
// L_u = one decoder layer's parameters; E = the embedding (V*H) plus the head unit (H, plus V*H
// unless tied); U = pad() of the largest unit.
//
// Precision. Weights, gradients and optimizer state are float32 on every device. bf16 = true
// on CUDA is autocast: bf16 compute over the float32 weights (PyTorch AMP), not bf16 weights with
// a master copy. On the CPU the trainer computes in fp32 whatever bf16 says.
//
// Model states (per rank):
//   none:  params 4P, grads 4P, optimizer 8P (AdamW exp_avg + exp_avg_sq).
//   zero1: params 4P (full); grads 4P (full, accumulated over the step) + 4S (the owned shard of
//          the sum); optimizer 12S (a flat fp32 master copy of the owned part 4S, beside the full
//          parameters, + moments 8S).
//   zero2: params 4P; grads 4S; optimizer 12S.
//   zero3: params 4S (the shard is also the master weight); grads 4S; optimizer 8S (moments only).
// offload_optimizer=cpu: zero1/zero2 keep the gradient shard (4S), the master shard and the
//   moments (12S) in host memory (zero1's full gradient 4P stays on the device); the step runs there.
// zero3 with offload_optimizer=cpu or offload_params=cpu (either; packbench keeps all of a rank's
//   shards in one place): params 4S, grads 4S and moments 8S all in host memory; the device holds
//   only the transients and the activations.
//
// Transients on the device ("transient" group):
//   gathered_params (zero3): one gathered decoder layer at a time, 4 pad(L_u) (no prefetch, on
//     CUDA either), plus the embedding and the head, gathered for the whole micro-batch, 4 pad(E).
//   grad_unreduced: the model's full fp32 gradients before they are reduce-scattered.
//     zero3, and zero2 with gradient checkpointing: one decoder layer's (4 L_u) at a time, plus
//     the head's and the embedding's (4E), reduced at the end of each micro-batch.
//     zero2 without checkpointing: the whole model's (4P) until the micro-batch's backward ends.
//     (none/zero1: the full gradient is a model state.)
//   grad_reduce (zero1/2/3): one unit's gradient flattened for the reduce-scatter, 4U; on the
//     CPU (Gloo) the reduce-scatter is an all-reduce of a copy, another 4U.
//   param_allgather (zero1/zero2): the all-gather of the updated shards at the step writes one
//     unit's full flat buffer at a time, 4U.
//   ddp_buckets (none, W > 1): Distributed::all_reduce_sum (trainers/parallel/distributed.cpp)
//     concatenates every bucket of ddp_bucket_size_mb before waiting on any, so by default the
//     buckets together hold a float32 copy of the whole gradient (4P); ddp_all_buckets_in_flight
//     = false models a bounded implementation (two buckets: one being reduced, one being filled).
//   autocast_weights (bf16 on CUDA): autocast casts the weights of the linear layers (every
//     projection and the lm_head; the embedding lookup and the RMSNorm weights stay fp32) to bf16.
//     none/zero1/zero2 keep the autocast cache: a bf16 copy of every linear weight,
//     2 x (L x (L_u - 2H) + V*H), alive through the forward (and refilled by the recompute in
//     backward). zero3 switches the cache off: one gathered layer's copy at a time
//     (2 x (L_u - 2H)) plus the lm_head's (2 V*H), which its backward keeps.
//   Not counted: shard-sized temporaries (the reduce-scatter's output, a shard's copy to or from
//   host memory), each at most 4U/W.
//
// Activations per rank for a micro-batch of B rows of T tokens (N = B*T), compute dtype a bytes
// (2 bf16, 4 fp32), hidden H, intermediate I, heads nh / kv heads nkv of head_dim d, vocab V,
// L layers. What autograd keeps for one decoder layer:
//   input RMSNorm: its input x (N*H*a) and the fp32 reciprocal RMS (4N);
//   q/k/v projections: their input, the normed x (N*H*a);
//   rotary + attention: q, k, v as attention reads them (N*(nh + 2*nkv)*d*a);
//   attention itself: on CUDA, SDPA (flash / memory-efficient kernels, O(T) memory) keeps its output
//     (N*nh*d*a) and the fp32 log-sum-exp (4*B*nh*T); its output is copied to [B,T,nh*d] for o_proj
//     (another N*nh*d*a). On the CPU, packbench's chunked kernel (attention_causal.h) keeps the fp32
//     softmax probabilities of each query chunk against the keys up to the chunk's end
//     (4*B*nh*sum_c len_c*end_c, about half of a T x T matrix) and returns o_proj's input directly;
//   post-attention RMSNorm: its input, the residual sum (N*H*a), and its reciprocal RMS (4N);
//   gate/up projections: their input, the normed residual (N*H*a);
//   SwiGLU: the gate and up outputs (2*N*I*a) and down_proj's input silu(gate)*up (N*I*a).
// Without gradient checkpointing every layer keeps all of that (L x the layer). With it (always
// at zero3: the trainer switches it on, since a layer's parameters are gone after its forward), each
// layer keeps only its input hidden state (L*N*H*a) and one layer's full set exists while it is
// recomputed in backward. The head: the final norm's input and reciprocal RMS and lm_head's input
// (2*N*H*a + 4N), the logits (N*V*a) and the fp32 log-softmax the loss keeps (4*N*V).
// The rank's peak is bounded by the sum of all components (activations of the forward pass are
// not all alive while the transients of the backward are, so the sum is an upper bound).
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include <nlohmann/json_fwd.hpp>

#include "trainers/model/llama_config.h"
#include "trainers/parallel/deepspeed_config.h"

namespace packbench::train {

struct MemoryPlanInput {
  LlamaConfig model;
  int64_t world_size = 1;     // W: ranks in all
  int64_t gpus_per_node = 1;  // ranks per node (host memory is shared by these)
  ShardingSettings sharding;
  int64_t micro_batch = 1;    // per_device_train_batch_size
  int64_t seq_len = 4096;     // cutoff_len: every row is planned at full length
  bool bf16 = true;           // bf16 autocast over fp32 weights on CUDA (else, and on the CPU, fp32)
  bool gradient_checkpointing = true;  // as configured; zero3 plans with it on regardless
  // zero_prefetch (on by default): at zero3 the next layer's gather is in flight while a layer
  // computes, and at zero2/3 a layer's gradient is reduced while the next one's backward runs,
  // so two layers' gathered parameters and full gradients are alive at once instead of one.
  bool zero_prefetch = true;
  std::string device = "cuda";  // cuda | cpu (autocast, the Gloo copy and the attention kernel)
  int64_t ddp_bucket_size_mb = 25;
  bool ddp_all_buckets_in_flight = true;  // what trainers/distributed.cpp does today
};

// One line of the plan. device_bytes: memory of the rank's compute device (GPU on CUDA);
// host_bytes: host memory the rank holds because of offloading (0 without offload).
struct MemoryComponent {
  std::string name;   // params, grads, optimizer, gathered_params, grad_unreduced, grad_reduce,
                      // param_allgather, ddp_buckets, autocast_weights, activations_checkpoints,
                      // activations_layers, activations_head, logits_loss
  std::string group;  // model_states | transient | activations
  int64_t device_bytes = 0;
  int64_t host_bytes = 0;
  std::string formula;  // how it was computed, e.g. "4 B x S (fp32 param shard)"
};

struct MemoryPlan {
  MemoryPlanInput input;
  int64_t total_params = 0;        // P
  int64_t shard_params = 0;        // S: elements a rank owns, summed over units (padded)
  int64_t largest_unit_params = 0; // U: the largest unit's flat buffer (padded to a multiple of W)
  int64_t layer_unit_params = 0;   // L_u: one decoder layer
  int64_t outer_unit_params = 0;   // E: the embedding plus the head unit (final norm, lm_head unless tied)
  int64_t cast_weight_params = 0;  // weights autocast copies to bf16 at once (0 without autocast)
  bool autocast = false;           // bf16 and CUDA
  bool gradient_checkpointing = false;  // as planned: the input's, or on at zero3
  bool gradient_checkpointing_forced = false;  // zero3 switched it on (the input had it off)
  int64_t layer_activation_bytes = 0;  // one decoder layer's saved activations
  std::vector<MemoryComponent> components;
  int64_t device_total = 0;        // sum of device_bytes
  int64_t host_total_per_rank = 0; // sum of host_bytes
  int64_t host_per_node = 0;       // host_total_per_rank x gpus_per_node
  int64_t model_states_device = 0; // params + grads + optimizer on the device
  int64_t model_states_host = 0;   // params + grads + optimizer in host memory (per rank)

  const MemoryComponent& component(const std::string& name) const;  // throws packbench::Error if absent
  nlohmann::json to_json() const;
};

// Throws packbench::Error when the settings are invalid (validate_sharding) or a size is not positive.
MemoryPlan plan_memory(const MemoryPlanInput& in);

// The headroom on top of the planned bytes: a fixed 2 GiB per GPU (CUDA context, cuBLAS / NCCL
// workspaces: 0.5-1.5 GiB measured on A100/H100 for PyTorch processes) plus 5% of the planned
// bytes (the caching allocator's fragmentation); per node 16 GiB (the OS, the ranks' own process
// memory, the data pipeline) plus 5% of the planned host bytes (pinned buffers' rounding).
constexpr int64_t kGpuHeadroomFixed = int64_t{2} << 30;
constexpr double kHeadroomFraction = 0.05;
constexpr int64_t kCpuHeadroomFixed = int64_t{16} << 30;

struct MemoryLimits {
  int64_t gpu_bytes = int64_t{80} << 30;       // per GPU: "80GB" cards (A100/H100 80GB)
  int64_t cpu_bytes_per_node = int64_t{1} << 40;  // 1 TiB
};

struct FitVerdict {
  int64_t gpu_needed = 0;       // device_total plus headroom
  int64_t cpu_needed_per_node = 0;  // host_per_node plus headroom (0 without offload)
  bool gpu_fits = false, cpu_fits = false;
  bool fits() const { return gpu_fits && cpu_fits; }
};
FitVerdict check_fit(const MemoryPlan& plan, const MemoryLimits& limits);

// "80GB", "80GiB", "1TB", "1TiB", "512MB", "79.5GiB" (case-insensitive unit, optional space).
// GB / TB / MB are binary here (2^30, 2^40, 2^20), as GPU and DIMM capacities are counted: an
// "80GB" A100/H100 has 80 GiB of memory. A number without a unit is refused as ambiguous.
// Errors (packbench::Error) name `what` (e.g. "--gpu-memory").
int64_t parse_memory_size(const std::string& text, const std::string& what);
// Bytes in GiB with one decimal ("12.3").
std::string format_gib(int64_t bytes);

// DeepSpeed's published model-state estimators, reimplemented (the formulas of
// deepspeed/runtime/zero/stage3.py estimate_zero3_model_states_mem_needs and
// stage_1_and_2.py estimate_zero2_model_states_mem_needs; Python's float arithmetic and int()).
struct DeepSpeedEstimate {
  int64_t cpu_bytes = 0;  // per node, times additional_buffer_factor
  int64_t gpu_bytes = 0;  // per GPU
  int64_t largest_layer_bytes = 0;  // zero3: 4 x largest_layer_params
};
DeepSpeedEstimate deepspeed_zero3_estimate(int64_t total_params, int64_t largest_layer_params,
                                           int64_t gpus_per_node, int64_t nodes, bool cpu_offload,
                                           bool cpu_offload_params, bool zero_init = true,
                                           double additional_buffer_factor = 1.5);
DeepSpeedEstimate deepspeed_zero2_estimate(int64_t total_params, int64_t gpus_per_node, int64_t nodes,
                                           bool cpu_offload, double additional_buffer_factor = 1.5);
// DeepSpeed's largest_layer_params: the most parameters one module holds itself (not its
// children): for LLaMA the largest of the embedding / lm_head (V*H) and the projections.
int64_t deepspeed_largest_layer_params(const LlamaConfig& c);

}  // namespace packbench::train
