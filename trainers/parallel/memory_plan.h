// Per-rank memory of packbench's sharded trainer, by component, for a LLaMA shape and a ZeRO setting (no LibTorch).
//
// The trainer this describes (its design is fixed; trainers/parallel/ holds it):
//
// Units. Each decoder layer is one unit (its parameters flattened into one flat buffer); the
// embedding is a unit; the final norm + lm_head is a unit (with tied embeddings the lm_head is
// the embedding, so that unit holds only the final norm, but computing the head gathers the
// embedding too). A unit's flat buffer of N elements is split into W equal shards of ceil(N/W)
// elements (zero padded); rank r owns shard r. S = sum over units of ceil(N/W) is a rank's shard.
// P = LlamaConfig::num_parameters() (a tied head counted once).
//
// fp32 training (bf16 = false; packbench's CPU path): the parameters are the master weights.
//   none:  params 4P, grads 4P, AdamW exp_avg + exp_avg_sq 8P, all on every rank.
//   zero1: params 4P, grads 4P, moments 8S.
//   zero2: params 4P, grads 4S (the owned shard) plus one unit's full gradient transiently.
//   zero3: params 4S plus gathered full units transiently, grads as zero2, moments 8S.
// bf16 mixed precision (bf16 = true; CUDA): bf16 compute params, fp32 master weights.
//   none:  params 2P, grads 2P (bf16), optimizer fp32 master 4P + moments 8P.
//   zero1: params 2P, grads 2P (bf16, full), optimizer 12S (master + moments of the owned shard).
//   zero2: params 2P, grads 4S (fp32 owned shard) + one unit's bf16 gradient transiently, optimizer 12S.
//   zero3: params 2S + gathered units, grads as zero2, optimizer 12S.
// offload_optimizer=cpu: the fp32 master shard (4S, in fp32 training a copy of the owned parameter
//   shard), the moments (8S) and the fp32 gradient shard (4S; at zero1 an fp32 copy of the owned
//   part of the full gradient, which stays on the device) live in host memory; the step runs there.
// offload_params=cpu (zero3 only): the parameter shard (2S bf16 or 4S fp32) lives in host memory
//   between uses; the device keeps only the gathered units.
//
// Transient buffers on the device ("communication"):
//   zero3: gathered full units in the compute dtype: one at a time on the CPU device, the current
//     and the prefetched next on CUDA (2 x the largest unit, an upper bound).
//   zero2/zero3: one unit's full gradient in the compute dtype, reduce-scattered into the shard.
//   none/zero1: the all-reduce's flat buckets. Distributed::all_reduce_sum (trainers/distributed.cpp)
//     concatenates every bucket of ddp_bucket_size_mb before waiting on any, so by default the
//     buckets together hold a copy of the whole gradient; ddp_all_buckets_in_flight = false models
//     a bounded implementation (two buckets: one being reduced, one being filled).
//   The largest unit is the largest gathered unit: max(embedding V*H, one layer, final norm + V*H).
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
// Without gradient checkpointing every layer keeps all of that (L x the layer). With it, each
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
  bool bf16 = true;           // bf16 mixed precision (else fp32)
  bool gradient_checkpointing = true;
  std::string device = "cuda";  // cuda | cpu (prefetch depth and attention kernel)
  int64_t ddp_bucket_size_mb = 25;
  bool ddp_all_buckets_in_flight = true;  // what trainers/distributed.cpp does today
};

// One line of the plan. device_bytes: memory of the rank's compute device (GPU on CUDA);
// host_bytes: host memory the rank holds because of offloading (0 without offload).
struct MemoryComponent {
  std::string name;   // params, grads, optimizer, gathered_params, grad_reduce, ddp_buckets,
                      // activations_checkpoints, activations_layers, activations_head, logits_loss
  std::string group;  // model_states | communication | activations
  int64_t device_bytes = 0;
  int64_t host_bytes = 0;
  std::string formula;  // how it was computed, e.g. "2 B x S (bf16 param shard)"
};

struct MemoryPlan {
  MemoryPlanInput input;
  int64_t total_params = 0;        // P
  int64_t shard_params = 0;        // S: elements a rank owns, summed over units (padded)
  int64_t largest_unit_params = 0; // the largest gathered unit
  int64_t layer_unit_params = 0;   // one decoder layer
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
