// Shared by the trainer tests: synthetic rows and data, the tiny reference LLaMA and a quiet config.
#pragma once

#include <random>
#include <string>
#include <vector>

#include "datasets/types.h"
#include "tests/common/test_paths.h"
#include "trainers/train_config.h"
#include "trainers/trainer.h"

namespace packbench::train::testutil {

// n rows of 1..max_segments samples each (prompt untrained, response trained), vocab 64.
inline std::vector<data::Row> make_rows(int n, int max_segments, uint32_t seed, bool block = false) {
  std::mt19937 g(seed);
  auto uni = [&](int lo, int hi) { return std::uniform_int_distribution<int>(lo, hi)(g); };
  std::vector<data::Row> rows;
  for (int i = 0; i < n; ++i) {
    data::Row r;
    r.segment_offsets = {0};
    const int segs = uni(1, max_segments);
    for (int s = 0; s < segs; ++s) {
      const int p = uni(2, 5), a = uni(1, 7);
      for (int t = 0; t < p + a; ++t) {
        const int id = uni(4, 63);
        r.position_ids.push_back(block ? t : static_cast<int32_t>(r.input_ids.size()));
        r.input_ids.push_back(id);
        r.labels.push_back(t < p ? data::kIgnoreIndex : id);
      }
      r.segment_offsets.push_back(static_cast<int32_t>(r.input_ids.size()));
    }
    rows.push_back(std::move(r));
  }
  return rows;
}

// Training and evaluation rows from make_rows (evaluation rows drawn with seed + 1).
inline TrainData make_data(int n_train, int n_eval, uint32_t seed, int max_segments = 3) {
  TrainData d;
  d.train_rows = make_rows(n_train, max_segments, seed);
  d.eval_rows = make_rows(n_eval, max_segments, seed + 1);
  return d;
}

// The tiny LLaMA that scripts/reference/llama_ref.py wrote (vocab 64, hidden 32, 2 layers).
inline std::string tiny_llama_dir() { return packbench::testing::source_dir() + "/tests/fixtures/llama_ref/untied"; }

inline TrainConfig tiny_config(const std::string& output_dir) {
  TrainConfig c;
  c.model_name_or_path = tiny_llama_dir();
  c.output_dir = output_dir;
  c.learning_rate = 3e-3;
  c.lr_scheduler_type = "cosine";
  c.warmup_ratio = 0.2;
  c.per_device_train_batch_size = 2;
  c.gradient_accumulation_steps = 2;
  c.max_grad_norm = 0.5;
  c.weight_decay = 0.1;
  c.logging_steps = 1;
  c.num_threads = 1;
  return c;
}

}  // namespace packbench::train::testutil
