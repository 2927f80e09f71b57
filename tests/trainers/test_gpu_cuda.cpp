// On a CUDA device (label gpu; skipped without one): NCCL, a bf16 training step, KV-cache generation.
#include <gtest/gtest.h>
#include <torch/torch.h>

#include <chrono>
#include <cmath>
#include <unistd.h>

#include <cstdlib>
#include <string>

#include "tests/inference/test_engine_util.h"
#include "tests/trainers/test_train_util.h"
#include "trainers/parallel/distributed.h"
#include "inference/engine_llama.h"
#include "inference/generate.h"
#include "trainers/train_model.h"
#include "trainers/trainer.h"

namespace pb = packbench;
using namespace packbench::train;

namespace {

// Skips the test, saying why, unless this build has CUDA and a device is visible.
#define PB_REQUIRE_CUDA()                                                                        \
  do {                                                                                           \
    if (!torch::cuda::is_available())                                                           \
      GTEST_SKIP() << "no CUDA device visible to this LibTorch (" TORCH_VERSION "): gpu tests need " \
                      "the CUDA build (make build-cuda) on a machine with a GPU";                 \
  } while (0)

// A free-enough port for the one-rank store: base + pid, away from the usual 29500.
int test_port() { return 31000 + static_cast<int>(::getpid() % 2000); }

TrainOutcome one_step(torch::Device device, bool bf16) {
  TrainConfig cfg = testutil::tiny_config(pb::testing::temp_dir("gpu-step"));
  cfg.max_steps = 1;
  cfg.bf16 = bf16;
  cfg.seed = 3;
  TrainData data;
  data.train_rows = testutil::make_rows(8, 3, 11);
  auto model = make_train_model(cfg, device);
  Distributed dist(DistEnv{}, device, std::chrono::milliseconds(10000));
  TrainHooks hooks;
  hooks.measure_gemm_ceiling = false;
  hooks.write_outputs = false;
  return run_training(cfg, *model, data, dist, hooks);
}

}  // namespace

TEST(Gpu, NcclGroupOfOneRankAllReduces) {
  PB_REQUIRE_CUDA();
  DistEnv env;
  env.world_size = 1;
  env.master_port = test_port();
  // World size 1 needs no group: ask for one, so the collectives take the path of many ranks.
  Distributed dist(env, torch::Device(torch::kCUDA, 0), std::chrono::milliseconds(30000), /*group_when_alone=*/true);
  auto a = torch::arange(10, torch::TensorOptions().dtype(torch::kFloat).device(torch::kCUDA));
  auto b = torch::full({3}, 2.5, torch::TensorOptions().dtype(torch::kFloat).device(torch::kCUDA));
  dist.all_reduce_sum({a, b}, 16);  // buckets smaller than the tensors
  EXPECT_TRUE(torch::equal(a.cpu(), torch::arange(10, torch::kFloat)));
  EXPECT_TRUE(torch::equal(b.cpu(), torch::full({3}, 2.5, torch::kFloat)));
  EXPECT_EQ(dist.all_reduce_sum(std::vector<double>{1.5, -2.0}), (std::vector<double>{1.5, -2.0}));
  dist.barrier();
}

TEST(Gpu, Bf16TrainingStepMatchesTheCpuFp32Step) {
  PB_REQUIRE_CUDA();
  const TrainOutcome cpu = one_step(torch::kCPU, false);
  const TrainOutcome gpu = one_step(torch::Device(torch::kCUDA, 0), true);
  ASSERT_EQ(cpu.step_losses.size(), 1u);
  ASSERT_EQ(gpu.step_losses.size(), 1u);
  // bf16 keeps 8 bits of mantissa: a relative error of a few 2^-8 on a loss of ~4.
  EXPECT_NEAR(gpu.step_losses[0], cpu.step_losses[0], 0.02 * std::abs(cpu.step_losses[0]));
  EXPECT_NEAR(gpu.grad_norms[0], cpu.grad_norms[0], 0.05 * std::abs(cpu.grad_norms[0]));
}

TEST(Gpu, GreedyKvCacheGenerationEqualsTheCpu) {
  PB_REQUIRE_CUDA();
  auto tok = std::make_shared<pb::testing::TinyTokenizer>();
  auto cpu_model = pb::testing::tiny_llama(tok->vocab_size());
  auto gpu_model = pb::testing::tiny_llama(tok->vocab_size());
  gpu_model->to(torch::Device(torch::kCUDA, 0));
  std::vector<GenerationInput> in;
  for (const char* p : {"Question: what is the answer?\nAnswer:", "hi", "The quick brown fox jumps over the"}) {
    GenerationInput g;
    g.prompt = tok->encode(p, true);
    g.max_new_tokens = 24;
    in.push_back(g);
  }
  GenerateOptions o;
  o.batch_size = 4;
  auto cpu_backend = make_llama_backend(cpu_model);
  auto gpu_backend = make_llama_backend(gpu_model);
  const auto want = generate(*cpu_backend, tok.get(), in, o);
  const auto got = generate(*gpu_backend, tok.get(), in, o);
  ASSERT_EQ(got.size(), want.size());
  for (size_t i = 0; i < want.size(); ++i) EXPECT_EQ(got[i].tokens, want[i].tokens) << "prompt " << i;
}
