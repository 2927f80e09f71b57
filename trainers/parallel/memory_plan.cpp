// Per-rank memory of packbench's sharded trainer, by component, for a LLaMA shape and a ZeRO setting (no LibTorch).
#include "trainers/parallel/memory_plan.h"

#include <algorithm>
#include <cctype>
#include <cmath>
#include <cstdio>

#include <nlohmann/json.hpp>

#include "core/error.h"

namespace packbench::train {
namespace {

int64_t ceil_div(int64_t a, int64_t b) { return (a + b - 1) / b; }

// Parameters of one decoder layer (attention, MLP, two RMSNorm weights).
int64_t layer_params(const LlamaConfig& c) {
  const int64_t H = c.hidden_size, d = c.head_dim();
  return H * c.num_attention_heads * d * 2 + H * c.num_key_value_heads * d * 2 + 3 * H * c.intermediate_size + 2 * H;
}

// sum over query chunks of (chunk length) x (keys up to the chunk's end), with the chunk length
// trainers/attention_causal.cpp's causal_attention_chunk picks (without its environment override).
int64_t cpu_attention_prob_elems_per_head(int64_t T) {
  int64_t chunk = T <= 128 ? std::max<int64_t>(T, 1) : std::max<int64_t>(64, (T / 8 + 15) / 16 * 16);
  int64_t sum = 0;
  for (int64_t start = 0; start < T; start += chunk) {
    const int64_t len = std::min(chunk, T - start);
    sum += len * (start + len);
  }
  return sum;
}

}  // namespace

const MemoryComponent& MemoryPlan::component(const std::string& name) const {
  for (const auto& c : components) {
    if (c.name == name) return c;
  }
  throw Error("memory plan: no component '" + name + "'");
}

MemoryPlan plan_memory(const MemoryPlanInput& in) {
  check_sharding(in.sharding, "memory plan");
  in.model.validate("memory plan model");
  auto positive = [](int64_t v, const char* what) {
    if (v <= 0) throw Error(std::string("memory plan: ") + what + " must be positive, got " + std::to_string(v));
  };
  positive(in.world_size, "world_size");
  positive(in.gpus_per_node, "gpus_per_node");
  positive(in.micro_batch, "micro_batch");
  positive(in.seq_len, "seq_len");
  positive(in.ddp_bucket_size_mb, "ddp_bucket_size_mb");
  if (in.device != "cuda" && in.device != "cpu") throw Error("memory plan: device '" + in.device + "' is not cuda or cpu");

  const LlamaConfig& m = in.model;
  const int64_t W = in.world_size;
  const int64_t H = m.hidden_size, V = m.vocab_size, I = m.intermediate_size, L = m.num_hidden_layers;
  const int64_t nh = m.num_attention_heads, nkv = m.num_key_value_heads, d = m.head_dim();
  const std::string& z = in.sharding.sharding;
  const bool zero = z != "none";
  const bool z3 = z == "zero3";
  const bool autocast = in.bf16 && in.device == "cuda";
  const bool gloo = in.device == "cpu";
  const int64_t a = autocast ? 2 : 4;  // compute dtype bytes
  const bool off_opt = in.sharding.offload_optimizer == "cpu";
  const bool off_par = in.sharding.offload_params == "cpu";
  // zero3 keeps every shard of a rank in one place: host memory when either is offloaded.
  const bool shards_on_host = off_opt || (z3 && off_par);
  const bool gc = in.gradient_checkpointing || z3;

  MemoryPlan p;
  p.input = in;
  p.autocast = autocast;
  p.gradient_checkpointing = gc;
  p.gradient_checkpointing_forced = gc && !in.gradient_checkpointing;
  p.total_params = m.num_parameters();
  const int64_t lp = layer_params(m);
  p.layer_unit_params = lp;
  auto pad = [&](int64_t n) { return ceil_div(n, W) * W; };
  // Stored units: embedding, L layers, final norm (+ lm_head unless tied).
  const int64_t embed = V * H, head = H + (m.tie_word_embeddings ? 0 : V * H);
  p.outer_unit_params = embed + head;
  p.shard_params = ceil_div(embed, W) + L * ceil_div(lp, W) + ceil_div(head, W);
  p.largest_unit_params = pad(std::max({embed, lp, head}));
  const int64_t P = p.total_params, S = p.shard_params, U = p.largest_unit_params, E = p.outer_unit_params;
  const int64_t layer_linear = lp - 2 * H;  // a layer's projections (its two RMSNorm weights are not cast)
  if (autocast) p.cast_weight_params = z3 ? layer_linear + V * H : L * layer_linear + V * H;

  auto add = [&](const std::string& name, const std::string& group, int64_t dev, int64_t host, std::string f) {
    p.components.push_back({name, group, dev, host, std::move(f)});
  };
  const std::string A = std::to_string(a) + " B";
  // A model state of `bytes`, on the device or (with " in host memory" in its formula) the host.
  auto state = [&](const std::string& name, int64_t bytes, bool on_host, std::string f) {
    if (on_host) f += ", in host memory";
    add(name, "model_states", on_host ? 0 : bytes, on_host ? bytes : 0, f + ")");
  };

  // Model states (all float32).
  if (z3) {
    state("params", 4 * S, shards_on_host, "4 B x S (fp32 param shard, also the master weight");
    state("grads", 4 * S, shards_on_host, "4 B x S (fp32 gradient shard");
    state("optimizer", 8 * S, shards_on_host, "8 B x S (exp_avg 4 + exp_avg_sq 4 of the shard");
  } else if (zero) {
    add("params", "model_states", 4 * P, 0, "4 B x P (fp32 params, full)");
    if (z == "zero1") {
      std::string f = "4 B x P (fp32 grads, full, accumulated over the step) + 4 B x S (the owned shard of the sum";
      if (off_opt) f += ", in host memory";
      add("grads", "model_states", 4 * P + (off_opt ? 0 : 4 * S), off_opt ? 4 * S : 0, f + ")");
    } else {
      state("grads", 4 * S, off_opt, "4 B x S (fp32 gradient shard");
    }
    state("optimizer", 12 * S, off_opt, "12 B x S (fp32 master shard 4 + exp_avg 4 + exp_avg_sq 4");
  } else {
    add("params", "model_states", 4 * P, 0, "4 B x P (fp32 params)");
    add("grads", "model_states", 4 * P, 0, "4 B x P (fp32 grads)");
    add("optimizer", "model_states", 8 * P, 0, "8 B x P (exp_avg 4 + exp_avg_sq 4)");
  }
  for (const auto& c : p.components) {
    p.model_states_device += c.device_bytes;
    p.model_states_host += c.host_bytes;
  }

  // Transient buffers on the device.
  const int64_t layers_alive = in.zero_prefetch ? 2 : 1;  // the layer at work, plus the one in flight
  if (z3) {
    add("gathered_params", "transient", 4 * (layers_alive * pad(lp) + pad(embed) + pad(head)), 0,
        in.zero_prefetch
            ? "4 B x (2 pad(L_u) + pad(E)) (the gathered layer and the next one, prefetched, + the embedding and head)"
            : "4 B x (pad(L_u) + pad(E)) (one gathered layer at a time + the embedding and head for the micro-batch)");
  }
  if (z3 || (z == "zero2" && gc)) {
    add("grad_unreduced", "transient", 4 * (layers_alive * lp + E), 0,
        in.zero_prefetch
            ? "4 B x (2 L_u + E) (one layer's full gradient, the previous one's still being reduced, + the embedding's and head's)"
            : "4 B x (L_u + E) (one layer's full gradient at a time + the embedding's and head's)");
  } else if (z == "zero2") {
    add("grad_unreduced", "transient", 4 * P, 0, "4 B x P (the whole model's gradient until the backward ends)");
  }
  if (zero) {
    add("grad_reduce", "transient", (gloo ? 8 : 4) * U, 0,
        gloo ? "2 x 4 B x U (one unit's flattened gradient + Gloo's all-reduce copy)"
             : "4 B x U (one unit's flattened gradient, reduce-scattered)");
  }
  if (z == "zero1" || z == "zero2") {
    add("param_allgather", "transient", 4 * U, 0, "4 B x U (one unit's updated parameters, all-gathered at the step)");
  }
  if (!zero && W > 1) {
    const int64_t bucket = in.ddp_bucket_size_mb << 20;
    if (in.ddp_all_buckets_in_flight) {
      add("ddp_buckets", "transient", 4 * P, 0,
          "4 B x P (all " + std::to_string(in.ddp_bucket_size_mb) + " MB buckets in flight at once, as distributed.cpp does)");
    } else {
      add("ddp_buckets", "transient", std::min(2 * bucket, 4 * P), 0,
          "2 x " + std::to_string(in.ddp_bucket_size_mb) + " MB buckets");
    }
  }
  if (autocast) {
    add("autocast_weights", "transient", 2 * p.cast_weight_params, 0,
        z3 ? "2 B x (L_u - 2H + V x H) (bf16 copies of one gathered layer's projections and the lm_head; cache off)"
           : "2 B x (L x (L_u - 2H) + V x H) (autocast cache: bf16 copies of every projection and the lm_head)");
  }

  // Activations.
  const int64_t B = in.micro_batch, T = in.seq_len, N = B * T;
  int64_t layer = 0;
  layer += N * H * a + 4 * N;                // input RMSNorm: input + fp32 reciprocal RMS
  layer += N * H * a;                        // q/k/v projections' input
  layer += N * (nh + 2 * nkv) * d * a;       // q, k, v after rotary
  if (in.device == "cuda") {
    layer += N * nh * d * a + 4 * B * nh * T;  // SDPA output + fp32 log-sum-exp
    layer += N * nh * d * a;                   // o_proj's input (contiguous copy)
  } else {
    layer += 4 * B * nh * cpu_attention_prob_elems_per_head(T);  // chunked kernel's fp32 probabilities
    layer += N * nh * d * a;                                     // its output = o_proj's input
  }
  layer += N * H * a + 4 * N;                // post-attention RMSNorm: input + reciprocal RMS
  layer += N * H * a;                        // gate/up projections' input
  layer += 3 * N * I * a;                    // gate, up, silu(gate)*up
  p.layer_activation_bytes = layer;
  if (gc) {
    add("activations_checkpoints", "activations", L * N * H * a, 0,
        "L x B x T x H x " + A + " (each layer's input hidden state)");
    add("activations_layers", "activations", layer, 0,
        p.gradient_checkpointing_forced ? "one layer's saved activations, while it is recomputed (zero3 forces checkpointing on)"
                                        : "one layer's saved activations, while it is recomputed");
  } else {
    add("activations_layers", "activations", L * layer, 0, "L x one layer's saved activations");
  }
  add("activations_head", "activations", 2 * N * H * a + 4 * N, 0,
      "final norm input + reciprocal RMS + lm_head input (2 x B x T x H x " + A + " + 4 B x B x T)");
  add("logits_loss", "activations", N * V * (a + 4), 0,
      "B x T x V x (" + A + " logits + 4 B fp32 log-softmax)");

  for (const auto& c : p.components) {
    p.device_total += c.device_bytes;
    p.host_total_per_rank += c.host_bytes;
  }
  p.host_per_node = p.host_total_per_rank * in.gpus_per_node;
  return p;
}

FitVerdict check_fit(const MemoryPlan& plan, const MemoryLimits& limits) {
  FitVerdict v;
  v.gpu_needed = plan.device_total + kGpuHeadroomFixed +
                 static_cast<int64_t>(std::llround(kHeadroomFraction * static_cast<double>(plan.device_total)));
  v.gpu_fits = v.gpu_needed <= limits.gpu_bytes;
  if (plan.host_per_node > 0) {
    v.cpu_needed_per_node = plan.host_per_node + kCpuHeadroomFixed +
                            static_cast<int64_t>(std::llround(kHeadroomFraction * static_cast<double>(plan.host_per_node)));
  }
  v.cpu_fits = v.cpu_needed_per_node <= limits.cpu_bytes_per_node;
  return v;
}

nlohmann::json MemoryPlan::to_json() const {
  nlohmann::json comps = nlohmann::json::array();
  for (const auto& c : components) {
    comps.push_back({{"name", c.name}, {"group", c.group}, {"device_bytes", c.device_bytes},
                     {"host_bytes", c.host_bytes}, {"formula", c.formula}});
  }
  return {{"sharding", input.sharding.sharding},
          {"offload_optimizer", input.sharding.offload_optimizer},
          {"offload_params", input.sharding.offload_params},
          {"world_size", input.world_size},
          {"gpus_per_node", input.gpus_per_node},
          {"micro_batch", input.micro_batch},
          {"seq_len", input.seq_len},
          {"bf16", input.bf16},
          {"gradient_checkpointing", input.gradient_checkpointing},
          {"gradient_checkpointing_planned", gradient_checkpointing},
          {"gradient_checkpointing_forced", gradient_checkpointing_forced},
          {"autocast", autocast},
          {"device", input.device},
          {"total_params", total_params},
          {"shard_params", shard_params},
          {"largest_unit_params", largest_unit_params},
          {"layer_unit_params", layer_unit_params},
          {"outer_unit_params", outer_unit_params},
          {"components", comps},
          {"device_total_bytes", device_total},
          {"model_states_device_bytes", model_states_device},
          {"model_states_host_bytes", model_states_host},
          {"host_bytes_per_rank", host_total_per_rank},
          {"host_bytes_per_node", host_per_node}};
}

int64_t parse_memory_size(const std::string& text, const std::string& what) {
  auto bad = [&](const std::string& why) -> Error {
    return Error(what + ": '" + text + "' " + why +
                 " (expected a number and a unit: MB, GB, TB or MiB, GiB, TiB; GB = GiB = 2^30 bytes)");
  };
  size_t i = 0;
  while (i < text.size() && (std::isdigit(static_cast<unsigned char>(text[i])) || text[i] == '.')) ++i;
  const std::string num = text.substr(0, i);
  std::string unit = text.substr(i);
  unit.erase(0, unit.find_first_not_of(' '));
  for (auto& ch : unit) ch = static_cast<char>(std::tolower(static_cast<unsigned char>(ch)));
  if (num.empty() || std::count(num.begin(), num.end(), '.') > 1 || num == ".") throw bad("is not a size");
  int shift = 0;
  if (unit == "mb" || unit == "mib" || unit == "m") {
    shift = 20;
  } else if (unit == "gb" || unit == "gib" || unit == "g") {
    shift = 30;
  } else if (unit == "tb" || unit == "tib" || unit == "t") {
    shift = 40;
  } else if (unit.empty()) {
    throw bad("has no unit");
  } else {
    throw bad("has an unknown unit '" + unit + "'");
  }
  const double v = std::stod(num) * static_cast<double>(int64_t{1} << shift);
  if (!(v > 0) || v > 9.0e18) throw bad("is not a positive size");
  return static_cast<int64_t>(std::llround(v));
}

std::string format_gib(int64_t bytes) {
  char buf[64];
  std::snprintf(buf, sizeof buf, "%.1f", static_cast<double>(bytes) / static_cast<double>(int64_t{1} << 30));
  return buf;
}

DeepSpeedEstimate deepspeed_zero3_estimate(int64_t total_params, int64_t largest_layer_params, int64_t gpus_per_node,
                                           int64_t nodes, bool cpu_offload, bool cpu_offload_params, bool zero_init,
                                           double additional_buffer_factor) {
  const double P = static_cast<double>(total_params);
  const double total_gpus = static_cast<double>(nodes * gpus_per_node);
  const double gpus_factor = 1.0 / static_cast<double>(nodes);
  const int64_t largest_layer_memory = 4 * largest_layer_params;
  double cpu = 0;
  int64_t gpu = 0;
  if (cpu_offload) {
    if (cpu_offload_params) {
      gpu = largest_layer_memory;
      cpu = zero_init ? P * 18 * gpus_factor * additional_buffer_factor
                      : P * std::max(4.0 * static_cast<double>(gpus_per_node), 18 * gpus_factor) * additional_buffer_factor;
    } else {
      gpu = largest_layer_memory + static_cast<int64_t>(2 * P / total_gpus);
      cpu = zero_init ? P * 16 * gpus_factor * additional_buffer_factor
                      : P * std::max(4.0 * static_cast<double>(gpus_per_node), 16 * gpus_factor) * additional_buffer_factor;
    }
  } else {
    gpu = largest_layer_memory + static_cast<int64_t>(18 * P / total_gpus);
    cpu = zero_init ? static_cast<double>(largest_layer_params) * 4 * static_cast<double>(gpus_per_node) * additional_buffer_factor
                    : P * 4 * static_cast<double>(gpus_per_node) * additional_buffer_factor;
  }
  return {static_cast<int64_t>(cpu), gpu, largest_layer_memory};
}

DeepSpeedEstimate deepspeed_zero2_estimate(int64_t total_params, int64_t gpus_per_node, int64_t nodes, bool cpu_offload,
                                           double additional_buffer_factor) {
  const double P = static_cast<double>(total_params);
  const int64_t total_gpus = nodes * gpus_per_node;
  double cpu = 0;
  int64_t gpu = 0;
  if (cpu_offload) {
    gpu = 2 * total_params;
    cpu = P * static_cast<double>(std::max<int64_t>(4 * total_gpus, 16)) * additional_buffer_factor;
  } else {
    gpu = 4 * total_params + static_cast<int64_t>(16 * P / static_cast<double>(total_gpus));
    cpu = P * 4 * static_cast<double>(gpus_per_node) * additional_buffer_factor;
  }
  return {static_cast<int64_t>(cpu), gpu, 0};
}

int64_t deepspeed_largest_layer_params(const LlamaConfig& c) {
  const int64_t H = c.hidden_size, d = c.head_dim();
  return std::max({c.vocab_size * H, H * c.intermediate_size, H * c.num_attention_heads * d,
                   H * c.num_key_value_heads * d});
}

}  // namespace packbench::train
