// Collation: the rows of one micro-batch to flat [B, T] int arrays (the trainer makes tensors).
#include "datasets/collate.h"

#include <algorithm>

namespace packbench::data {

namespace {
int64_t padded_len(const std::vector<const Row*>& rows, int pad_multiple) {
  int64_t longest = 0;
  for (const Row* r : rows) longest = std::max<int64_t>(longest, r->input_ids.size());
  if (pad_multiple > 1) longest = (longest + pad_multiple - 1) / pad_multiple * pad_multiple;
  return longest;
}
}  // namespace

int64_t pad_tokens_for(const std::vector<const Row*>& rows, int pad_multiple) {
  int64_t T = padded_len(rows, pad_multiple), pads = 0;
  for (const Row* r : rows) pads += T - static_cast<int64_t>(r->input_ids.size());
  return pads;
}

CollatedBatch collate(const std::vector<const Row*>& rows, int32_t pad_id, int pad_multiple) {
  CollatedBatch b;
  b.batch = static_cast<int64_t>(rows.size());
  b.seq_len = padded_len(rows, pad_multiple);
  const size_t n = static_cast<size_t>(b.batch * b.seq_len);
  b.input_ids.assign(n, pad_id);
  b.labels.assign(n, kIgnoreIndex);
  b.position_ids.assign(n, 0);
  b.attention_mask.assign(n, 0);
  b.segment_ids.assign(n, -1);
  for (int64_t i = 0; i < b.batch; ++i) {
    const Row& r = *rows[i];
    const int64_t L = static_cast<int64_t>(r.input_ids.size());
    const size_t base = static_cast<size_t>(i * b.seq_len);
    std::copy(r.input_ids.begin(), r.input_ids.end(), b.input_ids.begin() + base);
    std::copy(r.labels.begin(), r.labels.end(), b.labels.begin() + base);
    std::copy(r.position_ids.begin(), r.position_ids.end(), b.position_ids.begin() + base);
    std::fill(b.attention_mask.begin() + base, b.attention_mask.begin() + base + L, 1);
    for (size_t s = 0; s + 1 < r.segment_offsets.size(); ++s)
      std::fill(b.segment_ids.begin() + base + r.segment_offsets[s], b.segment_ids.begin() + base + r.segment_offsets[s + 1],
                static_cast<int32_t>(s));
    int32_t next_pos = L > 0 ? r.position_ids[L - 1] + 1 : 0;
    for (int64_t t = L; t < b.seq_len; ++t) b.position_ids[base + t] = next_pos++;
    b.pad_tokens += b.seq_len - L;
  }
  return b;
}

}  // namespace packbench::data
