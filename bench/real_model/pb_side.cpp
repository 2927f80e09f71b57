// packbench's side of bench/real_model/compare.py: training steps and greedy generation on a real model folder, step by step on request.
//
// Not meant to be run by hand; compare.py starts it and talks to it over stdin/stdout, one JSON
// object per line (lines it reads are commands, lines it writes start with "PB "):
//
//   real_model_pb train --order N
//     Prints {"order": [...]}: which of N rows the trainer takes at each of its N steps (its own
//     sampler, seed 42, epoch 0), so the caller can place rows to get the step sequence it wants.
//   real_model_pb train --model DIR --rows ROWS.json --threads T
//     Trains DIR (fp32, CPU) through packbench's whole training loop (run_training), batch 1, one
//     row of ROWS.json ({"rows": [[ids...], ...]}, labels = ids) per step, one epoch, constant LR,
//     clipping 1.0, AdamW. First prints {"ready", "train_flops_per_token" (per row length),
//     "gemm_ceiling_flops", ...}; after each optimizer step prints {"step", "seconds"}, hands freed
//     memory back to the system (malloc_trim, outside the timed step) and waits for one line on
//     stdin before the next step (the peer runs its step in between); at the end {"done", "losses"}.
//
//   real_model_pb generate --model DIR --threads T
//     Loads DIR for inference, then for every line {"prompts": [[ids...]], "max_new_tokens": N,
//     "batch": B} runs packbench's generate() (greedy, KV cache, no stop tokens, so every row
//     generates exactly N tokens) and prints {"seconds", "generated_tokens", "tokens"}. Ends at EOF.
#include <torch/torch.h>

#include <fmt/format.h>
#include <malloc.h>
#include <nlohmann/json.hpp>

#include <chrono>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <iostream>
#include <string>
#include <vector>

#include "inference/engine_llama.h"
#include "inference/generate.h"
#include "trainers/mfu.h"
#include "trainers/model/pretrained.h"
#include "trainers/parallel/blas_kernels.h"
#include "trainers/sampler.h"
#include "trainers/train_model.h"
#include "trainers/trainer.h"

namespace fs = std::filesystem;
using namespace packbench;
using namespace packbench::train;
using Clock = std::chrono::steady_clock;

namespace {

void say(const nlohmann::json& j) {
  std::cout << "PB " << j.dump() << "\n";
  std::cout.flush();
}

std::string arg(int argc, char** argv, const std::string& name, const std::string& def = "") {
  for (int i = 2; i + 1 < argc; ++i)
    if (argv[i] == name) return argv[i + 1];
  if (def.empty()) throw std::runtime_error("missing " + name);
  return def;
}

constexpr int kSeed = 42;

int run_train(int argc, char** argv) {
  if (const std::string n = arg(argc, argv, "--order", "-"); n != "-") {
    nlohmann::json order = nlohmann::json::array();
    for (const auto& mb : rank_micro_batches(std::stoll(n), 1, 0, kSeed, 0, 1)) order.push_back(mb.at(0));
    say({{"order", order}});
    return 0;
  }
  const std::string model_dir = arg(argc, argv, "--model");
  const std::string rows_path = arg(argc, argv, "--rows");
  const int threads = std::stoi(arg(argc, argv, "--threads"));
  at::set_num_threads(threads);

  nlohmann::json rows_json;
  std::ifstream(rows_path) >> rows_json;
  TrainData data;
  int64_t seq = 0;
  nlohmann::json flops = nlohmann::json::object();  // row length -> training FLOPs per token
  for (const auto& r : rows_json.at("rows")) {
    data::Row row;
    for (const auto& id : r) {
      row.input_ids.push_back(id.get<int32_t>());
      row.labels.push_back(id.get<int32_t>());  // every position trained, as the peer's labels=input_ids
      row.position_ids.push_back(static_cast<int32_t>(row.position_ids.size()));
    }
    seq = static_cast<int64_t>(row.input_ids.size());
    row.segment_offsets = {0, static_cast<int32_t>(seq)};
    data.train_rows.push_back(std::move(row));
  }
  const int steps = static_cast<int>(data.train_rows.size());

  const std::string out = (fs::temp_directory_path() / fmt::format("pb-real-train-{}", ::getpid())).string();
  TrainConfig cfg;
  cfg.model_name_or_path = model_dir;
  cfg.model_init = "pretrained";
  cfg.output_dir = out;
  cfg.per_device_train_batch_size = 1;
  cfg.max_steps = steps;
  cfg.learning_rate = 1e-5;
  cfg.lr_scheduler_type = "constant";
  cfg.logging_steps = 0;
  cfg.save_steps = 0;
  cfg.num_threads = threads;
  cfg.seed = kSeed;
  auto model = make_train_model(cfg, torch::kCPU);
  for (const auto& r : data.train_rows) {
    const int64_t len = static_cast<int64_t>(r.input_ids.size());
    flops[std::to_string(len)] = model->train_flops_per_token(len);
  }
  Distributed dist(DistEnv{}, torch::kCPU, std::chrono::milliseconds(10000));
  const GemmCeiling cached = gemm_ceiling(torch::kCPU, false);  // what bench_trainers_step and train_results use
  const GemmCeiling now = gemm_ceiling(torch::kCPU, false, 0.5, /*use_cache=*/false);  // this moment's load
  say({{"ready", true},
       {"train_flops_per_token", flops},
       {"gemm_ceiling_flops", cached.flops_per_second},
       {"gemm_ceiling_cached", cached.cached},
       {"gemm_ceiling_now_flops", now.flops_per_second},
       {"blas", blas_kernels_description()},
       {"threads", at::get_num_threads()}});

  auto last = Clock::now();
  TrainHooks hooks;
  hooks.measure_gemm_ceiling = false;
  hooks.write_outputs = false;
  hooks.after_step = [&](int64_t step) {
    const double s = std::chrono::duration<double>(Clock::now() - last).count();
    say({{"step", step}, {"seconds", s}});
    ::malloc_trim(0);  // the peer does the same: two idle processes holding their peak would not fit
    if (step < steps) {
      std::string line;
      if (!std::getline(std::cin, line)) throw std::runtime_error("stdin closed before step " + std::to_string(step + 1));
    }
    last = Clock::now();
  };
  const TrainOutcome o = run_training(cfg, *model, data, dist, hooks);
  fs::remove_all(out);
  say({{"done", true}, {"losses", o.step_losses}});
  return 0;
}

int run_generate(int argc, char** argv) {
  const std::string model_dir = arg(argc, argv, "--model");
  const int threads = std::stoi(arg(argc, argv, "--threads"));
  at::set_num_threads(threads);
  torch::NoGradGuard no_grad;
  auto backend = make_llama_backend(load_pretrained(model_dir, torch::kFloat, torch::kCPU));
  say({{"ready", true}, {"blas", blas_kernels_description()}, {"threads", at::get_num_threads()}});
  std::string line;
  while (std::getline(std::cin, line)) {
    if (line.empty()) continue;
    const auto req = nlohmann::json::parse(line);
    std::vector<GenerationInput> in;
    for (const auto& p : req.at("prompts")) {
      GenerationInput g;
      g.prompt = p.get<std::vector<int32_t>>();
      g.max_new_tokens = req.at("max_new_tokens").get<int>();
      in.push_back(std::move(g));
    }
    GenerateOptions o;  // greedy; no stop_token_ids: every row runs to max_new_tokens
    o.batch_size = req.at("batch").get<int>();
    GenerateStats st;
    const auto t0 = Clock::now();
    const auto outs = generate(*backend, nullptr, in, o, &st);
    const double secs = std::chrono::duration<double>(Clock::now() - t0).count();
    nlohmann::json tokens = nlohmann::json::array();
    for (const auto& g : outs) tokens.push_back(g.tokens);
    say({{"seconds", secs},
         {"generated_tokens", st.generated_tokens},
         {"prefill_seconds", st.prefill_seconds},
         {"decode_seconds", st.decode_seconds},
         {"tokens", tokens}});
  }
  return 0;
}

}  // namespace

int main(int argc, char** argv) {
  ensure_fast_blas_kernels(argv);
  try {
    const std::string mode = argc > 1 ? argv[1] : "";
    if (mode == "train") return run_train(argc, argv);
    if (mode == "generate") return run_generate(argc, argv);
    std::cerr << "usage: real_model_pb train|generate ... (started by bench/real_model/compare.py)\n";
    return 2;
  } catch (const std::exception& e) {
    std::cerr << "real_model_pb: " << e.what() << "\n";
    return 1;
  }
}
