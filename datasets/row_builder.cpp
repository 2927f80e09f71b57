// Row builders, selectable by name: padding, random (the paper's), greedy (the paper's), bfd.
#include "datasets/row_builder.h"

#include <algorithm>
#include <numeric>
#include <unordered_map>

#include "core/error.h"

namespace packbench::data {

PackingMethod parse_packing_method(const std::string& name) {
  if (name == "padding") return PackingMethod::kPadding;
  if (name == "random") return PackingMethod::kRandom;
  if (name == "greedy") return PackingMethod::kGreedy;
  if (name == "bfd") return PackingMethod::kBfd;
  throw Error("unknown method '" + name + "' (known: padding, random, greedy, bfd)");
}

const char* packing_method_name(PackingMethod m) {
  switch (m) {
    case PackingMethod::kPadding: return "padding";
    case PackingMethod::kRandom: return "random";
    case PackingMethod::kGreedy: return "greedy";
    case PackingMethod::kBfd: return "bfd";
  }
  return "?";
}

AttentionLayout parse_attention_layout(const std::string& name) {
  if (name == "cross") return AttentionLayout::kCross;
  if (name == "block") return AttentionLayout::kBlock;
  throw Error("unknown attention layout '" + name + "' (known: cross, block)");
}

std::pair<int64_t, int64_t> contiguous_shard(int64_t n, int64_t num_shards, int64_t index) {
  int64_t div = n / num_shards, mod = n % num_shards;
  int64_t begin = div * index + std::min(index, mod);
  int64_t end = begin + div + (index < mod ? 1 : 0);
  return {begin, end};
}

namespace {

// Fills position_ids from segment_offsets for the chosen layout.
void finish_row(Row& r, AttentionLayout layout) {
  const size_t n = r.input_ids.size();
  r.position_ids.resize(n);
  if (layout == AttentionLayout::kCross) {
    std::iota(r.position_ids.begin(), r.position_ids.end(), 0);
  } else {
    for (size_t s = 0; s + 1 < r.segment_offsets.size(); ++s)
      for (int32_t i = r.segment_offsets[s]; i < r.segment_offsets[s + 1]; ++i) r.position_ids[i] = i - r.segment_offsets[s];
  }
}

void append_segment(Row& r, const std::vector<int32_t>& ids, const std::vector<int32_t>& labels, size_t b, size_t e) {
  if (r.segment_offsets.empty()) r.segment_offsets.push_back(0);
  r.input_ids.insert(r.input_ids.end(), ids.begin() + b, ids.begin() + e);
  r.labels.insert(r.labels.end(), labels.begin() + b, labels.begin() + e);
  r.segment_offsets.push_back(static_cast<int32_t>(r.input_ids.size()));
}

// "Next unused position >= p" with path halving (union-find over positions).
struct NextFree {
  std::vector<int32_t> parent;
  explicit NextFree(size_t n) : parent(n + 1) { std::iota(parent.begin(), parent.end(), 0); }
  int32_t find(int32_t p) {
    while (parent[p] != p) {
      parent[p] = parent[parent[p]];
      p = parent[p];
    }
    return p;
  }
  void take(int32_t p) { parent[p] = p + 1; }
};

}  // namespace

std::vector<std::vector<int32_t>> greedy_pack(const std::vector<int32_t>& lengths, int32_t capacity,
                                              std::vector<int32_t>* dropped, std::vector<int32_t>* alone) {
  const int32_t n = static_cast<int32_t>(lengths.size());
  std::vector<int32_t> order(n);
  std::iota(order.begin(), order.end(), 0);
  // Python's list.sort(reverse=True, key=len) is stable: equal lengths keep their order.
  std::stable_sort(order.begin(), order.end(), [&](int32_t a, int32_t b) { return lengths[a] > lengths[b]; });
  std::vector<int32_t> sorted_len(n);
  for (int32_t i = 0; i < n; ++i) sorted_len[i] = lengths[order[i]];
  // first position whose length is <= c (lengths are non-increasing along `order`)
  auto first_fitting = [&](int32_t c) {
    return static_cast<int32_t>(std::lower_bound(sorted_len.begin(), sorted_len.end(), c, std::greater<int32_t>()) -
                                sorted_len.begin());
  };
  NextFree next(n);
  std::vector<char> used(n, 0);
  std::vector<std::vector<int32_t>> rows;
  for (int32_t idx = 0; idx < n; ++idx) {
    if (used[idx]) continue;
    // The paper's scan from idx: take every unused sample, in order, that still fits.
    std::vector<int32_t> row;
    int32_t cap = capacity, p = idx;
    while (true) {
      int32_t q = next.find(std::max(p, first_fitting(cap)));
      if (q >= n) break;
      row.push_back(order[q]);
      used[q] = 1;
      next.take(q);
      cap -= sorted_len[q];
      p = q + 1;
    }
    if (row.empty()) {  // idx is longer than the capacity and nothing after it fits: kept alone
      used[idx] = 1;
      next.take(idx);
      row.push_back(order[idx]);
      if (alone) alone->push_back(order[idx]);
    }
    rows.push_back(std::move(row));
  }
  if (dropped)
    for (int32_t i = 0; i < n; ++i)
      if (!used[i]) dropped->push_back(order[i]);
  return rows;
}

BinPacking bfd_pack(const std::vector<int32_t>& lengths, int32_t capacity) {
  const int32_t n = static_cast<int32_t>(lengths.size());
  // Counting sort by length, descending, stable.
  std::vector<int32_t> start(capacity + 2, 0);
  for (int32_t l : lengths) {
    if (l < 0 || l > capacity) throw Error("bfd_pack: item length " + std::to_string(l) + " exceeds the capacity");
    ++start[l];
  }
  int32_t acc = 0;
  for (int32_t l = capacity; l >= 0; --l) {
    int32_t c = start[l];
    start[l] = acc;
    acc += c;
  }
  std::vector<int32_t> order(n);
  for (int32_t i = 0; i < n; ++i) order[start[lengths[i]]++] = i;
  // Open bins bucketed by free space (an intrusive stack per free-space value); a bitset over
  // free-space values finds the smallest free space >= the item's length in a few word scans.
  const int32_t words = capacity / 64 + 1;
  std::vector<uint64_t> nonempty(words, 0);
  std::vector<int32_t> head(capacity + 1, -1), next_bin, remaining;
  next_bin.reserve(n / 4 + 16);
  remaining.reserve(n / 4 + 16);
  std::vector<int32_t> bin_of(n);
  for (int32_t item : order) {
    const int32_t len = lengths[item];
    int32_t w = len >> 6, found = -1;
    uint64_t bits = nonempty[w] & (~uint64_t(0) << (len & 63));
    while (true) {
      if (bits) {
        found = (w << 6) + __builtin_ctzll(bits);
        break;
      }
      if (++w >= words) break;
      bits = nonempty[w];
    }
    int32_t bin;
    if (found >= 0) {
      bin = head[found];
      head[found] = next_bin[bin];
      if (head[found] < 0) nonempty[found >> 6] &= ~(uint64_t(1) << (found & 63));
    } else {
      bin = static_cast<int32_t>(remaining.size());
      remaining.push_back(capacity);
      next_bin.push_back(-1);
    }
    bin_of[item] = bin;
    const int32_t left = (remaining[bin] -= len);
    if (left > 0) {
      next_bin[bin] = head[left];
      head[left] = bin;
      nonempty[left >> 6] |= uint64_t(1) << (left & 63);
    }
  }
  // Flat output, each bin's items in the order they were placed.
  BinPacking out;
  const size_t bins = remaining.size();
  out.offsets.assign(bins + 1, 0);
  for (int32_t i = 0; i < n; ++i) ++out.offsets[bin_of[i] + 1];
  for (size_t b = 0; b < bins; ++b) out.offsets[b + 1] += out.offsets[b];
  std::vector<int64_t> fill(out.offsets.begin(), out.offsets.end() - 1);
  out.items.resize(n);
  for (int32_t item : order) out.items[fill[bin_of[item]]++] = item;
  return out;
}

RowBuildResult build_rows(const TokenView& v, const RowBuildOptions& o) {
  if (o.cutoff_len <= 0) throw Error("cutoff_len must be positive");
  if (o.preprocessing_batch <= 0) throw Error("preprocessing_batch must be positive");
  if (o.preprocessing_shards <= 0) throw Error("preprocessing_shards must be positive");
  RowBuildResult res;
  const int64_t n = v.num_samples;
  auto sample = [&](int64_t i, int64_t cutoff) { return build_sample(v.messages(i), cutoff, o.truncation, o.labels); };
  // Appends sample i to a row as one segment; returns whether it was truncated.
  auto append = [&](int64_t i, int64_t cutoff, Row& r) {
    bool t = append_sample(v.messages(i), cutoff, o.truncation, o.labels, r.input_ids, r.labels);
    if (r.segment_offsets.empty()) r.segment_offsets.push_back(0);
    r.segment_offsets.push_back(static_cast<int32_t>(r.input_ids.size()));
    return t;
  };

  if (o.method == PackingMethod::kPadding) {
    res.rows.resize(n);
    for (int64_t i = 0; i < n; ++i) {
      Row& r = res.rows[i];
      r.input_ids.reserve(std::min<int64_t>(v.length(i), o.cutoff_len));
      r.labels.reserve(r.input_ids.capacity());
      res.truncated_samples += append(i, o.cutoff_len, r);
      r.segment_offsets = {0, static_cast<int32_t>(r.input_ids.size())};
      finish_row(r, o.attention);
    }
    return res;
  }

  if (o.method == PackingMethod::kBfd) {
    // Items: whole samples (kWhole), truncated long samples (kTruncated), or cutoff-sized chunks
    // of long samples (kChunk, with bfd_split_long). Only long samples are materialized.
    enum Kind : int8_t { kWhole, kTruncated, kChunk };
    struct Item {
      int64_t sample;
      int32_t len;
      Kind kind;
      int32_t chunk;
    };
    std::vector<Item> items;
    items.reserve(n);
    std::unordered_map<int64_t, Sample> long_samples;
    for (int64_t i = 0; i < n; ++i) {
      int64_t len = v.length(i);
      if (len <= o.cutoff_len) {
        items.push_back({i, static_cast<int32_t>(len), kWhole, 0});
      } else if (o.bfd_split_long) {
        ++res.split_samples;
        Sample s = sample(i, 0);
        for (int64_t b = 0, k = 0; b < len; b += o.cutoff_len, ++k)
          items.push_back({i, static_cast<int32_t>(std::min<int64_t>(o.cutoff_len, len - b)), kChunk, static_cast<int32_t>(k)});
        long_samples.emplace(i, std::move(s));
      } else {
        Sample s = sample(i, o.cutoff_len);
        ++res.truncated_samples;
        items.push_back({i, static_cast<int32_t>(s.input_ids.size()), kTruncated, 0});
        long_samples.emplace(i, std::move(s));
      }
    }
    std::vector<int32_t> lens(items.size());
    for (size_t k = 0; k < items.size(); ++k) lens[k] = items[k].len;
    BinPacking bins = bfd_pack(lens, static_cast<int32_t>(o.cutoff_len));
    res.rows.resize(bins.size());
    for (size_t b = 0; b < bins.size(); ++b) {
      Row& r = res.rows[b];
      int64_t total = 0;
      for (int64_t k = bins.offsets[b]; k < bins.offsets[b + 1]; ++k) total += lens[bins.items[k]];
      r.input_ids.reserve(total);
      r.labels.reserve(total);
      for (int64_t k = bins.offsets[b]; k < bins.offsets[b + 1]; ++k) {
        const Item& it = items[bins.items[k]];
        if (it.kind == kWhole) {
          append(it.sample, 0, r);
        } else {
          const Sample& s = long_samples.at(it.sample);
          size_t lo = it.kind == kChunk ? static_cast<size_t>(it.chunk) * o.cutoff_len : 0;
          append_segment(r, s.input_ids, s.labels, lo, lo + it.len);
        }
      }
      finish_row(r, o.attention);
    }
    return res;
  }

  // random and greedy: map batches inside contiguous shards.
  const int64_t shards = std::max<int64_t>(1, std::min<int64_t>(o.preprocessing_shards, n));
  for (int64_t sh = 0; sh < shards && n > 0; ++sh) {
    auto [sb, se] = contiguous_shard(n, shards, sh);
    for (int64_t b0 = sb; b0 < se; b0 += o.preprocessing_batch) {
      int64_t b1 = std::min(se, b0 + o.preprocessing_batch);
      std::vector<Sample> batch;
      if (o.method == PackingMethod::kRandom) {
        batch.reserve(b1 - b0);
        for (int64_t i = b0; i < b1; ++i) batch.push_back(sample(i, 0));
        std::vector<int32_t> ids, labels;
        std::vector<size_t> starts;  // sample start offsets in the concatenation
        for (const auto& s : batch) {
          starts.push_back(ids.size());
          ids.insert(ids.end(), s.input_ids.begin(), s.input_ids.end());
          labels.insert(labels.end(), s.labels.begin(), s.labels.end());
        }
        starts.push_back(ids.size());
        const size_t block = static_cast<size_t>(o.cutoff_len);
        const size_t total = ids.size() / block * block;
        std::vector<char> kept(batch.size(), 0);
        size_t k = 0;  // first sample that may overlap the current block
        for (size_t b = 0; b < total; b += block) {
          bool trainable = std::any_of(labels.begin() + b, labels.begin() + b + block, [](int32_t l) { return l != kIgnoreIndex; });
          while (k < batch.size() && starts[k + 1] <= b) ++k;
          if (!trainable) continue;
          Row r;
          r.segment_offsets.push_back(0);
          for (size_t j = k; j < batch.size() && starts[j] < b + block; ++j) {
            size_t lo = std::max(starts[j], b), hi = std::min(starts[j + 1], b + block);
            if (hi <= lo) continue;  // an empty sample
            r.input_ids.insert(r.input_ids.end(), ids.begin() + lo, ids.begin() + hi);
            r.labels.insert(r.labels.end(), labels.begin() + lo, labels.begin() + hi);
            r.segment_offsets.push_back(static_cast<int32_t>(r.input_ids.size()));
            kept[j] = 1;
          }
          finish_row(r, o.attention);
          res.rows.push_back(std::move(r));
        }
        for (size_t j = 0; j < batch.size(); ++j) {
          res.dropped_samples += !kept[j];
          // a kept sample that crosses a block edge is split across rows (or partly dropped)
          if (kept[j] && starts[j] / block != (starts[j + 1] - 1) / block) ++res.split_samples;
        }
      } else {
        std::vector<int32_t> lens;
        for (int64_t i = b0; i < b1; ++i) lens.push_back(static_cast<int32_t>(v.length(i)));
        std::vector<int32_t> dropped, alone;
        auto rows = greedy_pack(lens, static_cast<int32_t>(o.cutoff_len), &dropped, &alone);
        res.dropped_samples += static_cast<int64_t>(dropped.size());
        for (const auto& row : rows) {
          Row r;
          if (row.size() == 1 && lens[row[0]] > o.cutoff_len) {
            // kept alone: re-encoded with the cutoff (encode_multiturn(cutoff_len, reserved_label_len))
            append(b0 + row[0], o.cutoff_len, r);
            ++res.truncated_samples;
          } else {
            int64_t total = 0;
            for (int32_t it : row) total += lens[it];
            r.input_ids.reserve(total);
            r.labels.reserve(total);
            for (int32_t it : row) append(b0 + it, 0, r);
          }
          finish_row(r, o.attention);
          res.rows.push_back(std::move(r));
        }
      }
    }
  }
  return res;
}

}  // namespace packbench::data
