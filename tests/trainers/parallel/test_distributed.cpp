// Data parallelism over Gloo: 2 ranks x batch b match 1 rank x batch 2b; a dead rank fails the rest.
#include <gtest/gtest.h>

#include <fmt/format.h>
#include <signal.h>
#include <unistd.h>

#include <chrono>
#include <fstream>
#include <nlohmann/json.hpp>

#include "core/atomic_file.h"
#include "core/error.h"
#include "tests/common/test_files.h"
#include "tests/trainers/test_train_util.h"
#include "trainers/parallel/distributed.h"
#include "trainers/parallel/launch.h"
#include "trainers/train_model.h"
#include "trainers/trainer.h"

namespace pb = packbench;
using namespace packbench::train;

using packbench::testing::self_exe;

namespace {

TrainConfig base_config(const std::string& out, int per_device) {
  TrainConfig c = testutil::tiny_config(out);
  c.per_device_train_batch_size = per_device;
  c.max_steps = 4;
  c.save_steps = 0;
  c.eval_steps = 2;
  c.per_device_eval_batch_size = 2;
  c.loss_normalization = "global_tokens";
  return c;
}

// 16 rows: divisible by the global batch, no repeated rows.
TrainData base_data() { return testutil::make_data(16, 5, 5); }

nlohmann::json outcome_json(const TrainOutcome& o) {
  nlohmann::json e = nlohmann::json::array();
  for (auto& [s, l] : o.eval_losses) e.push_back(l);
  return {{"losses", o.step_losses}, {"grad_norms", o.grad_norms}, {"eval", e}};
}

}  // namespace

// Worker mode: run by the tests below through launch_local; skipped when run directly.
TEST(DistributedWorker, Run) {
  const char* out = std::getenv("PB_DIST_OUT");
  if (!out) GTEST_SKIP() << "worker for the Distributed tests (needs PB_DIST_OUT)";
  const std::string mode = std::getenv("PB_DIST_MODE") ? std::getenv("PB_DIST_MODE") : "train";
  at::set_num_threads(1);
  const DistEnv env = dist_env_from_environment();
  const std::string result_path = fmt::format("{}.rank{}.json", out, env.rank);
  try {
    Distributed dist(env, torch::kCPU, std::chrono::milliseconds(30000));
    TrainConfig cfg = base_config(std::string(out) + ".train", 2);
    if (mode == "die") cfg.max_steps = 50;
    auto model = make_train_model(cfg, torch::kCPU);
    TrainHooks hooks;
    hooks.measure_gemm_ceiling = false;
    hooks.after_step = [&](int64_t step) {
      if (mode == "die" && env.rank == 1 && step == 2) ::raise(SIGKILL);
    };
    TrainOutcome o = run_training(cfg, *model, base_data(), dist, hooks);
    pb::write_file_atomic(result_path, outcome_json(o).dump());
  } catch (const std::exception& e) {
    pb::write_file_atomic(result_path, nlohmann::json{{"error", e.what()}}.dump());
    FAIL() << e.what();
  }
}

TEST(Distributed, EnvironmentIsReadLikeTorchrun) {
  ::setenv("WORLD_SIZE", "4", 1);
  ::setenv("RANK", "3", 1);
  ::setenv("LOCAL_WORLD_SIZE", "2", 1);
  ::unsetenv("LOCAL_RANK");
  DistEnv e = dist_env_from_environment();
  EXPECT_EQ(e.world_size, 4);
  EXPECT_EQ(e.rank, 3);
  EXPECT_EQ(e.local_rank, 1);
  ::setenv("RANK", "4", 1);
  EXPECT_THROW(dist_env_from_environment(), pb::Error);
  for (const char* v : {"WORLD_SIZE", "RANK", "LOCAL_WORLD_SIZE"}) ::unsetenv(v);
}

TEST(Distributed, TwoRanksMatchOneRankWithTwiceTheBatch) {
  if (!distributed_supported()) GTEST_SKIP() << "built without Gloo (libgloo-dev)";
  at::set_num_threads(1);
  const std::string dir = pb::testing::temp_dir("dist");
  // One process, per-device batch 4.
  Distributed one(DistEnv{}, torch::kCPU, std::chrono::milliseconds(10000));
  TrainConfig cfg = base_config(dir + "/single", 4);
  auto model = make_train_model(cfg, torch::kCPU);
  TrainHooks hooks;
  hooks.measure_gemm_ceiling = false;
  const TrainOutcome single = run_training(cfg, *model, base_data(), one, hooks);
  // Two processes, per-device batch 2.
  LaunchOptions lo;
  lo.nproc = 2;
  lo.extra_env = {{"PB_DIST_OUT", dir + "/two"}, {"PB_DIST_MODE", "train"}};
  const int rc = launch_local({self_exe(), "--gtest_filter=DistributedWorker.Run"}, lo);
  ASSERT_EQ(rc, 0);
  for (int r = 0; r < 2; ++r) {
    const auto j = nlohmann::json::parse(pb::read_file(fmt::format("{}/two.rank{}.json", dir, r)));
    ASSERT_FALSE(j.contains("error")) << j.dump();
    const auto losses = j.at("losses").get<std::vector<double>>();
    const auto norms = j.at("grad_norms").get<std::vector<double>>();
    const auto evals = j.at("eval").get<std::vector<double>>();
    ASSERT_EQ(losses.size(), single.step_losses.size());
    for (size_t i = 0; i < losses.size(); ++i) {
      EXPECT_NEAR(losses[i], single.step_losses[i], 1e-5 * single.step_losses[i]) << "rank " << r << " step " << i + 1;
      EXPECT_NEAR(norms[i], single.grad_norms[i], 1e-4 * single.grad_norms[i]) << "rank " << r << " step " << i + 1;
    }
    ASSERT_EQ(evals.size(), single.eval_losses.size());
    for (size_t i = 0; i < evals.size(); ++i) EXPECT_NEAR(evals[i], single.eval_losses[i].second, 1e-5 * evals[i]);
  }
  // Rank 0 wrote the outputs; the loss went down.
  EXPECT_TRUE(std::filesystem::exists(dir + "/two.train/train_results.json"));
  EXPECT_LT(single.step_losses.back(), single.step_losses.front());
}

TEST(Distributed, ADeadRankFailsTheOthersWithAClearMessage) {
  if (!distributed_supported()) GTEST_SKIP() << "built without Gloo (libgloo-dev)";
  const std::string dir = pb::testing::temp_dir("dist-die");
  LaunchOptions lo;
  lo.nproc = 2;
  lo.grace_seconds = 60;  // give rank 0 time to notice by itself before the launcher stops it
  lo.extra_env = {{"PB_DIST_OUT", dir + "/die"}, {"PB_DIST_MODE", "die"}};
  const auto t0 = std::chrono::steady_clock::now();
  const int rc = launch_local({self_exe(), "--gtest_filter=DistributedWorker.Run"}, lo);
  const double seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
  EXPECT_EQ(rc, 128 + SIGKILL);  // the first failure: rank 1 killed
  EXPECT_LT(seconds, 55.0);
  const auto j = nlohmann::json::parse(pb::read_file(dir + "/die.rank0.json"));
  ASSERT_TRUE(j.contains("error")) << j.dump();
  const std::string msg = j["error"];
  EXPECT_NE(msg.find("rank 0"), std::string::npos) << msg;
  EXPECT_NE(msg.find("failed"), std::string::npos) << msg;
}

// A group of one process (what the gpu test does with NCCL) through Gloo on the CPU: the
// collectives run through the group and leave one rank's values as they are.
TEST(Distributed, GroupOfOneRankRunsTheCollectives) {
  if (!distributed_supported()) GTEST_SKIP() << "built without Gloo (libgloo-dev)";
  DistEnv env;
  env.master_port = 33000 + static_cast<int>(::getpid() % 2000);
  Distributed dist(env, torch::kCPU, std::chrono::milliseconds(20000), /*group_when_alone=*/true);
  auto a = torch::arange(10, torch::kFloat);
  auto b = torch::full({3}, 2.5, torch::kDouble);
  dist.all_reduce_sum({a, b}, 16);  // buckets smaller than the tensors, two dtypes
  EXPECT_TRUE(torch::equal(a, torch::arange(10, torch::kFloat)));
  EXPECT_TRUE(torch::equal(b, torch::full({3}, 2.5, torch::kDouble)));
  EXPECT_EQ(dist.all_reduce_sum(std::vector<double>{1.5, -2.0}), (std::vector<double>{1.5, -2.0}));
  dist.barrier();
}
