// packbench 'data' subcommand group: raw SFT data to tokens and rows (stats, tokenize), and conversion to sharegpt.
#include <CLI/CLI.hpp>

#include <cmath>
#include <cstdio>
#include <memory>

#include "core/error.h"
#include "core/paths.h"
#include "datasets/pipeline.h"
#include "datasets/row_builder.h"
#include "datasets/sft_convert.h"
#include "harness/commands.h"

namespace packbench::cli {

namespace {

struct StatsArgs {
  data::DataOptions opt;
  std::string attention = "cross";
  int global_batch = 128, per_device_batch = 2, grad_accum = 2;
  double epochs = 4;
  bool json = false, no_cache = false;
};

void run_stats(const StatsArgs& a) {
  data::DataOptions o = a.opt;
  o.attention = data::parse_attention_layout(a.attention);
  o.use_cache = !a.no_cache;
  o.per_device_batch = a.per_device_batch;
  if (a.global_batch <= 0 || a.per_device_batch <= 0 || a.grad_accum <= 0)
    throw Error("--global-batch, --per-device-batch and --grad-accum must be positive");
  if (a.global_batch % (a.per_device_batch * a.grad_accum) != 0)
    throw Error("--global-batch " + std::to_string(a.global_batch) + " is not a multiple of --per-device-batch x --grad-accum (" +
                std::to_string(a.per_device_batch * a.grad_accum) + ")");
  if (!(a.epochs > 0)) throw Error("--epochs must be positive");
  const int world = a.global_batch / (a.per_device_batch * a.grad_accum);
  data::PreparedData d = data::prepare_data(o);
  data::DataStats s = d.stats;
  s.steps_per_epoch = data::steps_per_epoch(s.train_rows, a.per_device_batch, world, a.grad_accum);
  // transformers Trainer: max_steps = ceil(num_train_epochs * num_update_steps_per_epoch)
  s.total_steps = static_cast<int64_t>(std::ceil(a.epochs * static_cast<double>(s.steps_per_epoch)));
  if (a.json) {
    auto j = s.to_json();
    j["method"] = o.method;
    j["cutoff_len"] = o.cutoff_len;
    j["global_batch"] = a.global_batch;
    j["world_size"] = world;
    j["epochs"] = a.epochs;
    std::printf("%s\n", j.dump().c_str());
    return;
  }
  std::printf("dataset            %s (%s, template %s, cutoff %d)\n", o.dataset.c_str(), o.method.c_str(),
              o.template_name.c_str(), o.cutoff_len);
  std::printf("samples            %lld (skipped records %lld)\n", (long long)s.samples, (long long)s.skipped_records);
  std::printf("rows               %lld (train %lld, eval %lld)\n", (long long)s.rows, (long long)s.train_rows,
              (long long)s.eval_rows);
  std::printf("train tokens       %lld (trainable %lld)\n", (long long)s.tokens, (long long)s.trainable_tokens);
  std::printf("pad tokens         %lld (padding fraction %.4f, micro-batch %d)\n", (long long)s.pad_tokens,
              s.padding_fraction, a.per_device_batch);
  std::printf("truncated samples  %lld\n", (long long)s.truncated_samples);
  std::printf("dropped samples    %lld\n", (long long)s.dropped_samples);
  std::printf("steps per epoch    %lld (global batch %d = %d x %d GPUs x %d accumulation)\n", (long long)s.steps_per_epoch,
              a.global_batch, a.per_device_batch, world, a.grad_accum);
  std::printf("total steps        %lld (%g epochs)\n", (long long)s.total_steps, a.epochs);
}

struct ConvertArgs {
  std::string from = "gsm8k", input, out, name;
  int64_t max_samples = -1;
};

void run_convert(const ConvertArgs& a) {
  if (a.from != "gsm8k") throw Error("--from: '" + a.from + "' is not a known source format (known: gsm8k)");
  data::ConvertResult r = data::convert_gsm8k_to_sharegpt(a.input, a.out, a.name, a.max_samples);
  std::printf("wrote %lld conversations to %s (dataset '%s' in %s/dataset_info.json)\n", (long long)r.records,
              r.file.c_str(), a.name.c_str(), a.out.c_str());
}

}  // namespace

void add_data_commands(CLI::App& app) {
  auto* data = app.add_subcommand("data", "raw SFT data to tokens and rows (stats, tokenize)");
  data->require_subcommand(1);
  auto conv = std::make_shared<ConvertArgs>();
  auto* convert = data->add_subcommand("convert", "question/answer JSON lines (GSM8K) to LLaMA-Factory sharegpt + dataset_info.json");
  convert->add_option("--from", conv->from, "source format: gsm8k (`question`, `answer` per line)")->capture_default_str();
  convert->add_option("--input", conv->input, "JSON lines file, e.g. <benchmarks>/gsm8k/train.jsonl")->required();
  convert->add_option("--out", conv->out, "folder to write <name>.json and dataset_info.json into")->required();
  convert->add_option("--name", conv->name, "dataset name in dataset_info.json (and file <name>.json)")->required();
  convert->add_option("--max-samples", conv->max_samples, "first N records (default: all)");
  convert->callback([conv] { run_convert(*conv); });
  auto args = std::make_shared<StatsArgs>();
  auto* stats = data->add_subcommand("stats", "rows, tokens, padding and steps for one method");
  auto& o = args->opt;
  stats->add_option("--dataset", o.dataset, "dataset name(s) in dataset_info.json (comma-separated)")->required();
  stats->add_option("--dataset-dir", o.dataset_dir, "folder holding dataset_info.json")->default_val(".");
  stats->add_option("--tokenizer", o.tokenizer_dir, "folder holding tokenizer.json, or the file (default: the LLaMA-3 cache)");
  stats->add_option("--template", o.template_name, "chat template: llama3_lf07 | llama3 | llama2 | chatml | alpaca")
      ->default_val("llama3_lf07");
  stats->add_option("--method", o.method, "padding | random | greedy | bfd")->required();
  stats->add_option("--attention", args->attention, "packed rows' attention layout: cross | block")->default_val("cross");
  stats->add_option("--cutoff", o.cutoff_len, "cutoff_len (tokens per row)")->required();
  stats->add_option("--global-batch", args->global_batch, "global batch = per-device x GPUs x accumulation")->required();
  stats->add_option("--per-device-batch", args->per_device_batch, "per-device batch (paper 8B: 2)")->default_val(2);
  stats->add_option("--grad-accum", args->grad_accum, "gradient accumulation steps (paper: 2)")->default_val(2);
  stats->add_option("--val-size", o.val_size, "held-out fraction (or count if > 1) of the rows")->default_val(0.1);
  stats->add_option("--epochs", args->epochs, "training epochs")->default_val(4);
  stats->add_option("--seed", o.seed, "split and shuffle seed")->default_val(42);
  stats->add_option("--preprocessing-shards", o.preprocessing_shards, "contiguous shards (the paper's workers: 64)")
      ->default_val(1);
  stats->add_option("--preprocessing-batch", o.preprocessing_batch, "samples per map batch (the paper: 1000)")
      ->default_val(1000);
  stats->add_option("--on-bad-record", o.on_bad_record, "fail | skip")->default_val("fail");
  stats->add_option("--max-samples", o.max_samples, "first N records of each dataset")->default_val(-1);
  stats->add_option("--threads", o.threads, "tokenizer threads (0: all)")->default_val(0);
  stats->add_option("--cache-dir", o.cache_dir, "tokenized cache folder (default: <cache>/data)");
  stats->add_flag("--no-cache", args->no_cache, "neither read nor write the tokenized cache");
  stats->add_flag("--train-on-prompt", o.train_on_prompt, "train on prompt tokens too");
  stats->add_flag("--mask-history", o.mask_history, "train only on the last response");
  stats->add_flag("--bfd-split-long", o.bfd_split_long, "bfd: split long samples instead of truncating them");
  stats->add_flag("--json", args->json, "print one JSON object");
  stats->callback([args] { run_stats(*args); });
  add_data_tokenize_command(*data);
}

}  // namespace packbench::cli
