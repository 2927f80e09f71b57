// Rows (plain arrays from datasets/) to the tensors of one micro-batch, with shifted targets.
#pragma once

#include <torch/torch.h>

#include <cstdint>
#include <vector>

#include "datasets/types.h"

namespace packbench::train {

struct Batch {
  data::AttentionLayout layout = data::AttentionLayout::kCross;
  torch::Tensor input_ids;       // [B, T] int64, pads = pad_id
  torch::Tensor targets;         // [B, T] int64: labels shifted left by one, -100 where not trained
  torch::Tensor position_ids;    // [B, T] int64 (pads 0)
  torch::Tensor attention_mask;  // [B, T] int64, 1 real, 0 pad
  torch::Tensor segment_ids;     // [B, T] int64: sample index within the row; pads -1
  int64_t real_tokens = 0;       // non-pad tokens
  int64_t padded_tokens = 0;     // B * T
  int64_t trainable_tokens = 0;  // targets != -100
  std::vector<int64_t> row_lengths;
};

// Collates rows into [B, T] with T the longest row rounded up to a multiple of `pad_to_multiple`
// (LLaMA-Factory's collator pads to 8). The target of token t is label t+1; with block attention
// a target that crosses a sample boundary is not trained (the next sample is not visible).
Batch collate(const std::vector<const data::Row*>& rows, data::AttentionLayout layout,
              int pad_to_multiple = 8, int64_t pad_id = 0);

// Trainable targets a row contributes (the same count collate() gives), without tensors.
int64_t trainable_targets(const data::Row& row, data::AttentionLayout layout);

}  // namespace packbench::train
