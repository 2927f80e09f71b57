// `packbench train`: configuration, process group, data, model, training loop, outputs.
#include "trainers/train_run.h"
#include "trainers/model/llama_config.h"

#include <fmt/format.h>
#include <nlohmann/json.hpp>

#include <filesystem>
#include <fstream>

#include "core/atomic_file.h"
#include "core/error.h"
#include "trainers/parallel/distributed.h"
#include "trainers/train_model.h"
#include "trainers/trainer.h"

#if PACKBENCH_HAVE_DATA_PIPELINE
#include "datasets/pipeline.h"
#endif

namespace fs = std::filesystem;

namespace packbench::train {

std::vector<data::Row> read_rows_jsonl(const std::string& path, bool block) {
  std::ifstream in(path);
  if (!in) throw Error(fmt::format("{}: cannot read the rows file", path));
  std::vector<data::Row> rows;
  std::string line;
  int64_t lineno = 0;
  while (std::getline(in, line)) {
    ++lineno;
    if (line.find_first_not_of(" \t\r") == std::string::npos) continue;
    data::Row r;
    const char* field = "input_ids";
    try {
      const auto j = nlohmann::json::parse(line);
      r.input_ids = j.at("input_ids").get<std::vector<int32_t>>();
      field = "labels";
      r.labels = j.at("labels").get<std::vector<int32_t>>();
      field = "segment_offsets";
      r.segment_offsets = j.contains("segment_offsets") ? j["segment_offsets"].get<std::vector<int32_t>>()
                                                        : std::vector<int32_t>{0, int32_t(r.input_ids.size())};
      field = "position_ids";
      if (j.contains("position_ids")) r.position_ids = j["position_ids"].get<std::vector<int32_t>>();
    } catch (const nlohmann::json::exception& e) {
      throw Error(fmt::format("{}: line {}: field '{}': {}", path, lineno, field, e.what()));
    }
    const size_t n = r.input_ids.size();
    if (n == 0 || r.labels.size() != n)
      throw Error(fmt::format("{}: line {}: field 'labels': expected {} labels, got {}", path, lineno, n, r.labels.size()));
    if (r.segment_offsets.size() < 2 || r.segment_offsets.front() != 0 || size_t(r.segment_offsets.back()) != n ||
        !std::is_sorted(r.segment_offsets.begin(), r.segment_offsets.end()))
      throw Error(fmt::format("{}: line {}: field 'segment_offsets': must rise from 0 to {}", path, lineno, n));
    if (r.position_ids.empty()) {
      for (size_t s = 0; s + 1 < r.segment_offsets.size(); ++s)
        for (int32_t t = r.segment_offsets[s]; t < r.segment_offsets[s + 1]; ++t)
          r.position_ids.push_back(block ? t - r.segment_offsets[s] : t);
    } else if (r.position_ids.size() != n) {
      throw Error(fmt::format("{}: line {}: field 'position_ids': expected {} values", path, lineno, n));
    }
    rows.push_back(std::move(r));
  }
  return rows;
}

namespace {

TrainData load_data(const TrainConfig& cfg, Distributed& dist) {
  TrainData d;
  const bool block = cfg.attention == "block";
  if (!cfg.rows_file.empty()) {
    auto rows = read_rows_jsonl(cfg.rows_file, block);
    // Holdout: the last val_size of a seeded shuffle (a fraction, or a count when >= 1).
    const int64_t n = static_cast<int64_t>(rows.size());
    int64_t n_eval = cfg.val_size >= 1.0 ? static_cast<int64_t>(cfg.val_size)
                                         : static_cast<int64_t>(std::ceil(cfg.val_size * double(n)));
    n_eval = std::min(n_eval, n - 1);
    auto gen = at::detail::createCPUGenerator(static_cast<uint64_t>(cfg.seed));
    auto perm = at::randperm(n, gen, torch::TensorOptions().dtype(torch::kInt64));
    for (int64_t i = 0; i < n; ++i) {
      auto& r = rows[perm.data_ptr<int64_t>()[i]];
      (i < n - n_eval ? d.train_rows : d.eval_rows).push_back(std::move(r));
    }
    int64_t tokens = 0, trainable = 0;
    for (const auto* part : {&d.train_rows, &d.eval_rows})
      for (const auto& r : *part) {
        tokens += static_cast<int64_t>(r.input_ids.size());
        for (int32_t l : r.labels) trainable += l != data::kIgnoreIndex;
      }
    d.data_stats = {{"rows", n}, {"train_rows", int64_t(d.train_rows.size())}, {"eval_rows", int64_t(d.eval_rows.size())},
                    {"tokens", tokens}, {"trainable_tokens", trainable}, {"source", cfg.rows_file}};
    return d;
  }
#if PACKBENCH_HAVE_DATA_PIPELINE
  data::DataOptions o;
  o.dataset = cfg.dataset;
  o.dataset_dir = cfg.dataset_dir;
  o.tokenizer_dir = cfg.tokenizer_dir;
  // As LLaMA-Factory does, the tokenizer comes with the model unless one is named.
  if (o.tokenizer_dir.empty() && std::filesystem::exists(std::filesystem::path(cfg.model_name_or_path) / "tokenizer.json")) {
    o.tokenizer_dir = cfg.model_name_or_path;
  }
  o.template_name = cfg.template_name;
  o.method = cfg.row_method;
  o.attention = block ? data::AttentionLayout::kBlock : data::AttentionLayout::kCross;
  o.cutoff_len = cfg.cutoff_len;
  o.val_size = cfg.val_size;
  o.seed = cfg.seed;
  o.preprocessing_batch = cfg.preprocessing_batch_size;
  o.preprocessing_shards = cfg.preprocessing_num_workers;
  o.on_bad_record = cfg.on_bad_record;
  o.train_on_prompt = cfg.train_on_prompt;
  o.mask_history = cfg.mask_history;
  o.max_samples = cfg.max_samples;
  o.cache_dir = cfg.cache_dir;
  o.show_progress = dist.is_main();
  o.per_device_batch = cfg.per_device_train_batch_size;
  if (cfg.dataset.empty()) throw Error("training configuration: key 'dataset' (or 'rows_file'): required");
  // Rank 0 tokenizes first (and fills the cache); the others then read the cache.
  data::PreparedData p;
  if (dist.is_main()) p = data::prepare_data(o);
  dist.barrier();
  if (!dist.is_main()) p = data::prepare_data(o);
  d.train_rows = std::move(p.train_rows);
  d.eval_rows = std::move(p.eval_rows);
  p.stats.steps_per_epoch = data::steps_per_epoch(static_cast<int64_t>(d.train_rows.size()),
                                                  cfg.per_device_train_batch_size, dist.world_size(),
                                                  cfg.gradient_accumulation_steps);
  d.data_stats = p.stats.to_json();
  return d;
#else
  throw Error("training configuration: key 'dataset': this build has no data pipeline yet; use rows_file");
#endif
}

}  // namespace

void run_train_command(const std::string& config_path, const std::vector<std::string>& overrides) {
  TrainConfig cfg = load_train_config(config_path, overrides);
  const DistEnv env = dist_env_from_environment();
  const int threads = resolve_num_threads(cfg.num_threads, env.local_world_size);
  at::set_num_threads(threads);
  const torch::Device device = training_device(env.local_rank);
  if (env.world_size > 1 && !distributed_supported())
    throw Error(fmt::format("WORLD_SIZE={}: this packbench was built without c10d process groups", env.world_size));
  Distributed dist(env, device, std::chrono::milliseconds(int64_t(cfg.ddp_timeout) * 1000));

  // Resume: an explicit checkpoint, or the latest one in output_dir unless overwriting.
  if (cfg.resume_from_checkpoint.empty() && !cfg.overwrite_output_dir) cfg.resume_from_checkpoint = "auto";
  if (dist.is_main()) {
    if (fs::exists(cfg.output_dir + "/train_results.json") && !cfg.overwrite_output_dir)
      throw Error(fmt::format("output_dir {} already holds a finished training (train_results.json); set "
                              "overwrite_output_dir=true to train again",
                              cfg.output_dir));
    fs::create_directories(cfg.output_dir);
    const std::string yaml = cfg.to_yaml();
    fmt::print("packbench train: {} process(es), {} thread(s) each, device {}\n{}", env.world_size, threads,
               device.str(), yaml);
    std::fflush(stdout);
    write_file_atomic(cfg.output_dir + "/train_config.yaml", yaml);
  }
  TrainData data = load_data(cfg, dist);
  {
    // A tokenizer that does not belong to the model gives ids past its embedding table.
    const int64_t vocab = LlamaConfig::load(cfg.model_name_or_path).vocab_size;
    for (const auto* part : {&data.train_rows, &data.eval_rows}) {
      for (const auto& r : *part) {
        for (int32_t id : r.input_ids) {
          if (id < 0 || id >= vocab) {
            throw Error(fmt::format("token id {} is outside the model's vocabulary ({} in {}/config.json): is "
                                    "tokenizer_dir ({}) the model's tokenizer?",
                                    id, vocab, cfg.model_name_or_path,
                                    cfg.tokenizer_dir.empty() ? "default" : cfg.tokenizer_dir));
          }
        }
      }
    }
  }
  auto model = make_train_model(cfg, device);
  TrainOutcome out = run_training(cfg, *model, data, dist);
  if (dist.is_main()) fmt::print("packbench train: done: {}\n", out.train_results.dump());
}

}  // namespace packbench::train
