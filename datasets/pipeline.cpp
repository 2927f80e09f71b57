// The data pipeline's entry point: a LLaMA-Factory dataset to train/eval rows, with statistics.
#include "datasets/pipeline.h"

#include <cmath>
#include <cstdio>
#include <filesystem>
#include <numeric>
#include <random>

#include "datasets/chat_template.h"
#include "datasets/collate.h"
#include "datasets/conversation_reader.h"
#include "datasets/dataset_registry.h"
#include "core/error.h"
#include "datasets/numpy_rng.h"
#include "core/paths.h"
#include "core/progress.h"
#include "datasets/row_builder.h"
#include "datasets/token_cache.h"
#include "datasets/tokenizer.h"

namespace packbench::data {

nlohmann::json DataStats::to_json() const {
  return {{"samples", samples},
          {"rows", rows},
          {"train_rows", train_rows},
          {"eval_rows", eval_rows},
          {"tokens", tokens},
          {"trainable_tokens", trainable_tokens},
          {"pad_tokens", pad_tokens},
          {"padding_fraction", padding_fraction},
          {"truncated_samples", truncated_samples},
          {"dropped_samples", dropped_samples},
          {"skipped_records", skipped_records},
          {"steps_per_epoch", steps_per_epoch},
          {"total_steps", total_steps}};
}

int64_t steps_per_epoch(int64_t rows, int per_device_batch, int world_size, int grad_accum) {
  if (per_device_batch <= 0 || world_size <= 0 || grad_accum <= 0)
    throw Error("per-device batch, world size and gradient accumulation must be positive");
  // Accelerate shards the batch sampler: each rank sees ceil(ceil(rows / per_device) / world)
  // batches (even_batches), which equals ceil(rows / (per_device * world)).
  const int64_t per_step = static_cast<int64_t>(per_device_batch) * world_size;
  const int64_t len_dataloader = (rows + per_step - 1) / per_step;
  // transformers 4.40 Trainer: num_update_steps_per_epoch = max(len_dataloader // grad_accum, 1)
  return std::max<int64_t>(len_dataloader / grad_accum, 1);
}

std::pair<std::vector<int64_t>, std::vector<int64_t>> split_train_eval(int64_t n, double val_size, int seed) {
  std::vector<int64_t> train, eval;
  if (val_size <= 1e-6) {
    train.resize(n);
    std::iota(train.begin(), train.end(), 0);
    return {train, eval};
  }
  // LLaMA-Factory 0.7 split_dataset: val_size > 1 is a count, else a fraction; then Hugging Face
  // datasets' train_test_split: n_test = ceil(test_size * n) for a fraction, n_train = n - n_test.
  int64_t n_test = val_size > 1 ? static_cast<int64_t>(val_size) : static_cast<int64_t>(std::ceil(val_size * n));
  int64_t n_train = n - n_test;
  if (n_test <= 0 || n_train <= 0)
    throw Error("val_size " + std::to_string(val_size) + " leaves an empty train or eval set from " + std::to_string(n) +
                " rows");
  // permutation = np.random.default_rng(seed).permutation(n); test = permutation[:n_test],
  // train = permutation[n_test:]: the same rows as Hugging Face picks.
  if (seed < 0) throw Error("seed must be non-negative (numpy's SeedSequence rejects negative seeds)");
  std::vector<int64_t> perm = numpy_permutation(n, static_cast<uint64_t>(seed));
  eval.assign(perm.begin(), perm.begin() + n_test);
  train.assign(perm.begin() + n_test, perm.end());
  return {train, eval};
}

namespace {

std::string hex64(uint64_t x) {
  char buf[17];
  std::snprintf(buf, sizeof buf, "%016llx", static_cast<unsigned long long>(x));
  return buf;
}

uint64_t cache_key(const std::vector<DatasetSpec>& specs, const std::string& tokenizer_dir, const ChatTemplate& t,
                   const DataOptions& o) {
  std::string k = "packbench-token-cache-v1|" + template_fingerprint(t) + "|" + o.on_bad_record + "|" +
                  std::to_string(o.max_samples);
  // The files Tokenizer::load reads for this path: a folder's two files, or a tokenizer file (and
  // the config beside it when the file is a tokenizer.json).
  namespace fs = std::filesystem;
  const bool is_file = fs::is_regular_file(tokenizer_dir);
  const fs::path dir = is_file ? fs::path(tokenizer_dir).parent_path() : fs::path(tokenizer_dir);
  const bool with_config = !is_file || fs::path(tokenizer_dir).filename() == "tokenizer.json";
  const std::string json_file = is_file ? tokenizer_dir : (dir / "tokenizer.json").string();
  const std::string config_file = with_config ? (dir / "tokenizer_config.json").string() : "";
  for (const auto& [f, p] : {std::pair<const char*, std::string>{"tokenizer.json", json_file},
                             {"tokenizer_config.json", config_file}}) {
    k += "|" + std::string(f) + ":" + (!p.empty() && fs::exists(p) ? hex64(hash_file(p)) : "-");
  }
  for (const auto& s : specs) {
    k += "|" + s.name + ":" + hex64(hash_file(s.file_path)) + ":" + std::to_string(int(s.formatting));
    for (const auto* f : {&s.prompt, &s.query, &s.response, &s.history, &s.system, &s.tools, &s.messages, &s.role_tag,
                          &s.content_tag, &s.user_tag, &s.assistant_tag, &s.observation_tag, &s.function_tag,
                          &s.system_tag})
      k += "," + *f;
    k += s.tags_given ? ",t" : ",f";
  }
  return hash64(k);
}

// Reads and tokenizes every dataset into `store`; returns the record counts.
CacheCounts tokenize_datasets(const std::vector<DatasetSpec>& specs, const TemplateEncoder& enc, const DataOptions& o,
                              TokenStore& store) {
  BadRecordPolicy policy = parse_bad_record_policy(o.on_bad_record);
  int64_t total_bytes = 0;
  for (const auto& s : specs) {
    std::error_code ec;
    auto sz = std::filesystem::file_size(s.file_path, ec);
    if (!ec) total_bytes += static_cast<int64_t>(sz);
  }
  std::unique_ptr<Progress> bar;
  if (o.show_progress) bar = std::make_unique<Progress>("tokenize", total_bytes, "B");
  CacheCounts counts;
  store.tokens.reserve(static_cast<size_t>(total_bytes / 3));  // ~3-4 bytes per token in English text
  int64_t bytes_before = 0, bytes_read = 0;
  std::vector<Conversation> chunk;
  auto flush = [&] {
    if (chunk.empty()) return;
    auto encoded = enc.encode_many(chunk, o.threads);
    for (size_t i = 0; i < chunk.size(); ++i) store.add(encoded[i], chunk[i].record_index);
    chunk.clear();
    if (bar) bar->set(bytes_read);  // progress counts bytes whose records are tokenized
  };
  for (const auto& s : specs) {
    auto rep = read_conversations(
        s, policy, o.max_samples,
        [&](Conversation&& c) {
          chunk.push_back(std::move(c));
          if (chunk.size() >= 4096) flush();
        },
        [&](int64_t done) { bytes_read = bytes_before + done; });
    flush();
    bytes_before += static_cast<int64_t>(std::filesystem::file_size(s.file_path));
    counts.records_read += rep.records;
    counts.skipped_records += rep.skipped;
    if (rep.skipped > 0)
      std::fprintf(stderr, "packbench: skipped %lld bad record(s) in %s; first: %s\n", (long long)rep.skipped,
                   s.file_path.c_str(), rep.first_skip_reason.c_str());
  }
  if (bar) bar->finish();
  return counts;
}

}  // namespace

PreparedData prepare_data(const DataOptions& o) {
  if (o.cutoff_len <= 0) throw Error("cutoff_len must be positive, got " + std::to_string(o.cutoff_len));
  parse_bad_record_policy(o.on_bad_record);
  RowBuildOptions ro;
  ro.method = parse_packing_method(o.method);
  ro.attention = o.attention;
  ro.cutoff_len = o.cutoff_len;
  ro.preprocessing_batch = o.preprocessing_batch;
  ro.preprocessing_shards = o.preprocessing_shards;
  ro.labels.train_on_prompt = o.train_on_prompt;
  ro.labels.mask_history = o.mask_history;
  ro.bfd_split_long = o.bfd_split_long;
  const ChatTemplate& tmpl = get_template(o.template_name);
  ro.truncation = tmpl.truncation;

  auto specs = load_dataset_specs(o.dataset_dir, o.dataset);
  const std::string tok_dir = o.tokenizer_dir.empty() ? default_tokenizer_dir() : o.tokenizer_dir;
  const std::string cdir = o.cache_dir.empty() ? cache_dir() + "/data" : o.cache_dir;

  PreparedData out;
  TokenStore store;
  std::unique_ptr<TokenCache> cache;
  TokenView view;
  CacheCounts counts;
  uint64_t key = 0;
  std::string cache_path;
  if (o.use_cache) {
    key = cache_key(specs, tok_dir, tmpl, o);
    cache_path = cdir + "/" + hex64(key) + ".pbtok";
    if (std::filesystem::exists(cache_path)) {
      try {
        cache = TokenCache::open(cache_path, key);
      } catch (const Error& e) {
        std::fprintf(stderr, "packbench: %s; rebuilding it\n", e.what());
      }
    }
  }
  if (cache) {
    view = cache->view();
    counts = cache->counts();
    out.stats.cache_hit = true;
  } else {
    auto tokenizer = o.tokenizer ? o.tokenizer : Tokenizer::load(tok_dir);
    TemplateEncoder enc(tmpl, tokenizer);
    counts = tokenize_datasets(specs, enc, o, store);
    if (o.use_cache) {
      write_token_cache(cache_path, store, key, counts);
      cache = TokenCache::open(cache_path, key);  // serve from the mapping; frees nothing we still need
      view = cache->view();
    } else {
      view = store.view();
    }
  }
  if (view.num_samples == 0) throw Error("dataset '" + o.dataset + "' has no usable records");

  RowBuildResult built = build_rows(view, ro);
  auto [train_idx, eval_idx] = split_train_eval(static_cast<int64_t>(built.rows.size()), o.val_size, o.seed);
  out.train_rows.reserve(train_idx.size());
  for (int64_t i : train_idx) out.train_rows.push_back(std::move(built.rows[i]));
  for (int64_t i : eval_idx) out.eval_rows.push_back(std::move(built.rows[i]));

  DataStats& st = out.stats;
  st.samples = view.num_samples;
  st.train_rows = static_cast<int64_t>(out.train_rows.size());
  st.eval_rows = static_cast<int64_t>(out.eval_rows.size());
  st.rows = st.train_rows + st.eval_rows;
  st.truncated_samples = built.truncated_samples;
  st.dropped_samples = built.dropped_samples;
  st.skipped_records = counts.skipped_records;
  for (const Row& r : out.train_rows) {
    st.tokens += static_cast<int64_t>(r.input_ids.size());
    for (int32_t l : r.labels) st.trainable_tokens += l != kIgnoreIndex;
  }
  // Pad tokens for one epoch in a seeded shuffled order, micro-batches of per_device_batch.
  std::vector<int64_t> order(out.train_rows.size());
  std::iota(order.begin(), order.end(), 0);
  std::mt19937_64 rng(static_cast<uint64_t>(o.seed) + 1);
  for (int64_t i = static_cast<int64_t>(order.size()) - 1; i > 0; --i)
    std::swap(order[i], order[static_cast<int64_t>(rng() % static_cast<uint64_t>(i + 1))]);
  const size_t mb = static_cast<size_t>(std::max(1, o.per_device_batch));
  for (size_t b = 0; b < order.size(); b += mb) {
    std::vector<const Row*> rows;
    for (size_t i = b; i < std::min(order.size(), b + mb); ++i) rows.push_back(&out.train_rows[order[i]]);
    st.pad_tokens += pad_tokens_for(rows, 8);
  }
  st.padding_fraction = st.tokens + st.pad_tokens > 0 ? double(st.pad_tokens) / double(st.tokens + st.pad_tokens) : 0.0;
  return out;
}

}  // namespace packbench::data
