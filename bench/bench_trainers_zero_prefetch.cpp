// Steps/s of zero3 training at 2 ranks over Gloo with the next layer's all-gather prefetched and gradient reduce-scatters overlapped (zero_prefetch: true) vs every collective waited on where issued (false), side by side in one run.
//   build/bench/bench_trainers_zero_prefetch   (PB_BENCH_ZERO_STEPS=N timed steps per run, default 12)
// Each configuration runs twice (on, off, off, on); the median step time of each run's timed steps
// (after 2 warm-up steps, the slower rank's) is taken and the two runs of a configuration averaged.
// The model is the ZeRO tests' random LLaMA (vocab 64, hidden 256, ffn 512, 4 layers, 2.4M
// parameters); each rank trains 4 rows of 256 tokens per step with 1 intra-op thread.
#include <benchmark/benchmark.h>

#include <fmt/format.h>
#include <nlohmann/json.hpp>
#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <filesystem>
#include <random>

#include "bench/bench_main.h"
#include "core/atomic_file.h"
#include "core/error.h"
#include "trainers/parallel/distributed.h"
#include "trainers/parallel/launch.h"
#include "trainers/train_model.h"
#include "trainers/trainer.h"

namespace fs = std::filesystem;
using namespace packbench;
using namespace packbench::train;

namespace {

constexpr int kWarm = 2;
constexpr int64_t kRows = 4, kSeq = 256, kVocab = 64;

int timed_steps() {
  if (const char* s = std::getenv("PB_BENCH_ZERO_STEPS")) return std::max(3, std::atoi(s));
  return 12;
}

std::string self_exe() { return fs::read_symlink("/proc/self/exe").string(); }

// One rank of one run: trains zero3 and writes its median step time to PB_BENCH_ZERO_OUT.rankR.json.
int worker(const std::string& out) {
  const DistEnv env = dist_env_from_environment();
  at::set_num_threads(1);
  Distributed dist(env, torch::kCPU, std::chrono::milliseconds(60000));
  const std::string dir = std::getenv("PB_BENCH_ZERO_MODEL");
  TrainConfig cfg;
  cfg.model_name_or_path = dir;
  cfg.model_init = "random";
  cfg.output_dir = out + ".train";
  cfg.per_device_train_batch_size = static_cast<int>(kRows);
  cfg.max_steps = timed_steps() + kWarm;
  cfg.learning_rate = 1e-4;
  cfg.lr_scheduler_type = "constant";
  cfg.logging_steps = 0;
  cfg.save_steps = 0;
  cfg.eval_steps = 0;
  cfg.save_final_model = false;
  cfg.num_threads = 1;
  cfg.sharding = "zero3";
  cfg.zero_prefetch = std::string(std::getenv("PB_BENCH_ZERO_PREFETCH")) == "1";
  TrainData data;
  std::mt19937 g(1 + static_cast<unsigned>(env.rank));
  for (int64_t r = 0; r < kRows * env.world_size; ++r) {
    data::Row row;
    for (int64_t t = 0; t < kSeq; ++t) {
      row.input_ids.push_back(static_cast<int32_t>(4 + g() % (kVocab - 4)));
      row.labels.push_back(t < 8 ? data::kIgnoreIndex : row.input_ids.back());
      row.position_ids.push_back(static_cast<int32_t>(t));
    }
    row.segment_offsets = {0, static_cast<int32_t>(kSeq)};
    data.train_rows.push_back(row);
  }
  auto model = make_train_model(cfg, torch::kCPU);
  std::vector<double> step_seconds;
  auto last = std::chrono::steady_clock::now();
  TrainHooks hooks;
  hooks.measure_gemm_ceiling = false;
  hooks.write_outputs = false;
  hooks.after_step = [&](int64_t step) {
    const auto now = std::chrono::steady_clock::now();
    if (step > kWarm) step_seconds.push_back(std::chrono::duration<double>(now - last).count());
    last = std::chrono::steady_clock::now();
  };
  const TrainOutcome o = run_training(cfg, *model, data, dist, hooks);
  std::sort(step_seconds.begin(), step_seconds.end());
  nlohmann::json j = {{"median_step_s", step_seconds[step_seconds.size() / 2]},
                      {"steps", step_seconds.size()},
                      {"zero_overlap", o.train_results.value("zero_overlap", nlohmann::json())}};
  write_file_atomic(fmt::format("{}.rank{}.json", out, env.rank), j.dump());
  return 0;
}

struct RunResult {
  double step_s = 0;  // the slower rank's median step
  nlohmann::json overlap;
};

RunResult launch_run(const std::string& model_dir, const std::string& out, bool prefetch) {
  LaunchOptions lo;
  lo.nproc = 2;
  lo.extra_env = {{"PB_BENCH_ZERO_OUT", out}, {"PB_BENCH_ZERO_MODEL", model_dir},
                  {"PB_BENCH_ZERO_PREFETCH", prefetch ? "1" : "0"}, {"PACKBENCH_PROGRESS", "0"}};
  if (const int rc = launch_local({self_exe()}, lo); rc != 0)
    throw Error(fmt::format("zero3 prefetch benchmark: the 2-rank run ({}) exited {}", out, rc));
  RunResult r;
  for (int rank = 0; rank < 2; ++rank) {
    const auto j = nlohmann::json::parse(read_file(fmt::format("{}.rank{}.json", out, rank)));
    r.step_s = std::max(r.step_s, j.at("median_step_s").get<double>());
    if (rank == 0) r.overlap = j["zero_overlap"];
  }
  return r;
}

void BM_Zero3Prefetch(benchmark::State& state) {
  const std::string dir = (fs::temp_directory_path() / fmt::format("pb-bench-zero-prefetch-{}", ::getpid())).string();
  fs::create_directories(dir);
  const nlohmann::json cfgj = {
      {"architectures", {"LlamaForCausalLM"}}, {"model_type", "llama"}, {"vocab_size", kVocab},
      {"hidden_size", 256}, {"intermediate_size", 512}, {"num_hidden_layers", 4}, {"num_attention_heads", 4},
      {"num_key_value_heads", 2}, {"max_position_embeddings", 512}, {"rms_norm_eps", 1e-5},
      {"rope_theta", 10000.0}, {"tie_word_embeddings", false}, {"torch_dtype", "float32"}};
  write_file_atomic(dir + "/config.json", cfgj.dump());
  double on = 0, off = 0;
  nlohmann::json overlap;
  for (auto _ : state) {
    // on, off, off, on: neither configuration always runs first.
    for (int k = 0; k < 4; ++k) {
      const bool prefetch = k == 0 || k == 3;
      const RunResult r = launch_run(dir, fmt::format("{}/run{}", dir, k), prefetch);
      (prefetch ? on : off) += r.step_s / 2;
      state.counters[fmt::format("step_ms_run{}_{}", k, prefetch ? "on" : "off")] = r.step_s * 1e3;
      if (prefetch) overlap = r.overlap;
    }
  }
  state.counters["steps_per_s_prefetch"] = 1.0 / on;
  state.counters["steps_per_s_no_prefetch"] = 1.0 / off;
  state.counters["ratio_on_over_off"] = off / on;
  state.counters["gathers_ahead"] = overlap.value("gathers_ahead", 0);
  state.counters["gathers_ahead_finished"] = overlap.value("gathers_ahead_finished", 0);
  state.counters["reduces_deferred"] = overlap.value("reduces_deferred", 0);
  state.counters["reduces_finished"] = overlap.value("reduces_finished", 0);
  fs::remove_all(dir);
}

}  // namespace

BENCHMARK(BM_Zero3Prefetch)->Iterations(1)->Unit(benchmark::kMillisecond)->UseRealTime();

int main(int argc, char** argv) {
  if (const char* out = std::getenv("PB_BENCH_ZERO_OUT")) {
    packbench::train::ensure_fast_blas_kernels(argv);
    try {
      return worker(out);
    } catch (const std::exception& e) {
      fmt::print(stderr, "bench_trainers_zero_prefetch worker: {}\n", e.what());
      return 1;
    }
  }
  return packbench::bench::run_benchmarks(argc, argv);
}
