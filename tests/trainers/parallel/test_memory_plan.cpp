// Memory planner: a hand-computed tiny model for every component and stage, how packbench differs from DeepSpeed's estimators on 8B/70B, monotonicity.
#include <gtest/gtest.h>

#include <cmath>

#include <nlohmann/json.hpp>

#include "core/error.h"
#include "tests/common/llama_shape.h"
#include "trainers/parallel/memory_plan.h"

using namespace packbench;
using namespace packbench::train;

namespace {

// V=7, H=6, I=5, L=2, 3 heads / 1 KV head of head_dim 2, untied. By hand:
//   layer unit: q,o 6*3*2*2 = 72, k,v 6*1*2*2 = 24, MLP 3*6*5 = 90, norms 12 -> L_u = 198
//   embedding 42, final norm + lm_head 6 + 42 = 48 (E = 90); P = 42 + 2*198 + 48 = 486
//   W = 4 shards: ceil(42/4) + 2*ceil(198/4) + ceil(48/4) = 11 + 100 + 12 = 123 = S (6 padding elements)
//   flat buffers: pad(layer) = 200, pad(embedding) = 44, pad(head) = 48; U = 200 (a layer)
//   linear weights autocast casts: a layer's 198 - 12 norm = 186, lm_head 42: all 2*186 + 42 = 414
LlamaConfig tiny() { return packbench::testing::llama_shape(7, 6, 5, 2, 3, 1, 64); }

MemoryPlanInput tiny_input(const std::string& sharding, bool bf16 = true) {
  MemoryPlanInput in;
  in.model = tiny();
  in.zero_prefetch = false;  // the tables below are one layer at a time; ZeroPrefetch* adds the second
  in.world_size = 4;
  in.gpus_per_node = 2;
  in.sharding.sharding = sharding;
  in.micro_batch = 2;
  in.seq_len = 3;  // N = 6 tokens
  in.bf16 = bf16;
  in.gradient_checkpointing = true;
  in.device = bf16 ? "cuda" : "cpu";
  return in;
}

int64_t dev(const MemoryPlan& p, const std::string& c) { return p.component(c).device_bytes; }
int64_t host(const MemoryPlan& p, const std::string& c) { return p.component(c).host_bytes; }
bool has(const MemoryPlan& p, const std::string& c) {
  for (const auto& x : p.components) {
    if (x.name == c) return true;
  }
  return false;
}

// LLaMA-3-8B / -70B shapes (their config.json values).
LlamaConfig llama3(bool big) {
  LlamaConfig c;
  c.vocab_size = 128256;
  c.hidden_size = big ? 8192 : 4096;
  c.intermediate_size = big ? 28672 : 14336;
  c.num_hidden_layers = big ? 80 : 32;
  c.num_attention_heads = big ? 64 : 32;
  c.num_key_value_heads = 8;
  c.max_position_embeddings = 8192;
  c.rope_theta = 500000.0;
  c.rms_norm_eps = 1e-5;
  return c;
}

MemoryPlanInput cluster(bool big, const std::string& sharding, const std::string& opt = "none",
                        const std::string& par = "none") {
  MemoryPlanInput in;
  in.model = llama3(big);
  in.world_size = 32;
  in.gpus_per_node = 8;
  in.sharding.sharding = sharding;
  in.sharding.offload_optimizer = opt;
  in.sharding.offload_params = par;
  in.micro_batch = big ? 1 : 2;
  in.seq_len = 4096;
  return in;
}

void expect_rel(double got, double want, double tol, const std::string& what) {
  EXPECT_LE(std::fabs(got - want), tol * want) << what << ": got " << got << ", want " << want;
}

}  // namespace

TEST(MemoryPlan, TinyModelUnitsAndShards) {
  const MemoryPlan p = plan_memory(tiny_input("zero3"));
  EXPECT_EQ(p.total_params, 486);
  EXPECT_EQ(p.total_params, tiny().num_parameters());
  EXPECT_EQ(p.layer_unit_params, 198);
  EXPECT_EQ(p.outer_unit_params, 90);
  EXPECT_EQ(p.shard_params, 123);
  EXPECT_EQ(p.largest_unit_params, 200);
  EXPECT_TRUE(p.autocast);
  EXPECT_EQ(p.cast_weight_params, 186 + 42);  // zero3: one layer + the lm_head
  EXPECT_EQ(plan_memory(tiny_input("zero2")).cast_weight_params, 414);
  EXPECT_EQ(plan_memory(tiny_input("zero2", false)).cast_weight_params, 0);
}

TEST(MemoryPlan, TinyModelStatesEveryStageBf16) {
  // Weights stay fp32 under autocast. none: params 4P = 1944, grads 4P = 1944, moments 8P = 3888,
  // all-reduce buckets 4P = 1944, autocast cache 2 x 414 = 828.
  MemoryPlan p = plan_memory(tiny_input("none"));
  EXPECT_EQ(dev(p, "params"), 1944);
  EXPECT_EQ(dev(p, "grads"), 1944);
  EXPECT_EQ(dev(p, "optimizer"), 3888);
  EXPECT_EQ(dev(p, "ddp_buckets"), 1944);
  EXPECT_EQ(dev(p, "autocast_weights"), 828);
  for (const char* c : {"gathered_params", "grad_unreduced", "grad_reduce", "param_allgather"}) EXPECT_FALSE(has(p, c)) << c;
  EXPECT_EQ(p.model_states_device, 1944 + 1944 + 3888);
  // zero1: full grads 4P + the owned shard 4S = 1944 + 492; master + moments 12S = 1476; one
  // unit's flattened gradient 4U = 800 (NCCL: no copy) and its all-gather at the step 4U = 800.
  p = plan_memory(tiny_input("zero1"));
  EXPECT_EQ(dev(p, "params"), 1944);
  EXPECT_EQ(dev(p, "grads"), 2436);
  EXPECT_EQ(dev(p, "optimizer"), 1476);
  EXPECT_EQ(dev(p, "grad_reduce"), 800);
  EXPECT_EQ(dev(p, "param_allgather"), 800);
  EXPECT_EQ(dev(p, "autocast_weights"), 828);
  EXPECT_FALSE(has(p, "ddp_buckets"));
  EXPECT_FALSE(has(p, "grad_unreduced"));  // the full gradient is a model state at zero1
  // zero2 (checkpointing): gradient shard 4S = 492; one layer's + embedding's + head's full
  // gradient 4 x (198 + 90) = 1152 before reduction.
  p = plan_memory(tiny_input("zero2"));
  EXPECT_EQ(dev(p, "params"), 1944);
  EXPECT_EQ(dev(p, "grads"), 492);
  EXPECT_EQ(dev(p, "optimizer"), 1476);
  EXPECT_EQ(dev(p, "grad_unreduced"), 1152);
  EXPECT_EQ(dev(p, "grad_reduce"), 800);
  EXPECT_EQ(dev(p, "param_allgather"), 800);
  EXPECT_EQ(dev(p, "autocast_weights"), 828);
  EXPECT_FALSE(has(p, "ddp_buckets"));
  // zero2 without checkpointing: the whole gradient (4P) until the backward ends.
  MemoryPlanInput no_gc = tiny_input("zero2");
  no_gc.gradient_checkpointing = false;
  EXPECT_EQ(dev(plan_memory(no_gc), "grad_unreduced"), 1944);
  // zero3: param shard 4S = 492 (also the master), grads 4S = 492, moments 8S = 984; one gathered
  // layer + embedding + head 4 x (200 + 44 + 48) = 1168; autocast without its cache: one layer's
  // and the lm_head's copies 2 x (186 + 42) = 456.
  p = plan_memory(tiny_input("zero3"));
  EXPECT_EQ(dev(p, "params"), 492);
  EXPECT_EQ(dev(p, "grads"), 492);
  EXPECT_EQ(dev(p, "optimizer"), 984);
  EXPECT_EQ(dev(p, "gathered_params"), 1168);
  EXPECT_EQ(dev(p, "grad_unreduced"), 1152);
  EXPECT_EQ(dev(p, "grad_reduce"), 800);
  EXPECT_EQ(dev(p, "autocast_weights"), 456);
  EXPECT_FALSE(has(p, "param_allgather"));  // the shard is the parameter: nothing to publish
  EXPECT_EQ(p.host_per_node, 0);
  // A bounded all-reduce: two 25 MB buckets, capped by the gradient itself (1944 bytes here).
  MemoryPlanInput bounded = tiny_input("none");
  bounded.ddp_all_buckets_in_flight = false;
  EXPECT_EQ(dev(plan_memory(bounded), "ddp_buckets"), 1944);
  bounded.world_size = 1;
  EXPECT_FALSE(has(plan_memory(bounded), "ddp_buckets"));  // one process: no all-reduce
}

TEST(MemoryPlan, ZeroPrefetchHoldsASecondLayer) {
  // With prefetch the next layer's padded parameters (200) and the previous layer's gradient
  // (198) are alive beside the current layer's: 1168 + 4 x 200 and 1152 + 4 x 198.
  MemoryPlanInput in = tiny_input("zero3");
  in.zero_prefetch = true;
  MemoryPlan p = plan_memory(in);
  EXPECT_EQ(dev(p, "gathered_params"), 1168 + 4 * 200);
  EXPECT_EQ(dev(p, "grad_unreduced"), 1152 + 4 * 198);
  EXPECT_EQ(dev(p, "params"), 492);  // the shards do not change
  in.sharding.sharding = "zero2";    // zero2 with checkpointing overlaps the reduction too
  p = plan_memory(in);
  EXPECT_FALSE(has(p, "gathered_params"));
  EXPECT_EQ(dev(p, "grad_unreduced"), 1152 + 4 * 198);
}

TEST(MemoryPlan, TinyModelTiedHead) {
  // Tied: the head unit is the final norm alone (6, pad 8); the lm_head is the embedding, still cast.
  // P = 42 + 396 + 6 = 444; S = 11 + 100 + 2 = 113; E = 48.
  MemoryPlanInput in = tiny_input("zero3");
  in.model.tie_word_embeddings = true;
  const MemoryPlan p = plan_memory(in);
  EXPECT_EQ(p.total_params, 444);
  EXPECT_EQ(p.shard_params, 113);
  EXPECT_EQ(p.outer_unit_params, 48);
  EXPECT_EQ(p.largest_unit_params, 200);
  EXPECT_EQ(dev(p, "gathered_params"), 4 * (200 + 44 + 8));
  EXPECT_EQ(dev(p, "grad_unreduced"), 4 * (198 + 48));
  EXPECT_EQ(dev(p, "autocast_weights"), 2 * (186 + 42));
  in.sharding.sharding = "none";
  EXPECT_EQ(dev(plan_memory(in), "autocast_weights"), 2 * (2 * 186 + 42));
}

TEST(MemoryPlan, TinyModelStatesFp32OnCpu) {
  // fp32 on the CPU: no autocast copies; Gloo's reduce-scatter is an all-reduce of a copy (8U).
  MemoryPlan p = plan_memory(tiny_input("zero1", false));
  EXPECT_FALSE(p.autocast);
  EXPECT_EQ(dev(p, "params"), 1944);
  EXPECT_EQ(dev(p, "grads"), 2436);
  EXPECT_EQ(dev(p, "optimizer"), 1476);
  EXPECT_EQ(dev(p, "grad_reduce"), 1600);
  EXPECT_EQ(dev(p, "param_allgather"), 800);
  EXPECT_FALSE(has(p, "autocast_weights"));
  p = plan_memory(tiny_input("zero2", false));
  EXPECT_EQ(dev(p, "params"), 1944);
  EXPECT_EQ(dev(p, "grads"), 492);
  EXPECT_EQ(dev(p, "grad_unreduced"), 1152);
  EXPECT_EQ(dev(p, "grad_reduce"), 1600);
  p = plan_memory(tiny_input("zero3", false));
  EXPECT_EQ(dev(p, "params"), 492);
  EXPECT_EQ(dev(p, "grads"), 492);
  EXPECT_EQ(dev(p, "optimizer"), 984);
  EXPECT_EQ(dev(p, "gathered_params"), 1168);  // one layer at a time on every device
  EXPECT_EQ(dev(p, "grad_reduce"), 1600);
  p = plan_memory(tiny_input("none", false));
  EXPECT_EQ(dev(p, "optimizer"), 8 * 486);
  EXPECT_EQ(dev(p, "ddp_buckets"), 4 * 486);
  // bf16 on the CPU trains in fp32: no autocast, fp32 activations.
  MemoryPlanInput cpu_bf16 = tiny_input("zero3", false);
  cpu_bf16.bf16 = true;
  p = plan_memory(cpu_bf16);
  EXPECT_FALSE(p.autocast);
  EXPECT_FALSE(has(p, "autocast_weights"));
  EXPECT_EQ(p.layer_activation_bytes, plan_memory(tiny_input("zero3", false)).layer_activation_bytes);
}

TEST(MemoryPlan, TinyModelOffload) {
  // zero3 with both offloads: every shard (params 4S, grads 4S, moments 8S) in host memory.
  MemoryPlanInput in = tiny_input("zero3");
  in.sharding.offload_optimizer = "cpu";
  in.sharding.offload_params = "cpu";
  MemoryPlan p = plan_memory(in);
  EXPECT_EQ(dev(p, "params"), 0);
  EXPECT_EQ(host(p, "params"), 492);
  EXPECT_EQ(dev(p, "grads"), 0);
  EXPECT_EQ(host(p, "grads"), 492);
  EXPECT_EQ(dev(p, "optimizer"), 0);
  EXPECT_EQ(host(p, "optimizer"), 984);
  EXPECT_EQ(dev(p, "gathered_params"), 1168);  // the GPU keeps only transients and activations
  EXPECT_EQ(p.model_states_device, 0);
  EXPECT_EQ(p.model_states_host, 1968);
  EXPECT_EQ(p.host_total_per_rank, 1968);
  EXPECT_EQ(p.host_per_node, 2 * 1968);
  // At zero3 either offload alone moves all three (packbench keeps a rank's shards in one place).
  for (const auto& [opt, par] : {std::pair<std::string, std::string>{"cpu", "none"}, {"none", "cpu"}}) {
    in.sharding.offload_optimizer = opt;
    in.sharding.offload_params = par;
    p = plan_memory(in);
    EXPECT_EQ(p.model_states_device, 0) << opt << par;
    EXPECT_EQ(host(p, "params"), 492) << opt << par;
    EXPECT_EQ(p.host_total_per_rank, 1968) << opt << par;
  }
  // zero1 + optimizer offload: the full gradient and parameters stay; the gradient shard (4S),
  // master shard and moments (12S) go to the host.
  in.sharding.sharding = "zero1";
  in.sharding.offload_optimizer = "cpu";
  in.sharding.offload_params = "none";
  p = plan_memory(in);
  EXPECT_EQ(dev(p, "params"), 1944);
  EXPECT_EQ(dev(p, "grads"), 1944);
  EXPECT_EQ(host(p, "grads"), 492);
  EXPECT_EQ(dev(p, "optimizer"), 0);
  EXPECT_EQ(host(p, "optimizer"), 1476);
  // zero2 + optimizer offload: only the fp32 parameters stay on the device.
  in.sharding.sharding = "zero2";
  p = plan_memory(in);
  EXPECT_EQ(p.model_states_device, 1944);
  EXPECT_EQ(host(p, "grads"), 492);
  EXPECT_EQ(p.host_total_per_rank, 492 + 1476);
  // Invalid combinations are refused.
  MemoryPlanInput bad = tiny_input("zero2");
  bad.sharding.offload_params = "cpu";
  EXPECT_THROW(plan_memory(bad), Error);
}

TEST(MemoryPlan, TinyModelActivations) {
  // bf16 on CUDA, N = 6. One layer: input norm 6*6*2 + 4*6 = 96; qkv input 72; q,k,v 6*(3+2)*2*2 = 120;
  // SDPA output 6*3*2*2 = 72 + log-sum-exp 4*2*3*3 = 72; o_proj input 72; post norm 96; gate/up input 72;
  // SwiGLU 3*6*5*2 = 180 -> 852.
  MemoryPlan p = plan_memory(tiny_input("zero3"));
  EXPECT_EQ(p.layer_activation_bytes, 852);
  EXPECT_EQ(dev(p, "activations_checkpoints"), 2 * 6 * 6 * 2);  // L x N x H x 2 = 144
  EXPECT_EQ(dev(p, "activations_layers"), 852);
  EXPECT_EQ(dev(p, "activations_head"), 2 * 6 * 6 * 2 + 4 * 6);  // 168
  EXPECT_EQ(dev(p, "logits_loss"), 6 * 7 * (2 + 4));              // 252
  EXPECT_EQ(p.device_total, 492 + 492 + 984 + 1168 + 1152 + 800 + 456 + 144 + 852 + 168 + 252);
  // zero3 recomputes every layer: checkpointing off in the input is planned as on, and says so.
  MemoryPlanInput no_gc = tiny_input("zero3");
  no_gc.gradient_checkpointing = false;
  p = plan_memory(no_gc);
  EXPECT_TRUE(p.gradient_checkpointing);
  EXPECT_TRUE(p.gradient_checkpointing_forced);
  EXPECT_EQ(dev(p, "activations_checkpoints"), 144);
  EXPECT_EQ(dev(p, "activations_layers"), 852);
  EXPECT_NE(p.component("activations_layers").formula.find("zero3 forces checkpointing on"), std::string::npos);
  EXPECT_EQ(p.device_total, plan_memory(tiny_input("zero3")).device_total);
  EXPECT_TRUE(p.to_json()["gradient_checkpointing_forced"].get<bool>());
  EXPECT_FALSE(plan_memory(tiny_input("zero3")).gradient_checkpointing_forced);
  // Below zero3 it is honoured: every layer's activations.
  no_gc.sharding.sharding = "zero2";
  p = plan_memory(no_gc);
  EXPECT_FALSE(p.gradient_checkpointing_forced);
  EXPECT_FALSE(has(p, "activations_checkpoints"));
  EXPECT_EQ(dev(p, "activations_layers"), 2 * 852);
  // fp32 on the CPU: the chunked kernel keeps softmax probabilities, here one chunk of 3 queries x 3
  // keys per row and head (4*2*3*9 = 216); per token 228 bytes of the rest: 6*228 + 216 = 1584.
  p = plan_memory(tiny_input("zero3", false));
  EXPECT_EQ(p.layer_activation_bytes, 1584);
  // T = 200: chunks of 64 queries (max(64, ceil16(200/8))) ending at 64, 128, 192, 200:
  // 64*64 + 64*128 + 64*192 + 8*200 = 26176 probabilities per head.
  MemoryPlanInput t200 = tiny_input("zero3", false);
  t200.micro_batch = 1;
  t200.seq_len = 200;
  EXPECT_EQ(plan_memory(t200).layer_activation_bytes, 228 * 200 + 4 * 3 * 26176);
}

TEST(MemoryPlan, FitsWithHeadroom) {
  MemoryPlan p = plan_memory(tiny_input("zero3"));
  p.device_total = int64_t{10} << 30;
  p.host_per_node = int64_t{100} << 30;
  MemoryLimits lim;
  lim.gpu_bytes = (int64_t{12} << 30) + (int64_t{512} << 20);  // 10 + 2 + 0.5 GiB: exactly the need
  lim.cpu_bytes_per_node = (int64_t{121} << 30);                // 100 + 16 + 5 GiB
  FitVerdict v = check_fit(p, lim);
  EXPECT_EQ(v.gpu_needed, (int64_t{12} << 30) + (int64_t{512} << 20));
  EXPECT_EQ(v.cpu_needed_per_node, int64_t{121} << 30);
  EXPECT_TRUE(v.fits());
  lim.gpu_bytes -= 1;
  EXPECT_FALSE(check_fit(p, lim).gpu_fits);
  lim.cpu_bytes_per_node -= 1;
  EXPECT_FALSE(check_fit(p, lim).cpu_fits);
  p.host_per_node = 0;  // no offload: no host requirement
  EXPECT_EQ(check_fit(p, lim).cpu_needed_per_node, 0);
  EXPECT_TRUE(check_fit(p, lim).cpu_fits);
}

TEST(MemoryPlan, ParsesAndPrintsSizes) {
  EXPECT_EQ(parse_memory_size("80GB", "--gpu-memory"), int64_t{80} << 30);
  EXPECT_EQ(parse_memory_size("80GiB", "--gpu-memory"), int64_t{80} << 30);
  EXPECT_EQ(parse_memory_size("80gb", "--gpu-memory"), int64_t{80} << 30);
  EXPECT_EQ(parse_memory_size("1TB", "--cpu-memory"), int64_t{1} << 40);
  EXPECT_EQ(parse_memory_size("1TiB", "--cpu-memory"), int64_t{1} << 40);
  EXPECT_EQ(parse_memory_size("512 MiB", "x"), int64_t{512} << 20);
  EXPECT_EQ(parse_memory_size("79.5GiB", "x"), (int64_t{79} << 30) + (int64_t{1} << 29));
  for (const char* bad : {"80", "80XB", "GB", "abc", "-5GB", "0GB", "1.2.3GB", ""}) {
    try {
      parse_memory_size(bad, "--gpu-memory");
      ADD_FAILURE() << "accepted '" << bad << "'";
    } catch (const Error& e) {
      EXPECT_NE(std::string(e.what()).find("--gpu-memory: '" + std::string(bad) + "'"), std::string::npos) << e.what();
    }
  }
  EXPECT_EQ(format_gib(int64_t{80} << 30), "80.0");
  EXPECT_EQ(format_gib((int64_t{3} << 30) / 2), "1.5");
  EXPECT_EQ(format_gib(0), "0.0");
}

// DeepSpeed's formulas, checked by hand for round numbers: P = 1e9 params, largest layer 1e8, 2 nodes x 4 GPUs.
TEST(DeepSpeedEstimate, FormulasByHand) {
  DeepSpeedEstimate e = deepspeed_zero3_estimate(1000000000, 100000000, 4, 2, false, false);
  EXPECT_EQ(e.largest_layer_bytes, 400000000);
  EXPECT_EQ(e.gpu_bytes, 400000000 + 2250000000);  // 4 x 1e8 + 18e9 / 8
  EXPECT_EQ(e.cpu_bytes, 2400000000);              // 1e8 x 4 x 4 x 1.5
  e = deepspeed_zero3_estimate(1000000000, 100000000, 4, 2, true, true);
  EXPECT_EQ(e.gpu_bytes, 400000000);
  EXPECT_EQ(e.cpu_bytes, 13500000000);  // 1e9 x 18 / 2 x 1.5
  e = deepspeed_zero3_estimate(1000000000, 100000000, 4, 2, true, false);
  EXPECT_EQ(e.gpu_bytes, 400000000 + 250000000);
  EXPECT_EQ(e.cpu_bytes, 12000000000);  // 1e9 x 16 / 2 x 1.5
  e = deepspeed_zero3_estimate(1000000000, 100000000, 4, 2, true, true, false);
  EXPECT_EQ(e.cpu_bytes, 24000000000);  // no zero.Init: 1e9 x max(4 x 4, 18 / 2) x 1.5
  DeepSpeedEstimate z2 = deepspeed_zero2_estimate(1000000000, 4, 2, false);
  EXPECT_EQ(z2.gpu_bytes, 4000000000 + 2000000000);  // 4P + 16P / 8
  EXPECT_EQ(z2.cpu_bytes, 24000000000);              // P x 4 x 4 x 1.5
  z2 = deepspeed_zero2_estimate(1000000000, 4, 2, true);
  EXPECT_EQ(z2.gpu_bytes, 2000000000);   // 2P
  EXPECT_EQ(z2.cpu_bytes, 48000000000);  // P x max(4 x 8, 16) x 1.5
}

TEST(DeepSpeedEstimate, LargestLayerOfLlama3IsTheEmbedding) {
  EXPECT_EQ(deepspeed_largest_layer_params(llama3(false)), int64_t{128256} * 4096);
  EXPECT_EQ(deepspeed_largest_layer_params(llama3(true)), int64_t{128256} * 8192);
  EXPECT_EQ(llama3(false).num_parameters(), 8030261248);
  EXPECT_EQ(llama3(true).num_parameters(), 70553706496);
}

// packbench's trainer against DeepSpeed's estimators (4 nodes x 8 GPUs, W = 32), exactly where
// they differ. DeepSpeed keeps bf16 parameters (and, at ZeRO-1/2, bf16 gradients) beside fp32
// master weights; packbench keeps float32 weights (at zero1/2 with a flat fp32 master copy of the
// owned shard beside them) and computes in bf16 through autocast.
// Equalities hold to within the shard padding (tolerance 1e-6 of the figure: at most W - 1
// padding elements per unit).
//   ZeRO-3 GPU model states: DeepSpeed 18P/W, packbench 16S (4 param shard = master, 4 gradient
//     shard, 8 moments): DeepSpeed's 2P/W more is its separate bf16 parameter shard.
//   ZeRO-3 + optimizer offload: DeepSpeed keeps the bf16 parameter shard on the GPU (2P/W);
//     packbench moves every shard to the host (0 on the GPU). Host: both 16P/nodes (DeepSpeed's
//     fp32 master 4 + moments 8 + fp32 gradients 4; packbench's param shard 4 + moments 8 +
//     gradient shard 4), DeepSpeed's times additional_buffer_factor 1.5.
//   ZeRO-3 + both offloads: GPU model states 0 in both; host DeepSpeed 18P/nodes (its bf16
//     parameter shard too), packbench 16P/nodes: 2P/nodes less, before the 1.5.
//   ZeRO-3 transients: DeepSpeed 4 B x its largest module (V*H); packbench two gathered layers (the
//     current one and the prefetched next) + embedding + head (4 (2 pad(L_u) + pad(E))), two layers'
//     full gradients + the outer units' (4 (2 L_u + E)), one flattened unit (4U) and autocast's bf16
//     copies (2 (L_u - 2H + V*H)): 7.4x (8B) and 9.2x (70B) DeepSpeed's.
//   ZeRO-2: the same total, 4P + 16P/W, of different parts: DeepSpeed's 4P are bf16 params + bf16
//     gradients, packbench's fp32 params; packbench's full gradient is transient (grad_unreduced).
//   ZeRO-2 + optimizer offload: DeepSpeed 2P (bf16 params), packbench 4P (fp32 params): twice.
//   ZeRO-1 against stage_1_and_2's formula (4P + 16P/W): packbench keeps the full fp32 gradient
//     over the step besides its fp32 parameters, 8P + 16S: 4P more.
//   DeepSpeed's ZeRO-2 offload host figure (P x max(4W, 16) x 1.5) counts a full fp32 model per
//     process at load time, which packbench does not plan (not compared).
TEST(DeepSpeedEstimate, HowPackbenchDiffersFromDeepSpeed) {
  for (bool big : {false, true}) {
    SCOPED_TRACE(big ? "70B" : "8B");
    const LlamaConfig c = llama3(big);
    const double P = static_cast<double>(c.num_parameters());
    const double W = 32, nodes = 4;
    const int64_t largest = deepspeed_largest_layer_params(c);
    const double tol = 1e-6;
    // ZeRO-3, nothing offloaded.
    MemoryPlan z3 = plan_memory(cluster(big, "zero3"));
    DeepSpeedEstimate d = deepspeed_zero3_estimate(c.num_parameters(), largest, 8, 4, false, false);
    const double ds_states = static_cast<double>(d.gpu_bytes - d.largest_layer_bytes);
    expect_rel(ds_states, 18 * P / W, tol, "DeepSpeed zero3 gpu");
    expect_rel(z3.model_states_device, 16 * P / W, tol, "zero3 gpu");
    EXPECT_GE(z3.model_states_device, 16 * c.num_parameters() / 32);  // padding only adds
    expect_rel(ds_states - static_cast<double>(z3.model_states_device), 2 * P / W, tol, "zero3: DeepSpeed's bf16 shard");
    // Transients, exactly.
    const int64_t W_ = 32, H = c.hidden_size, VH = c.vocab_size * H, Lu = z3.layer_unit_params;
    auto pad = [&](int64_t n) { return (n + W_ - 1) / W_ * W_; };
    const int64_t E = VH + (H + VH);
    EXPECT_EQ(z3.outer_unit_params, E);
    EXPECT_EQ(z3.largest_unit_params, pad(H + VH));  // the head
    const int64_t trans = dev(z3, "gathered_params") + dev(z3, "grad_unreduced") + dev(z3, "grad_reduce") +
                          dev(z3, "autocast_weights");
    EXPECT_EQ(trans, 4 * (2 * pad(Lu) + pad(VH) + pad(H + VH)) + 4 * (2 * Lu + E) + 4 * pad(H + VH) + 2 * (Lu - 2 * H + VH));
    EXPECT_EQ(d.largest_layer_bytes, 4 * VH);
    const double ratio = static_cast<double>(trans) / static_cast<double>(d.largest_layer_bytes);
    EXPECT_GT(ratio, big ? 9.1 : 7.3);
    EXPECT_LT(ratio, big ? 9.2 : 7.4);
    // ZeRO-3, optimizer offloaded.
    MemoryPlan z3o = plan_memory(cluster(big, "zero3", "cpu"));
    d = deepspeed_zero3_estimate(c.num_parameters(), largest, 8, 4, true, false);
    expect_rel(static_cast<double>(d.gpu_bytes - d.largest_layer_bytes), 2 * P / W, tol, "DeepSpeed zero3+opt gpu");
    EXPECT_EQ(z3o.model_states_device, 0);
    expect_rel(1.5 * static_cast<double>(z3o.host_per_node), static_cast<double>(d.cpu_bytes), tol, "zero3+opt cpu");
    // ZeRO-3, both offloaded.
    MemoryPlan z3oo = plan_memory(cluster(big, "zero3", "cpu", "cpu"));
    d = deepspeed_zero3_estimate(c.num_parameters(), largest, 8, 4, true, true);
    EXPECT_EQ(z3oo.model_states_device, d.gpu_bytes - d.largest_layer_bytes);  // both 0
    expect_rel(static_cast<double>(d.cpu_bytes) / 1.5 - static_cast<double>(z3oo.host_per_node), 2 * P / nodes, tol,
               "zero3+both cpu: DeepSpeed's bf16 shard");
    expect_rel(static_cast<double>(z3oo.host_per_node), 16 * P / nodes, tol, "zero3+both cpu");
    EXPECT_EQ(z3oo.host_per_node, z3o.host_per_node);
    // ZeRO-2: equal totals.
    MemoryPlan z2 = plan_memory(cluster(big, "zero2"));
    DeepSpeedEstimate d2 = deepspeed_zero2_estimate(c.num_parameters(), 8, 4, false);
    expect_rel(static_cast<double>(z2.model_states_device), static_cast<double>(d2.gpu_bytes), tol, "zero2");
    expect_rel(static_cast<double>(dev(z2, "params")), 4 * P, 0, "zero2 fp32 params");
    // ZeRO-2, optimizer offloaded: fp32 against bf16 parameters.
    MemoryPlan z2o = plan_memory(cluster(big, "zero2", "cpu"));
    d2 = deepspeed_zero2_estimate(c.num_parameters(), 8, 4, true);
    EXPECT_EQ(z2o.model_states_device, 2 * d2.gpu_bytes);
    // ZeRO-1: 4P more than stage_1_and_2's formula.
    MemoryPlan z1 = plan_memory(cluster(big, "zero1"));
    d2 = deepspeed_zero2_estimate(c.num_parameters(), 8, 4, false);
    expect_rel(static_cast<double>(z1.model_states_device) - 4 * P, static_cast<double>(d2.gpu_bytes), tol, "zero1");
  }
}

TEST(MemoryPlan, MoreShardingNeverNeedsMore) {
  for (bool big : {false, true}) {
    for (bool bf16 : {true, false}) {
      for (bool gc : {true, false}) {
        SCOPED_TRACE(std::string(big ? "70B" : "8B") + (bf16 ? " bf16" : " fp32") + (gc ? " gc" : ""));
        auto plan = [&](const std::string& z, const std::string& opt = "none", const std::string& par = "none") {
          MemoryPlanInput in = cluster(big, z, opt, par);
          in.bf16 = bf16;
          in.gradient_checkpointing = gc;
          return plan_memory(in);
        };
        const MemoryPlan none = plan("none"), z1 = plan("zero1"), z2 = plan("zero2"), z3 = plan("zero3");
        EXPECT_LE(z3.model_states_device, z2.model_states_device);
        EXPECT_LE(z2.model_states_device, z1.model_states_device);
        EXPECT_LE(z1.model_states_device, none.model_states_device);
        EXPECT_LT(z3.model_states_device, none.model_states_device / 16);  // W = 32: far less
        // Transients included: zero2 without checkpointing holds the whole gradient until the
        // backward ends, as zero1 does (8P + 16S + 8U both), never more.
        EXPECT_LE(z3.device_total, z2.device_total);
        EXPECT_LE(z2.device_total, z1.device_total);
        EXPECT_LT(z1.device_total, none.device_total);
        if (!gc) EXPECT_EQ(z2.device_total, z1.device_total);
        // Offloading moves bytes from the GPU to the host, never adds to the GPU; at zero3 either
        // offload moves every shard, so adding the second changes nothing.
        const MemoryPlan z3o = plan("zero3", "cpu"), z3oo = plan("zero3", "cpu", "cpu");
        EXPECT_EQ(z3o.device_total, z3.device_total - z3.model_states_device);
        EXPECT_EQ(z3oo.device_total, z3o.device_total);
        EXPECT_EQ(z3oo.host_per_node, z3o.host_per_node);
        EXPECT_EQ(z3oo.host_per_node, 8 * z3.model_states_device);
        EXPECT_EQ(z3.host_per_node, 0);
        const MemoryPlan z2o = plan("zero2", "cpu");
        EXPECT_EQ(z2o.device_total, z2.device_total - 16 * z2.shard_params);
        EXPECT_EQ(z2o.host_per_node, 8 * 16 * z2.shard_params);
        // Activations do not depend on the sharding; checkpointing only lowers them.
        EXPECT_EQ(dev(z3, "logits_loss"), dev(none, "logits_loss"));
      }
    }
  }
  MemoryPlanInput gc = cluster(false, "zero2"), full = gc;
  full.gradient_checkpointing = false;
  EXPECT_LT(dev(plan_memory(gc), "activations_layers") + dev(plan_memory(gc), "activations_checkpoints"),
            dev(plan_memory(full), "activations_layers"));
}

TEST(MemoryPlan, JsonCarriesEveryComponent) {
  const MemoryPlan p = plan_memory(tiny_input("zero3"));
  const nlohmann::json j = p.to_json();
  EXPECT_EQ(j["sharding"], "zero3");
  EXPECT_EQ(j["total_params"], 486);
  EXPECT_EQ(j["shard_params"], 123);
  EXPECT_EQ(j["components"].size(), p.components.size());
  int64_t sum = 0;
  for (const auto& c : j["components"]) sum += c["device_bytes"].get<int64_t>();
  EXPECT_EQ(sum, j["device_total_bytes"].get<int64_t>());
}
