// Checkpoints: resume after kill -9 is bitwise identical on CPU; NaN stops the run; HF outputs.
#include <gtest/gtest.h>

#include <fmt/format.h>
#include <signal.h>
#include <unistd.h>

#include <filesystem>
#include <nlohmann/json.hpp>

#include "core/atomic_file.h"
#include "core/error.h"
#include "tests/common/test_files.h"
#include "tests/trainers/test_train_util.h"
#include "trainers/checkpoint.h"
#include "trainers/parallel/launch.h"
#include "trainers/train_model.h"
#include "trainers/trainer.h"

namespace fs = std::filesystem;
namespace pb = packbench;
using namespace packbench::train;

using packbench::testing::self_exe;

namespace {

TrainConfig config(const std::string& out) {
  TrainConfig c = testutil::tiny_config(out);
  c.num_train_epochs = 2;
  c.save_steps = 2;
  c.save_total_limit = 2;
  c.eval_steps = 3;
  c.logging_steps = 2;
  c.resume_from_checkpoint = "auto";
  return c;
}

// 17 rows: 9 micro-batches of 2, 4 steps per epoch.
TrainData data() { return testutil::make_data(17, 4, 21); }

// Runs a training in a child process (launched like `packbench launch --nproc 1`).
int run_child(const std::string& out, int kill_at_step) {
  LaunchOptions lo;
  lo.nproc = 1;
  lo.extra_env = {{"PB_CKPT_OUT", out}, {"PB_CKPT_KILL_AT", std::to_string(kill_at_step)}};
  return launch_local({self_exe(), "--gtest_filter=CheckpointWorker.Run"}, lo);
}

}  // namespace

// Worker mode for the resume test; skipped when run directly.
TEST(CheckpointWorker, Run) {
  const char* out = std::getenv("PB_CKPT_OUT");
  if (!out) GTEST_SKIP() << "worker for Checkpoint.ResumeAfterKillIsBitwiseIdentical (needs PB_CKPT_OUT)";
  const int kill_at = std::atoi(std::getenv("PB_CKPT_KILL_AT"));
  at::set_num_threads(1);
  Distributed dist(DistEnv{}, torch::kCPU, std::chrono::milliseconds(10000));
  TrainConfig cfg = config(out);
  auto model = make_train_model(cfg, torch::kCPU);
  TrainHooks hooks;
  hooks.measure_gemm_ceiling = false;
  hooks.after_step = [&](int64_t step) {
    if (step == kill_at) ::raise(SIGKILL);  // kill -9 after step `kill_at` (its checkpoint is not due)
  };
  TrainOutcome o = run_training(cfg, *model, data(), dist, hooks);
  pb::write_file_atomic(std::string(out) + "/outcome.json",
                        nlohmann::json{{"losses", o.step_losses}, {"resumed_from", o.resumed_from},
                                       {"train_loss", o.train_loss}}.dump());
}

TEST(Checkpoint, ResumeAfterKillIsBitwiseIdentical) {
  const std::string dir = pb::testing::temp_dir("ckpt");
  const std::string a = dir + "/uninterrupted", b = dir + "/killed";
  ASSERT_EQ(run_child(a, -1), 0);
  EXPECT_EQ(run_child(b, 7), 128 + SIGKILL);  // killed after step 7; checkpoint-6 is the latest
  EXPECT_EQ(latest_checkpoint(b), checkpoint_dir(b, 6));
  EXPECT_FALSE(fs::exists(checkpoint_dir(b, 2)));  // save_total_limit 2 kept 4 and 6
  ASSERT_EQ(run_child(b, -1), 0);                   // resumes from checkpoint-6
  const auto ja = nlohmann::json::parse(pb::read_file(a + "/outcome.json"));
  const auto jb = nlohmann::json::parse(pb::read_file(b + "/outcome.json"));
  EXPECT_EQ(jb["resumed_from"], checkpoint_dir(b, 6));
  const auto la = ja["losses"].get<std::vector<double>>(), lb = jb["losses"].get<std::vector<double>>();
  ASSERT_EQ(la.size(), 8u);
  ASSERT_EQ(lb.size(), 2u);  // steps 7 and 8 after the resume
  EXPECT_EQ(lb[0], la[6]);   // bitwise
  EXPECT_EQ(lb[1], la[7]);
  EXPECT_EQ(jb["train_loss"].get<double>(), ja["train_loss"].get<double>());
  EXPECT_EQ(pb::read_file(a + "/model.safetensors"), pb::read_file(b + "/model.safetensors"));

  // Hugging Face Trainer outputs.
  const auto results = nlohmann::json::parse(pb::read_file(a + "/train_results.json"));
  for (const char* k : {"train_runtime", "train_samples_per_second", "train_steps_per_second", "train_loss", "epoch",
                        "total_flos", "train_tokens_per_second", "padding_fraction"})
    EXPECT_TRUE(results.contains(k)) << k;
  EXPECT_DOUBLE_EQ(results["epoch"].get<double>(), 2.0);
  // HF counts samples as rows x epochs: 17 x 2.
  EXPECT_NEAR(results["train_samples_per_second"].get<double>() * results["train_runtime"].get<double>(), 34.0, 0.5);
  const auto state = nlohmann::json::parse(pb::read_file(a + "/trainer_state.json"));
  EXPECT_EQ(state["global_step"], 8);
  EXPECT_EQ(state["max_steps"], 8);
  int losses = 0, evals = 0;
  for (const auto& e : state["log_history"]) {
    losses += e.contains("loss");
    evals += e.contains("eval_loss");
  }
  EXPECT_EQ(losses, 4);  // logging_steps 2
  EXPECT_EQ(evals, 3);   // steps 3 and 6, and the final evaluation
  const std::string log = pb::read_file(a + "/trainer_log.jsonl");
  const auto first = nlohmann::json::parse(log.substr(0, log.find('\n')));
  for (const char* k : {"current_steps", "total_steps", "loss", "learning_rate", "epoch", "percentage", "elapsed_time",
                        "remaining_time"})
    EXPECT_TRUE(first.contains(k)) << k;
  EXPECT_EQ(first["current_steps"], 2);
}

TEST(Checkpoint, HalfWrittenCheckpointsAreNeverTheLatest) {
  const std::string dir = pb::testing::temp_dir("ckpt-tmp");
  fs::create_directories(checkpoint_dir(dir, 4));
  pb::write_file_atomic(checkpoint_dir(dir, 4) + "/trainer_state.json", "{}");
  fs::create_directories(dir + "/.checkpoint-6.tmp-123");  // a save killed half-way
  pb::write_file_atomic(dir + "/.checkpoint-6.tmp-123/trainer_state.json", "{}");
  fs::create_directories(checkpoint_dir(dir, 10));  // no trainer_state.json: not a checkpoint
  EXPECT_EQ(latest_checkpoint(dir), checkpoint_dir(dir, 4));
  EXPECT_EQ(latest_checkpoint(dir + "/missing"), "");
}

TEST(Checkpoint, NonFiniteLossStopsTheRunNamingTheStep) {
  at::set_num_threads(1);
  const std::string out = pb::testing::temp_dir("ckpt-nan");
  TrainConfig cfg = config(out);
  cfg.resume_from_checkpoint = "";
  auto model = make_train_model(cfg, torch::kCPU);
  Distributed dist(DistEnv{}, torch::kCPU, std::chrono::milliseconds(10000));
  TrainHooks hooks;
  hooks.measure_gemm_ceiling = false;
  hooks.after_step = [&](int64_t step) {
    if (step == 2) {
      torch::NoGradGuard ng;
      model->named_parameters().front().second.fill_(std::numeric_limits<float>::quiet_NaN());
    }
  };
  try {
    run_training(cfg, *model, data(), dist, hooks);
    FAIL() << "expected the run to stop";
  } catch (const pb::Error& e) {
    const std::string m = e.what();
    EXPECT_NE(m.find("step 3"), std::string::npos) << m;
    EXPECT_NE(m.find("nan"), std::string::npos) << m;
    EXPECT_NE(m.find("checkpoint-2"), std::string::npos) << m;
  }
  EXPECT_EQ(latest_checkpoint(out), checkpoint_dir(out, 2));
  EXPECT_FALSE(fs::exists(out + "/train_results.json"));
}
