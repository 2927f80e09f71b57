// Rows to the tensors of one micro-batch, with shifted targets.
#include "trainers/collate_torch.h"

#include <algorithm>

namespace packbench::train {
namespace {

// The target for token t of `row` (label t+1, or ignored), per the layout's visibility.
template <typename F>
void for_each_target(const data::Row& row, data::AttentionLayout layout, F&& f) {
  const int64_t n = static_cast<int64_t>(row.input_ids.size());
  size_t seg = 0;  // segment of token t
  for (int64_t t = 0; t < n; ++t) {
    while (seg + 1 < row.segment_offsets.size() && t >= row.segment_offsets[seg + 1]) ++seg;
    int64_t target = data::kIgnoreIndex;
    if (t + 1 < n) {
      target = row.labels[t + 1];
      const bool crosses = seg + 1 < row.segment_offsets.size() && t + 1 >= row.segment_offsets[seg + 1];
      if (layout == data::AttentionLayout::kBlock && crosses) target = data::kIgnoreIndex;
    }
    f(t, static_cast<int64_t>(seg), target);
  }
}

}  // namespace

int64_t trainable_targets(const data::Row& row, data::AttentionLayout layout) {
  int64_t n = 0;
  for_each_target(row, layout, [&](int64_t, int64_t, int64_t target) { n += target != data::kIgnoreIndex; });
  return n;
}

Batch collate(const std::vector<const data::Row*>& rows, data::AttentionLayout layout,
              int pad_to_multiple, int64_t pad_id) {
  Batch b;
  b.layout = layout;
  const int64_t B = static_cast<int64_t>(rows.size());
  int64_t T = 1;
  for (const auto* r : rows) T = std::max<int64_t>(T, static_cast<int64_t>(r->input_ids.size()));
  if (pad_to_multiple > 1) T = (T + pad_to_multiple - 1) / pad_to_multiple * pad_to_multiple;
  auto opts = torch::TensorOptions().dtype(torch::kInt64);
  b.input_ids = torch::full({B, T}, pad_id, opts);
  b.targets = torch::full({B, T}, int64_t(data::kIgnoreIndex), opts);
  b.position_ids = torch::zeros({B, T}, opts);
  b.attention_mask = torch::zeros({B, T}, opts);
  b.segment_ids = torch::full({B, T}, int64_t(-1), opts);
  auto ids = b.input_ids.accessor<int64_t, 2>();
  auto tg = b.targets.accessor<int64_t, 2>();
  auto pos = b.position_ids.accessor<int64_t, 2>();
  auto mask = b.attention_mask.accessor<int64_t, 2>();
  auto seg = b.segment_ids.accessor<int64_t, 2>();
  for (int64_t i = 0; i < B; ++i) {
    const data::Row& r = *rows[i];
    const int64_t n = static_cast<int64_t>(r.input_ids.size());
    b.row_lengths.push_back(n);
    b.real_tokens += n;
    for_each_target(r, layout, [&](int64_t t, int64_t s, int64_t target) {
      ids[i][t] = r.input_ids[t];
      pos[i][t] = t < static_cast<int64_t>(r.position_ids.size()) ? r.position_ids[t] : t;
      mask[i][t] = 1;
      seg[i][t] = s;
      tg[i][t] = target;
      b.trainable_tokens += target != data::kIgnoreIndex;
    });
  }
  b.padded_tokens = B * T;
  return b;
}

}  // namespace packbench::train
