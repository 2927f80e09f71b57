// ZeRO over Gloo: zero1/2/3 at 2 and 4 ranks train like 1 unsharded rank; shards hold a quarter at 4 ranks; offload, kill -9, resume and consolidation; prefetch and overlapped reduction change nothing but the order of communication.
#include <gtest/gtest.h>

#include <fmt/format.h>
#include <signal.h>

#include <chrono>
#include <iostream>
#include <filesystem>
#include <nlohmann/json.hpp>

#include "core/atomic_file.h"
#include "core/error.h"
#include "tests/common/llama_shape.h"
#include "tests/common/test_files.h"
#include "tests/trainers/test_train_util.h"
#include "trainers/collate_torch.h"
#include "trainers/model/llama_config.h"
#include "trainers/model/llama_model.h"
#include "trainers/model/pretrained.h"
#include "trainers/parallel/distributed.h"
#include "trainers/parallel/launch.h"
#include "trainers/parallel/memory_plan.h"
#include "trainers/parallel/zero_shards.h"
#include "trainers/train_model.h"
#include "trainers/trainer.h"

namespace fs = std::filesystem;
namespace pb = packbench;
using namespace packbench::train;
using packbench::testing::self_exe;

namespace {

// The same global batch (8 rows a step) whatever the world size: 2 accumulation steps of
// 4 / world rows per rank.
TrainConfig zero_config(const std::string& out, int world, const std::string& sharding) {
  TrainConfig c = testutil::tiny_config(out);
  c.per_device_train_batch_size = 4 / world;
  c.max_steps = 4;
  c.save_steps = 0;
  c.eval_steps = 2;
  c.per_device_eval_batch_size = 2;
  c.loss_normalization = "global_tokens";
  c.sharding = sharding;
  return c;
}

// A random LLaMA of 2.4M parameters whose decoder layers hold almost all of them (vocab 64), for
// the memory measurements.
std::string random_model_dir(const std::string& dir) {
  const LlamaConfig c = packbench::testing::llama_shape(64, 256, 512, 4, 4, 2, 256);
  fs::create_directories(dir);
  pb::write_file_atomic(dir + "/config.json", c.to_json().dump(2));
  return dir;
}

nlohmann::json outcome_json(const TrainOutcome& o) {
  nlohmann::json e = nlohmann::json::array();
  for (auto& [s, l] : o.eval_losses) e.push_back(l);
  return {{"losses", o.step_losses}, {"grad_norms", o.grad_norms}, {"eval", e}, {"results", o.train_results}};
}

std::string env_or(const char* name, const std::string& fallback) {
  const char* v = std::getenv(name);
  return v ? v : fallback;
}

TrainConfig worker_config(const std::string& out, int world) {
  TrainConfig cfg = zero_config(out, world, env_or("PB_ZERO_STAGE", "zero1"));
  cfg.offload_optimizer = env_or("PB_ZERO_OFFLOAD_OPTIMIZER", "none");
  cfg.offload_params = env_or("PB_ZERO_OFFLOAD_PARAMS", "none");
  cfg.zero_prefetch = env_or("PB_ZERO_PREFETCH", "1") == "1";
  if (const std::string m = env_or("PB_ZERO_MODEL", ""); !m.empty()) {
    cfg.model_name_or_path = m;
    cfg.model_init = "random";
  }
  const std::string mode = env_or("PB_ZERO_MODE", "train");
  if (mode == "die") cfg.max_steps = 50;
  if (mode == "crash" || mode == "resume" || mode == "full") cfg.save_steps = 2;
  if (mode == "resume") cfg.resume_from_checkpoint = "auto";
  return cfg;
}

// The decoder-layer hooks of the trainer (trainer.cpp's ZeroLayerHooks): ZeroShards' layer calls,
// and the parameter bytes held when each layer begins.
class TraceHooks : public LayerParamHooks {
 public:
  explicit TraceHooks(ZeroShards& z) : z_(z) {}
  void before(int layer) override {
    peak_params = std::max(peak_params, z_.bytes().params);
    z_.before_layer(layer);
  }
  void after(int layer) override { z_.after_layer(layer); }
  void after_backward(int layer) override { z_.after_layer_backward(layer); }
  int64_t peak_params = 0;

 private:
  ZeroShards& z_;
};

// One zero3 micro-batch (forward and backward, with the embedding and head gathered around it, as
// the trainer runs it) with ZeroShards' trace on: the trace, the overlap counts, the units' sizes.
nlohmann::json trace_one_micro_batch(const TrainConfig& cfg, CausalLM& model, Distributed& dist) {
  ZeroOptions zo;
  zo.stage = ZeroStage::kThree;
  zo.prefetch = cfg.zero_prefetch ? 1 : 0;
  model.set_gradient_checkpointing(true);
  model.train(true);
  ZeroShards z(model.named_parameters(), dist, zo);
  auto hooks = std::make_shared<TraceHooks>(z);
  model.set_layer_hooks(hooks);
  z.set_trace(true);
  const TrainData td = testutil::make_data(4, 1, 5);
  std::vector<const pb::data::Row*> rows;
  for (const auto& r : td.train_rows) rows.push_back(&r);
  const Batch b = collate(rows, pb::data::AttentionLayout::kCross, 8, td.pad_id);
  z.gather(z.embed_unit());
  if (z.head_unit() >= 0) z.gather(z.head_unit());
  model.loss_sum(b).backward();
  z.reduce_remaining_gradients();
  z.release(z.embed_unit());
  if (z.head_unit() >= 0) z.release(z.head_unit());
  (void)z.grad_global_norm();  // waits for the reductions in flight
  std::vector<int64_t> unit_bytes;
  for (const auto& u : z.units()) unit_bytes.push_back(4 * u.shard * dist.world_size());
  std::vector<int> layer_units;
  for (const auto& u : z.units())
    if (u.layer >= 0) layer_units.push_back(z.unit_of_layer(u.layer));
  const ZeroOverlapStats& st = z.overlap_stats();
  model.set_layer_hooks(nullptr);
  return {{"trace", z.trace()},
          {"peak_params", hooks->peak_params},
          {"unit_bytes", unit_bytes},
          {"layer_units", layer_units},
          {"gathers_ahead", st.gathers_ahead},
          {"gathers_ahead_used", st.gathers_ahead_used},
          {"gathers_ahead_finished", st.gathers_ahead_finished},
          {"gathers_ahead_dropped", st.gathers_ahead_dropped},
          {"reduces_deferred", st.reduces_deferred}};
}

}  // namespace

// Worker mode: run by the tests below through launch_local; skipped when run directly.
TEST(ZeroWorker, Run) {
  const char* out = std::getenv("PB_ZERO_OUT");
  if (!out) GTEST_SKIP() << "worker for the Zero tests (needs PB_ZERO_OUT)";
  const std::string mode = env_or("PB_ZERO_MODE", "train");
  at::set_num_threads(1);
  const DistEnv env = dist_env_from_environment();
  const std::string result_path = fmt::format("{}.{}.rank{}.json", out, mode, env.rank);
  try {
    Distributed dist(env, torch::kCPU, std::chrono::milliseconds(30000));
    TrainConfig cfg = worker_config(std::string(out) + ".train", env.world_size);
    auto model = make_train_model(cfg, torch::kCPU);
    if (mode == "trace") {
      pb::write_file_atomic(result_path, trace_one_micro_batch(cfg, *model, dist).dump());
      return;
    }
    TrainHooks hooks;
    hooks.measure_gemm_ceiling = false;
    hooks.after_step = [&](int64_t step) {
      if (mode == "die" && env.rank == 1 && step == 2) ::raise(SIGKILL);
      if (mode == "crash" && step == 3) throw pb::Error("simulated crash after step 3");
    };
    TrainOutcome o = run_training(cfg, *model, testutil::make_data(16, 5, 5), dist, hooks);
    pb::write_file_atomic(result_path, outcome_json(o).dump());
  } catch (const std::exception& e) {
    pb::write_file_atomic(result_path, nlohmann::json{{"error", e.what()}}.dump());
    if (mode != "crash") FAIL() << e.what();
  }
}

namespace {

struct ZeroRun {
  std::vector<double> losses, norms, evals;
  nlohmann::json results;
  std::string train_dir;
};

ZeroRun single_rank(const std::string& out, const std::string& sharding, const std::string& model_dir = "") {
  at::set_num_threads(1);
  Distributed one(DistEnv{}, torch::kCPU, std::chrono::milliseconds(10000));
  TrainConfig cfg = zero_config(out, 1, sharding);
  if (!model_dir.empty()) {
    cfg.model_name_or_path = model_dir;
    cfg.model_init = "random";
  }
  auto model = make_train_model(cfg, torch::kCPU);
  TrainHooks hooks;
  hooks.measure_gemm_ceiling = false;
  TrainOutcome o = run_training(cfg, *model, testutil::make_data(16, 5, 5), one, hooks);
  ZeroRun r{o.step_losses, o.grad_norms, {}, o.train_results, out};
  for (auto& [s, l] : o.eval_losses) r.evals.push_back(l);
  return r;
}

// Launches `world` worker processes; returns rank 0's run (after checking every rank's).
ZeroRun launch(const std::string& out, int world, const std::vector<std::pair<std::string, std::string>>& env,
           const std::string& mode = "train", int expect_rc = 0) {
  LaunchOptions lo;
  lo.nproc = world;
  lo.extra_env = env;
  lo.extra_env.push_back({"PB_ZERO_OUT", out});
  lo.extra_env.push_back({"PB_ZERO_MODE", mode});
  EXPECT_EQ(launch_local({self_exe(), "--gtest_filter=ZeroWorker.Run"}, lo), expect_rc) << out;
  ZeroRun first;
  for (int r = 0; r < world; ++r) {
    const auto j = nlohmann::json::parse(pb::read_file(fmt::format("{}.{}.rank{}.json", out, mode, r)));
    if (j.contains("error")) {
      if (mode != "crash") ADD_FAILURE() << "rank " << r << ": " << j["error"];
      else EXPECT_EQ(j["error"], "simulated crash after step 3");
      continue;
    }
    ZeroRun run{j["losses"].get<std::vector<double>>(), j["grad_norms"].get<std::vector<double>>(),
            j["eval"].get<std::vector<double>>(), j["results"], out + ".train"};
    if (r == 0) first = run;
  }
  return first;
}

void expect_same_training(const ZeroRun& a, const ZeroRun& b, const std::string& what) {
  ASSERT_EQ(a.losses.size(), b.losses.size()) << what;
  for (size_t i = 0; i < a.losses.size(); ++i) {
    EXPECT_NEAR(a.losses[i], b.losses[i], 1e-5 * std::abs(b.losses[i])) << what << " step " << i + 1;
    EXPECT_NEAR(a.norms[i], b.norms[i], 1e-5 * std::abs(b.norms[i])) << what << " step " << i + 1;
  }
  ASSERT_EQ(a.evals.size(), b.evals.size()) << what;
  for (size_t i = 0; i < a.evals.size(); ++i) EXPECT_NEAR(a.evals[i], b.evals[i], 1e-5 * b.evals[i]) << what;
}

// The final models (consolidated safetensors) hold the same weights.
void expect_same_weights(const std::string& a_dir, const std::string& b_dir, double rel, const std::string& what) {
  auto a = load_pretrained(a_dir), b = load_pretrained(b_dir);
  auto pa = a->hf_named_parameters(), pbv = b->hf_named_parameters();
  ASSERT_EQ(pa.size(), pbv.size());
  for (size_t i = 0; i < pa.size(); ++i) {
    const double scale = pbv[i].second.abs().max().item<double>();
    const double diff = (pa[i].second - pbv[i].second).abs().max().item<double>();
    EXPECT_LE(diff, rel * scale) << what << ": " << pa[i].first;
  }
}

bool gloo() { return distributed_supported(); }

}  // namespace

TEST(Zero, UnitsAreDecoderLayersEmbeddingAndHead) {
  auto model = make_train_model(zero_config(pb::testing::temp_dir("zero-units"), 1, "none"), torch::kCPU);
  const auto params = model->named_parameters();
  const auto units = zero_units(params, 3);
  ASSERT_EQ(units.size(), 4u);  // embedding, 2 layers, head
  EXPECT_EQ(units[0].name, "model.embed_tokens");
  EXPECT_EQ(units[1].name, "model.layers.0");
  EXPECT_EQ(units[1].layer, 0);
  EXPECT_EQ(units[2].name, "model.layers.1");
  EXPECT_EQ(units[3].name, "head");
  int64_t total = 0;
  for (const auto& u : units) {
    EXPECT_EQ(u.shard, (u.numel + 2) / 3);
    total += u.numel;
  }
  EXPECT_EQ(total, model->num_parameters());
  EXPECT_THROW(parse_zero_stage("zero4", "t.yaml"), pb::Error);
  EXPECT_EQ(parse_zero_stage("zero2", "t.yaml"), ZeroStage::kTwo);
}

TEST(Zero, EveryStageAtTwoAndFourRanksTrainsLikeOneUnshardedRank) {
  if (!gloo()) GTEST_SKIP() << "built without Gloo (libgloo-dev)";
  const std::string dir = pb::testing::temp_dir("zero-equal");
  const ZeroRun base = single_rank(dir + "/single", "none");
  ASSERT_LT(base.losses.back(), base.losses.front());
  for (const char* stage : {"zero1", "zero2", "zero3"}) {
    for (int world : {2, 4}) {
      const std::string what = fmt::format("{} at {} ranks", stage, world);
      const ZeroRun run = launch(fmt::format("{}/{}-{}", dir, stage, world), world, {{"PB_ZERO_STAGE", stage}});
      expect_same_training(run, base, what);
      expect_same_weights(run.train_dir, base.train_dir, 1e-5, what);
      EXPECT_EQ(run.results["sharding"], stage);
      EXPECT_EQ(run.results["world_size"], world);
      EXPECT_EQ(run.results["param_bytes_per_rank"].size(), static_cast<size_t>(world));
    }
  }
}

TEST(Zero, OffloadGivesTheSameWeightsAsNoOffload) {
  if (!gloo()) GTEST_SKIP() << "built without Gloo (libgloo-dev)";
  const std::string dir = pb::testing::temp_dir("zero-offload");
  const ZeroRun plain = launch(dir + "/plain", 2, {{"PB_ZERO_STAGE", "zero3"}});
  const ZeroRun off = launch(dir + "/off", 2,
                         {{"PB_ZERO_STAGE", "zero3"}, {"PB_ZERO_OFFLOAD_OPTIMIZER", "cpu"}, {"PB_ZERO_OFFLOAD_PARAMS", "cpu"}});
  expect_same_training(off, plain, "zero3 with offload");
  expect_same_weights(off.train_dir, plain.train_dir, 0.0, "zero3 with offload");
  EXPECT_EQ(off.results["offload_optimizer"], "cpu");
  const ZeroRun off2 = launch(dir + "/off2", 2, {{"PB_ZERO_STAGE", "zero2"}, {"PB_ZERO_OFFLOAD_OPTIMIZER", "cpu"}});
  expect_same_weights(off2.train_dir, plain.train_dir, 1e-6, "zero2 with optimizer offload");
}

TEST(Zero, FourRanksHoldAQuarterOfTheStateAndOfTheParametersBetweenLayers) {
  if (!gloo()) GTEST_SKIP() << "built without Gloo (libgloo-dev)";
  const std::string dir = pb::testing::temp_dir("zero-bytes");
  const std::string model = random_model_dir(dir + "/model");
  const ZeroRun one = single_rank(dir + "/one", "zero3", model);
  const ZeroRun four = launch(dir + "/four", 4, {{"PB_ZERO_STAGE", "zero3"}, {"PB_ZERO_MODEL", model}});
  // Without the next layer's gather in flight (zero_prefetch: false): nothing but the shards and
  // the embedding and head between layers.
  const ZeroRun four_off =
      launch(dir + "/four-off", 4, {{"PB_ZERO_STAGE", "zero3"}, {"PB_ZERO_MODEL", model}, {"PB_ZERO_PREFETCH", "0"}});
  const double opt1 = one.results["optimizer_state_bytes_per_rank"][0].get<double>();
  const double par1 = one.results["param_bytes_per_rank"][0].get<double>();
  const double grad1 = one.results["grad_bytes_per_rank"][0].get<double>();
  for (int r = 0; r < 4; ++r) {
    const double opt = four.results["optimizer_state_bytes_per_rank"][r].get<double>();
    const double par = four_off.results["param_bytes_per_rank"][r].get<double>();
    const double grad = four.results["grad_bytes_per_rank"][r].get<double>();
    EXPECT_NEAR(opt / opt1, 0.25, 0.01) << "rank " << r;
    // Parameters between layers: the shards plus the embedding and head, gathered while a
    // micro-batch runs (about 1% of this model); with prefetch (below), one layer more.
    EXPECT_GT(par / par1, 0.24) << "rank " << r;
    EXPECT_LT(par / par1, 0.28) << "rank " << r;
    EXPECT_LT(grad / grad1, 0.30) << "rank " << r;
    EXPECT_GT(four.results["peak_memory_bytes_per_rank"][r].get<double>(), 0.0);
  }
  // packbench plan's figures for the same run (4 ranks, zero3, float32 on the CPU) against what the
  // ranks measured: the moments exactly (up to shard padding), the parameters between layers within
  // the shards plus the units gathered at that moment (with prefetch: the next layer, in flight),
  // the gradients within shards plus unreduced.
  MemoryPlanInput in;
  in.model = LlamaConfig::load(model + "/config.json");
  in.world_size = 4;
  in.gpus_per_node = 4;
  in.sharding.sharding = "zero3";
  in.micro_batch = 1;
  in.seq_len = 64;
  in.bf16 = false;
  in.device = "cpu";
  const MemoryPlan plan = plan_memory(in);
  const double plan_opt = double(plan.component("optimizer").device_bytes);
  const double plan_par = double(plan.component("params").device_bytes);
  const double plan_gathered = double(plan.component("gathered_params").device_bytes);
  const double plan_grad = double(plan.component("grads").device_bytes);
  const double plan_unreduced = double(plan.component("grad_unreduced").device_bytes);
  for (int r = 0; r < 4; ++r) {
    const double opt = four.results["optimizer_state_bytes_per_rank"][r].get<double>();
    const double par = four.results["param_bytes_per_rank"][r].get<double>();
    const double grad = four.results["grad_bytes_per_rank"][r].get<double>();
    EXPECT_NEAR(opt / plan_opt, 1.0, 0.001) << "rank " << r;
    EXPECT_GE(par, plan_par) << "rank " << r;
    EXPECT_LE(par, plan_par + plan_gathered) << "rank " << r;
    EXPECT_GE(grad, plan_grad) << "rank " << r;
    EXPECT_LE(grad, plan_grad + plan_unreduced) << "rank " << r;
    if (r == 0)
      std::cout << fmt::format("measured vs planned (rank 0): optimizer {} / {}, params between layers {} / {} "
                               "(+{} gathered), grads {} / {} (+{} unreduced)\n",
                               opt, plan_opt, par, plan_par, plan_gathered, grad, plan_grad, plan_unreduced);
  }
  // One rank's float32 parameters: 4 bytes each.
  auto cfg = LlamaConfig::load(model + "/config.json");
  EXPECT_NEAR(par1, 4.0 * double(cfg.num_parameters()), 0.02 * 4.0 * double(cfg.num_parameters()));
  EXPECT_NEAR(opt1, 8.0 * double(cfg.num_parameters()), 0.01 * 8.0 * double(cfg.num_parameters()));
}

TEST(Zero, ADeadRankFailsTheOthersWithAClearMessage) {
  if (!gloo()) GTEST_SKIP() << "built without Gloo (libgloo-dev)";
  const std::string dir = pb::testing::temp_dir("zero-die");
  LaunchOptions lo;
  lo.nproc = 2;
  lo.grace_seconds = 60;  // rank 0 must notice by itself, within the collective timeout
  lo.extra_env = {{"PB_ZERO_OUT", dir + "/die"}, {"PB_ZERO_MODE", "die"}, {"PB_ZERO_STAGE", "zero3"}};
  const auto t0 = std::chrono::steady_clock::now();
  const int rc = launch_local({self_exe(), "--gtest_filter=ZeroWorker.Run"}, lo);
  const double seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
  EXPECT_EQ(rc, 128 + SIGKILL);
  EXPECT_LT(seconds, 55.0);
  const auto j = nlohmann::json::parse(pb::read_file(dir + "/die.die.rank0.json"));
  ASSERT_TRUE(j.contains("error")) << j.dump();
  const std::string msg = j["error"];
  EXPECT_NE(msg.find("rank 0"), std::string::npos) << msg;
  EXPECT_NE(msg.find("failed"), std::string::npos) << msg;
}

TEST(Zero, ResumeFromAShardedCheckpointIsBitwise) {
  if (!gloo()) GTEST_SKIP() << "built without Gloo (libgloo-dev)";
  const std::string dir = pb::testing::temp_dir("zero-resume");
  const std::vector<std::pair<std::string, std::string>> env = {{"PB_ZERO_STAGE", "zero3"}};
  const ZeroRun full = launch(dir + "/full", 2, env, "full");
  // The same run stopped by a failure after step 3 (checkpoint-2 written), then resumed.
  launch(dir + "/cut", 2, env, "crash");
  ASSERT_TRUE(fs::exists(dir + "/cut.train/checkpoint-2/zero/index.json"));
  ASSERT_TRUE(fs::exists(dir + "/cut.train/checkpoint-2/zero/rank-00001-of-00002.pt"));
  ASSERT_TRUE(fs::exists(dir + "/cut.train/checkpoint-2/model.safetensors"));
  const ZeroRun resumed = launch(dir + "/cut", 2, env, "resume");
  ASSERT_EQ(resumed.losses.size(), 2u);
  EXPECT_EQ(resumed.losses[0], full.losses[2]);
  EXPECT_EQ(resumed.losses[1], full.losses[3]);
  EXPECT_EQ(resumed.norms[1], full.norms[3]);
  expect_same_weights(resumed.train_dir, full.train_dir, 0.0, "resumed");
  // Another world size is refused, naming both.
  LaunchOptions lo;
  lo.nproc = 4;
  lo.extra_env = {{"PB_ZERO_OUT", dir + "/cut"}, {"PB_ZERO_MODE", "resume"}, {"PB_ZERO_STAGE", "zero3"}};
  EXPECT_NE(launch_local({self_exe(), "--gtest_filter=ZeroWorker.Run"}, lo), 0);
  const auto j = nlohmann::json::parse(pb::read_file(dir + "/cut.resume.rank0.json"));
  ASSERT_TRUE(j.contains("error")) << j.dump();
  EXPECT_NE(j["error"].get<std::string>().find("written by 2 ranks, this run has 4"), std::string::npos) << j.dump();
}

TEST(Zero, ConsolidatedModelGivesTheUnshardedLogits) {
  if (!gloo()) GTEST_SKIP() << "built without Gloo (libgloo-dev)";
  const std::string dir = pb::testing::temp_dir("zero-logits");
  const ZeroRun base = single_rank(dir + "/single", "none");
  const ZeroRun z3 = launch(dir + "/z3", 4, {{"PB_ZERO_STAGE", "zero3"}});
  ASSERT_TRUE(fs::exists(z3.train_dir + "/model.safetensors"));
  auto a = load_pretrained(z3.train_dir), b = load_pretrained(base.train_dir);
  a->eval();
  b->eval();
  torch::NoGradGuard ng;
  const auto ids = torch::randint(4, 64, {2, 12}, torch::TensorOptions().dtype(torch::kLong));
  AttentionInputs in;
  in.position_ids = torch::arange(12).repeat({2, 1});
  const auto la = a->forward(ids, in), lb = b->forward(ids, in);
  EXPECT_LE((la - lb).abs().max().item<double>(), 1e-4 * lb.abs().max().item<double>());
}

namespace {

// Launches `world` trace workers (see trace_one_micro_batch); returns every rank's result.
std::vector<nlohmann::json> launch_trace(const std::string& out, int world,
                                         const std::vector<std::pair<std::string, std::string>>& env) {
  LaunchOptions lo;
  lo.nproc = world;
  lo.extra_env = env;
  lo.extra_env.push_back({"PB_ZERO_OUT", out});
  lo.extra_env.push_back({"PB_ZERO_MODE", "trace"});
  EXPECT_EQ(launch_local({self_exe(), "--gtest_filter=ZeroWorker.Run"}, lo), 0) << out;
  std::vector<nlohmann::json> ranks;
  for (int r = 0; r < world; ++r) {
    ranks.push_back(nlohmann::json::parse(pb::read_file(fmt::format("{}.trace.rank{}.json", out, r))));
    EXPECT_FALSE(ranks.back().contains("error")) << "rank " << r << ": " << ranks.back().dump();
  }
  return ranks;
}

// Position of the n-th (0-based) occurrence of `event` in the trace, or -1.
long position(const std::vector<std::string>& trace, const std::string& event, int n = 0) {
  for (size_t i = 0; i < trace.size(); ++i)
    if (trace[i] == event && n-- == 0) return static_cast<long>(i);
  return -1;
}

// Where a prefetched unit was first needed ("gather-wait-finished U" or "gather-wait-pending U").
long first_wait(const std::vector<std::string>& trace, int unit) {
  for (size_t i = 0; i < trace.size(); ++i)
    if (trace[i] == fmt::format("gather-wait-finished {}", unit) || trace[i] == fmt::format("gather-wait-pending {}", unit))
      return static_cast<long>(i);
  return -1;
}

std::string joined(const std::vector<std::string>& trace) {
  std::string s;
  for (const auto& e : trace) s += e + "; ";
  return s;
}

void expect_identical_training(const ZeroRun& a, const ZeroRun& b, const std::string& what) {
  EXPECT_EQ(a.losses, b.losses) << what;
  EXPECT_EQ(a.norms, b.norms) << what;
  EXPECT_EQ(a.evals, b.evals) << what;
  expect_same_weights(a.train_dir, b.train_dir, 0.0, what);
}

}  // namespace

TEST(ZeroPrefetch, OnIsBitIdenticalToOffAndMatchesOneUnshardedRank) {
  if (!gloo()) GTEST_SKIP() << "built without Gloo (libgloo-dev)";
  const std::string dir = pb::testing::temp_dir("zero-prefetch-equal");
  const ZeroRun base = single_rank(dir + "/single", "none");
  for (const char* stage : {"zero2", "zero3"}) {
    for (int world : {2, 4}) {
      const std::string what = fmt::format("{} at {} ranks", stage, world);
      const ZeroRun on = launch(fmt::format("{}/{}-{}-on", dir, stage, world), world,
                                {{"PB_ZERO_STAGE", stage}, {"PB_ZERO_PREFETCH", "1"}});
      const ZeroRun off = launch(fmt::format("{}/{}-{}-off", dir, stage, world), world,
                                 {{"PB_ZERO_STAGE", stage}, {"PB_ZERO_PREFETCH", "0"}});
      ASSERT_EQ(on.losses.size(), 4u) << what;
      // Tolerance 0: the same arithmetic, only the order of communication differs.
      expect_identical_training(on, off, what + ": prefetch on vs off");
      expect_same_training(on, base, what + " with prefetch");
      expect_same_weights(on.train_dir, base.train_dir, 1e-5, what + " with prefetch");
      // The overlap happened with it on and not with it off (counted by ZeroShards as it ran).
      const auto& ov = on.results["zero_overlap"];
      const auto& ovoff = off.results["zero_overlap"];
      EXPECT_EQ(on.results["zero_prefetch"], true) << what;
      EXPECT_EQ(off.results["zero_prefetch"], false) << what;
      EXPECT_GT(ov["reduces_deferred"].get<int64_t>(), 0) << what << ": " << ov.dump();
      EXPECT_EQ(ovoff["reduces_deferred"].get<int64_t>(), 0) << what << ": " << ovoff.dump();
      EXPECT_EQ(ovoff["gathers_ahead"].get<int64_t>(), 0) << what << ": " << ovoff.dump();
      if (std::string(stage) == "zero3") {
        // The tiny model has 2 layers: each training micro-batch prefetches layer 1 in forward
        // and layer 0 in backward, each evaluation batch layer 1; all of them are used.
        EXPECT_GT(ov["gathers_ahead"].get<int64_t>(), 0) << what << ": " << ov.dump();
        EXPECT_EQ(ov["gathers_ahead_used"], ov["gathers_ahead"]) << what << ": " << ov.dump();
        EXPECT_EQ(ov["gathers_ahead_dropped"].get<int64_t>(), 0) << what << ": " << ov.dump();
      } else {
        EXPECT_EQ(ov["gathers_ahead"].get<int64_t>(), 0) << what << ": zero2 gathers nothing";
      }
    }
  }
}

TEST(ZeroPrefetch, TheNextLayersGatherIsInFlightWhileTheCurrentLayerComputes) {
  if (!gloo()) GTEST_SKIP() << "built without Gloo (libgloo-dev)";
  const std::string dir = pb::testing::temp_dir("zero-prefetch-trace");
  const std::string model = random_model_dir(dir + "/model");  // 4 decoder layers
  const auto on = launch_trace(dir + "/on", 2, {{"PB_ZERO_MODEL", model}, {"PB_ZERO_PREFETCH", "1"}});
  const auto off = launch_trace(dir + "/off", 2, {{"PB_ZERO_MODEL", model}, {"PB_ZERO_PREFETCH", "0"}});
  for (int r = 0; r < 2; ++r) {
    const auto trace = on[r]["trace"].get<std::vector<std::string>>();
    const auto units = on[r]["layer_units"].get<std::vector<int>>();
    ASSERT_EQ(units.size(), 4u);
    const std::string all = joined(trace);
    const int L = 4;
    // Forward: layer i's gather is issued while layer i-1 runs: after layer i-1 began and before
    // it ended (its parameters were freed); layer i then waits for it instead of gathering.
    for (int i = 1; i < L; ++i) {
      const long ahead = position(trace, fmt::format("gather-ahead {}", units[i]));
      ASSERT_GE(ahead, 0) << "rank " << r << " layer " << i << ": " << all;
      EXPECT_GT(ahead, position(trace, fmt::format("layer-begin {}", i - 1))) << "rank " << r << ": " << all;
      EXPECT_LT(ahead, position(trace, fmt::format("layer-end {}", i - 1))) << "rank " << r << ": " << all;
      const long wait = first_wait(trace, units[i]);
      EXPECT_GT(wait, position(trace, fmt::format("layer-begin {}", i))) << "rank " << r << ": " << all;
      EXPECT_LT(wait, position(trace, fmt::format("layer-end {}", i))) << "rank " << r << ": " << all;
    }
    // Backward (each layer's second begin/end: the recompute): layer i-1's gather is issued
    // while layer i recomputes and runs its backward.
    for (int i = L - 1; i >= 1; --i) {
      const long ahead = position(trace, fmt::format("gather-ahead {}", units[i - 1]), i - 1 == 0 ? 0 : 1);
      ASSERT_GE(ahead, 0) << "rank " << r << " layer " << i - 1 << ": " << all;
      EXPECT_GT(ahead, position(trace, fmt::format("layer-begin {}", i), 1)) << "rank " << r << ": " << all;
      EXPECT_LT(ahead, position(trace, fmt::format("layer-end {}", i), 1)) << "rank " << r << ": " << all;
    }
    // The first layer of each pass is gathered where it is needed; every other one ahead.
    EXPECT_EQ(on[r]["gathers_ahead"].get<int>(), 2 * (L - 1)) << all;
    EXPECT_EQ(on[r]["gathers_ahead_used"].get<int>(), 2 * (L - 1)) << all;
    EXPECT_EQ(on[r]["gathers_ahead_dropped"].get<int>(), 0) << all;
    // Each layer's gradient reduce-scatter is issued when its backward ends and waited on at
    // the next layer's (after layer i-1's backward ran).
    for (int i = L - 1; i >= 1; --i) {
      const long issue = position(trace, fmt::format("reduce-issue {}", units[i]));
      const long wait = position(trace, fmt::format("reduce-wait {}", units[i]));
      ASSERT_GE(issue, 0) << all;
      EXPECT_GT(wait, position(trace, fmt::format("layer-begin {}", i - 1), 1)) << "rank " << r << ": " << all;
      EXPECT_GT(wait, position(trace, fmt::format("reduce-issue {}", units[i - 1]))) << "rank " << r << ": " << all;
    }
    EXPECT_EQ(position(trace, fmt::format("reduce {}", units[0])), -1) << all;
    // Prefetch off: every layer gathered where it is needed, every reduction waited on at once.
    const auto trace_off = off[r]["trace"].get<std::vector<std::string>>();
    for (const auto& e : trace_off) {
      EXPECT_EQ(e.rfind("gather-ahead", 0), std::string::npos) << joined(trace_off);
      EXPECT_EQ(e.rfind("reduce-issue", 0), std::string::npos) << joined(trace_off);
    }
    EXPECT_GE(position(trace_off, fmt::format("gather {}", units[1])), 0) << joined(trace_off);
    // Held parameters (measured from the tensors when each layer begins, as the trainer does)
    // grow by the one unit in flight, no more.
    const int64_t peak_on = on[r]["peak_params"].get<int64_t>(), peak_off = off[r]["peak_params"].get<int64_t>();
    int64_t largest_layer = 0;
    for (int u : units) largest_layer = std::max(largest_layer, on[r]["unit_bytes"][u].get<int64_t>());
    EXPECT_GT(peak_on, peak_off) << "rank " << r;
    EXPECT_LE(peak_on - peak_off, largest_layer) << "rank " << r;
    std::cout << fmt::format("rank {}: parameters held between layers {} B with prefetch, {} B without (one layer: {} B); "
                             "{} of {} prefetched gathers had finished when needed\n",
                             r, peak_on, peak_off, largest_layer, on[r]["gathers_ahead_finished"].get<int>(),
                             on[r]["gathers_ahead"].get<int>());
  }
}

TEST(ZeroPrefetch, TrainedParametersHeldGrowByAtMostOneLayer) {
  if (!gloo()) GTEST_SKIP() << "built without Gloo (libgloo-dev)";
  const std::string dir = pb::testing::temp_dir("zero-prefetch-bytes");
  const std::string model = random_model_dir(dir + "/model");
  const ZeroRun on = launch(dir + "/on", 2, {{"PB_ZERO_STAGE", "zero3"}, {"PB_ZERO_MODEL", model}, {"PB_ZERO_PREFETCH", "1"}});
  const ZeroRun off = launch(dir + "/off", 2, {{"PB_ZERO_STAGE", "zero3"}, {"PB_ZERO_MODEL", model}, {"PB_ZERO_PREFETCH", "0"}});
  expect_identical_training(on, off, "zero3, random model, 2 ranks: prefetch on vs off");
  int64_t largest_layer = 0;
  {
    TrainConfig cfg = zero_config(dir + "/units", 2, "none");
    cfg.model_name_or_path = model;
    cfg.model_init = "random";
    auto rm = make_train_model(cfg, torch::kCPU);
    for (const auto& u : zero_units(rm->named_parameters(), 2))
      if (u.layer >= 0) largest_layer = std::max(largest_layer, 4 * u.shard * 2);
  }
  ASSERT_GT(largest_layer, 0);
  for (int r = 0; r < 2; ++r) {
    const int64_t p_on = on.results["param_bytes_per_rank"][r].get<int64_t>();
    const int64_t p_off = off.results["param_bytes_per_rank"][r].get<int64_t>();
    EXPECT_GT(p_on, p_off) << "rank " << r;
    EXPECT_LE(p_on - p_off, largest_layer) << "rank " << r;
    // Gradients held after a micro-batch's backward do not grow (a reduction in flight holds its
    // own buffers, the unit's full gradients are freed when it is issued).
    EXPECT_EQ(on.results["grad_bytes_per_rank"][r], off.results["grad_bytes_per_rank"][r]) << "rank " << r;
  }
}

TEST(ZeroPrefetch, ConfigKeyDefaultsToOnAndIsValidated) {
  const std::string dir = pb::testing::temp_dir("zero-prefetch-config");
  const std::string m = "model_name_or_path=" + testutil::tiny_llama_dir(), out = "output_dir=" + dir;
  EXPECT_TRUE(load_train_config("", {m, out, "sharding=zero3"}).zero_prefetch);
  EXPECT_FALSE(load_train_config("", {m, out, "sharding=zero3", "zero_prefetch=false"}).zero_prefetch);
  try {
    load_train_config("", {m, out, "zero_prefetch=sometimes"});
    ADD_FAILURE() << "zero_prefetch=sometimes was accepted";
  } catch (const pb::Error& e) {
    EXPECT_NE(std::string(e.what()).find("zero_prefetch"), std::string::npos) << e.what();
  }
  // ZeroShards refuses a negative prefetch depth, naming it.
  auto model = make_train_model(zero_config(dir, 1, "none"), torch::kCPU);
  Distributed one(DistEnv{}, torch::kCPU, std::chrono::milliseconds(10000));
  ZeroOptions zo;
  zo.stage = ZeroStage::kThree;
  zo.prefetch = -1;
  try {
    ZeroShards z(model->named_parameters(), one, zo);
    ADD_FAILURE() << "prefetch -1 was accepted";
  } catch (const pb::Error& e) {
    EXPECT_NE(std::string(e.what()).find("prefetch -1"), std::string::npos) << e.what();
  }
}
