// Collation: the rows of one micro-batch to flat [B, T] int arrays (the trainer makes tensors).
#pragma once

#include <cstdint>
#include <vector>

#include "datasets/types.h"

namespace packbench::data {

// Row-major [B, T] arrays. T is the longest row rounded up to a multiple of pad_multiple, as
// LLaMA-Factory's DataCollatorForSeq2Seq(pad_to_multiple_of=8) pads on the right.
struct CollatedBatch {
  int64_t batch = 0, seq_len = 0;
  std::vector<int32_t> input_ids;       // pads: pad_id
  std::vector<int32_t> labels;          // pads: -100
  std::vector<int32_t> position_ids;    // the row's own positions; pads continue counting
  std::vector<int32_t> attention_mask;  // 1 real token, 0 pad
  std::vector<int32_t> segment_ids;     // 0, 1, ... per sample inside the row; pads -1
  int64_t pad_tokens = 0;
};

CollatedBatch collate(const std::vector<const Row*>& rows, int32_t pad_id, int pad_multiple = 8);

// Pad tokens that collate() would add for this micro-batch (without building it).
int64_t pad_tokens_for(const std::vector<const Row*>& rows, int pad_multiple = 8);

}  // namespace packbench::data
