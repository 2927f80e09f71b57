// packbench's first training losses against an independent PyTorch training of the same model.
// Regenerate the fixture with: ~/.cache/packbench/venv/bin/python scripts/reference/train_ref.py
#include <gtest/gtest.h>

#include <nlohmann/json.hpp>

#include "core/atomic_file.h"
#include "tests/common/test_paths.h"
#include "trainers/train_model.h"
#include "trainers/trainer.h"

namespace pb = packbench;
using namespace packbench::train;

namespace {

pb::data::Row make_row(const nlohmann::json& j, bool block) {
  pb::data::Row r;
  r.input_ids = j.at("input_ids").get<std::vector<int32_t>>();
  r.labels = j.at("labels").get<std::vector<int32_t>>();
  r.segment_offsets = j.at("segment_offsets").get<std::vector<int32_t>>();
  for (size_t s = 0; s + 1 < r.segment_offsets.size(); ++s)
    for (int32_t t = r.segment_offsets[s]; t < r.segment_offsets[s + 1]; ++t)
      r.position_ids.push_back(block ? t - r.segment_offsets[s] : t);
  return r;
}

}  // namespace

TEST(TrainReference, FirstLossesMatchPyTorch) {
  const std::string src = pb::testing::source_dir();
  const auto fx = nlohmann::json::parse(pb::read_file(src + "/tests/fixtures/train_ref/train_ref.json"));
  ASSERT_EQ(fx.at("magic"), "packbench-train-ref");
  ASSERT_EQ(fx.at("version"), 1);
  at::set_num_threads(1);
  for (const auto& c : fx.at("cases")) {
    SCOPED_TRACE(c.at("name").get<std::string>());
    const auto& o = c.at("options");
    TrainConfig cfg;
    cfg.model_name_or_path = src + "/" + fx.at("model_dir").get<std::string>();
    cfg.output_dir = pb::testing::temp_dir("train-ref");
    cfg.learning_rate = o.at("learning_rate");
    cfg.weight_decay = o.at("weight_decay");
    cfg.max_grad_norm = o.at("max_grad_norm");
    cfg.warmup_ratio = o.at("warmup_ratio");
    cfg.per_device_train_batch_size = o.at("per_device_train_batch_size");
    cfg.gradient_accumulation_steps = o.at("gradient_accumulation_steps");
    cfg.max_steps = o.at("max_steps");
    cfg.seed = o.at("seed");
    cfg.lr_scheduler_type = o.at("lr_scheduler_type");
    cfg.attention = o.at("attention");
    cfg.loss_normalization = o.at("loss_normalization");
    cfg.logging_steps = 1;
    const bool block = cfg.attention == "block";
    TrainData data;
    for (const auto& r : c.at("rows")) data.train_rows.push_back(make_row(r, block));
    auto model = make_train_model(cfg, torch::kCPU);
    Distributed dist(DistEnv{}, torch::kCPU, std::chrono::milliseconds(10000));
    TrainHooks hooks;
    hooks.measure_gemm_ceiling = false;
    hooks.write_outputs = false;
    const TrainOutcome out = run_training(cfg, *model, data, dist, hooks);
    const auto want = c.at("losses").get<std::vector<double>>();
    const auto want_norm = c.at("grad_norms").get<std::vector<double>>();
    ASSERT_EQ(out.step_losses.size(), want.size());
    for (size_t i = 0; i < want.size(); ++i) {
      EXPECT_NEAR(out.step_losses[i], want[i], 2e-4 * std::abs(want[i])) << "step " << i + 1;
      EXPECT_NEAR(out.grad_norms[i], want_norm[i], 1e-3 * std::abs(want_norm[i])) << "step " << i + 1;
    }
  }
}
