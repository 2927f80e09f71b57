// ZeRO over Gloo: zero1/2/3 at 2 and 4 ranks train like 1 unsharded rank; shards hold a quarter at 4 ranks; offload, kill -9, resume and consolidation.
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
#include "trainers/model/llama_config.h"
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
  const double opt1 = one.results["optimizer_state_bytes_per_rank"][0].get<double>();
  const double par1 = one.results["param_bytes_per_rank"][0].get<double>();
  const double grad1 = one.results["grad_bytes_per_rank"][0].get<double>();
  for (int r = 0; r < 4; ++r) {
    const double opt = four.results["optimizer_state_bytes_per_rank"][r].get<double>();
    const double par = four.results["param_bytes_per_rank"][r].get<double>();
    const double grad = four.results["grad_bytes_per_rank"][r].get<double>();
    EXPECT_NEAR(opt / opt1, 0.25, 0.01) << "rank " << r;
    // Parameters between layers: the shards plus the embedding and head, gathered while a
    // micro-batch runs (about 1% of this model).
    EXPECT_GT(par / par1, 0.24) << "rank " << r;
    EXPECT_LT(par / par1, 0.28) << "rank " << r;
    EXPECT_LT(grad / grad1, 0.30) << "rank " << r;
    EXPECT_GT(four.results["peak_memory_bytes_per_rank"][r].get<double>(), 0.0);
  }
  // packbench plan's figures for the same run (4 ranks, zero3, float32 on the CPU) against what the
  // ranks measured: the moments exactly (up to shard padding), the parameters between layers within
  // the shards plus the units gathered at that moment, the gradients within shards plus unreduced.
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
