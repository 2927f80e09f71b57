// Row builders, selectable by name: padding, random (the paper's), greedy (the paper's), bfd.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "datasets/chat_template.h"
#include "datasets/token_store.h"
#include "datasets/types.h"

namespace packbench::data {

enum class PackingMethod { kPadding, kRandom, kGreedy, kBfd };
PackingMethod parse_packing_method(const std::string& name);  // throws packbench::Error
const char* packing_method_name(PackingMethod m);
AttentionLayout parse_attention_layout(const std::string& name);  // "cross" | "block"

struct RowBuildOptions {
  PackingMethod method = PackingMethod::kPadding;
  AttentionLayout attention = AttentionLayout::kCross;
  int64_t cutoff_len = 4096;
  int64_t preprocessing_batch = 1000;  // samples per map batch (random, greedy)
  int64_t preprocessing_shards = 1;    // contiguous shards, each mapped in batches (random, greedy)
  TruncationRule truncation = TruncationRule::kInferMaxLen;
  LabelOptions labels;
  bool bfd_split_long = false;  // bfd: split samples longer than cutoff_len into cutoff_len chunks
};

struct RowBuildResult {
  std::vector<Row> rows;
  int64_t truncated_samples = 0;  // samples cut by cutoff_len (padding, greedy's lone long rows, bfd)
  int64_t dropped_samples = 0;    // samples with no token in any row
  int64_t split_samples = 0;      // samples spread over several rows (random; bfd with split)
};

// Builds rows from tokenized samples, as the paper's LLaMA-Factory 0.7.1 fork does:
//  padding: one sample per row, truncated per turn (preprocess_supervised_dataset).
//  random:  per map batch, all samples concatenated untruncated, cut into cutoff_len blocks,
//           the remainder dropped, all-(-100) blocks skipped (preprocess_packed_supervised_dataset).
//  greedy:  per map batch, stable sort by length descending; each row starts at the first unused
//           sample and takes, in order, every later unused sample that still fits; a sample longer
//           than cutoff_len is dropped unless its row stays empty, then kept alone, truncated
//           (preprocess_packed_without_cut_supervised_dataset). O(n log n) per batch here.
//  bfd:     best-fit decreasing over the whole dataset (not batched); long samples truncated
//           (default) or split (bfd_split_long), never dropped.
// Map batches: the samples are split into preprocessing_shards contiguous shards (Hugging Face
// datasets' shard(contiguous=True)), each cut into batches of preprocessing_batch; rows come out
// shard by shard, batch by batch.
RowBuildResult build_rows(const TokenView& samples, const RowBuildOptions& options);

// Length-only packers (the cores of greedy and bfd), for benchmarks and tests.
// Each returns rows as lists of item indices in the order they were placed.
// bfd_pack: items must be <= capacity. greedy_pack: lengths of one map batch; `dropped` gets
// the items left out and `alone` the long items kept alone (to be truncated).
// Bins in a flat layout: bin b holds items[offsets[b] .. offsets[b+1]).
struct BinPacking {
  std::vector<int32_t> items;
  std::vector<int64_t> offsets{0};
  size_t size() const { return offsets.size() - 1; }
  std::vector<int32_t> bin(size_t b) const {
    return std::vector<int32_t>(items.begin() + offsets[b], items.begin() + offsets[b + 1]);
  }
};
BinPacking bfd_pack(const std::vector<int32_t>& lengths, int32_t capacity);
std::vector<std::vector<int32_t>> greedy_pack(const std::vector<int32_t>& lengths, int32_t capacity,
                                              std::vector<int32_t>* dropped, std::vector<int32_t>* alone);
// Hugging Face datasets' contiguous shard bounds: [begin, end) of shard `index` of `num_shards`.
std::pair<int64_t, int64_t> contiguous_shard(int64_t n, int64_t num_shards, int64_t index);

}  // namespace packbench::data
