// Training step time, tokens/s and MFU of packbench's trainer on mini LLaMA sizes, side by side
// with the same model, batch and step in PyTorch Python (bench/train_peer/train_peer.py).
//   build/bench/bench_trainers_step [--benchmark_filter=mini_s]   (PB_BENCH_THREADS=N, default cores)
//   PB_BENCH_PROFILE=1: also print self time per operator over the timed steps, for both sides
//   (the profiler's overhead inflates those runs' step times; time without it).
#include <benchmark/benchmark.h>

#include <fmt/format.h>
#include <nlohmann/json.hpp>

#include <chrono>
#include <cstdio>
#include <filesystem>
#include <memory>
#include <random>
#include <thread>

#include "bench/bench_main.h"
#include "bench/op_profile.h"
#include "core/atomic_file.h"
#include "core/paths.h"
#include "trainers/mfu.h"
#include "trainers/train_model.h"
#include "trainers/trainer.h"

namespace fs = std::filesystem;
using namespace packbench;
using namespace packbench::train;

namespace {

struct Size {
  const char* name;
  int64_t vocab, hidden, layers, heads, kv_heads, ffn, batch, seq;
};

const Size kSizes[] = {
    {"mini_s", 4096, 256, 4, 4, 2, 688, 4, 256},
    {"mini_m", 8192, 512, 4, 8, 4, 1376, 2, 512},
};

int threads() {
  if (const char* t = std::getenv("PB_BENCH_THREADS")) return std::atoi(t);
  return static_cast<int>(std::max(1u, std::thread::hardware_concurrency()));
}

std::string run_capture(const std::string& cmd) {
  std::string out;
  FILE* p = ::popen(cmd.c_str(), "r");
  if (!p) return out;
  char buf[4096];
  while (size_t n = std::fread(buf, 1, sizeof(buf), p)) out.append(buf, n);
  ::pclose(p);
  return out;
}

void BM_TrainStep(benchmark::State& state) {
  const Size& s = kSizes[state.range(0)];
  const int nthreads = threads();
  at::set_num_threads(nthreads);
  const int steps = 10, warm = 2;
  // A random-weight model of this size.
  const std::string dir = (fs::temp_directory_path() / fmt::format("pb-bench-{}-{}", s.name, ::getpid())).string();
  fs::create_directories(dir);
  nlohmann::json cfgj = {{"architectures", {"LlamaForCausalLM"}}, {"model_type", "llama"}, {"vocab_size", s.vocab},
                         {"hidden_size", s.hidden}, {"intermediate_size", s.ffn}, {"num_hidden_layers", s.layers},
                         {"num_attention_heads", s.heads}, {"num_key_value_heads", s.kv_heads},
                         {"max_position_embeddings", 4096}, {"rms_norm_eps", 1e-5}, {"rope_theta", 500000.0},
                         {"tie_word_embeddings", false}, {"torch_dtype", "float32"}};
  write_file_atomic(dir + "/config.json", cfgj.dump());
  TrainConfig cfg;
  cfg.model_name_or_path = dir;
  cfg.model_init = "random";
  cfg.output_dir = dir + "/out";
  cfg.per_device_train_batch_size = static_cast<int>(s.batch);
  cfg.max_steps = steps + warm;
  cfg.learning_rate = 1e-4;
  cfg.lr_scheduler_type = "constant";
  cfg.logging_steps = 0;
  cfg.save_steps = 0;
  cfg.num_threads = nthreads;
  TrainData data;
  std::mt19937 g(1);
  for (int64_t r = 0; r < s.batch; ++r) {  // one batch, reused every step
    data::Row row;
    for (int64_t t = 0; t < s.seq; ++t) {
      row.input_ids.push_back(static_cast<int32_t>(4 + g() % (s.vocab - 4)));
      row.labels.push_back(t < 8 ? data::kIgnoreIndex : row.input_ids.back());
      row.position_ids.push_back(static_cast<int32_t>(t));
    }
    row.segment_offsets = {0, static_cast<int32_t>(s.seq)};
    data.train_rows.push_back(row);
  }
  auto model = make_train_model(cfg, torch::kCPU);
  Distributed dist(DistEnv{}, torch::kCPU, std::chrono::milliseconds(10000));
  const GemmCeiling ceiling = gemm_ceiling(torch::kCPU, false);
  std::vector<double> step_seconds;
  const bool profile = std::getenv("PB_BENCH_PROFILE") != nullptr;
  bench::OpProfile prof;
  for (auto _ : state) {
    auto last = std::chrono::steady_clock::now();
    TrainHooks hooks;
    hooks.measure_gemm_ceiling = false;
    hooks.write_outputs = false;
    hooks.after_step = [&](int64_t step) {
      const auto now = std::chrono::steady_clock::now();
      if (step > warm) step_seconds.push_back(std::chrono::duration<double>(now - last).count());
      if (profile && step == warm) prof.start();
      last = std::chrono::steady_clock::now();
    };
    run_training(cfg, *model, data, dist, hooks);
  }
  if (profile) {
    const auto rows = prof.stop();
    double total = 0;
    for (const auto& r : rows) total += r.self_us;
    fmt::print(stderr, "packbench {} ({} threads): self time per operator over {} steps, total {:.1f} ms/step\n", s.name,
               nthreads, steps, total / 1e3 / steps);
    for (size_t i = 0; i < rows.size() && i < 25; ++i)
      fmt::print(stderr, "  {:<48} {:8.2f} ms/step {:5.1f}%  {:6} calls\n", rows[i].name, rows[i].self_us / 1e3 / steps,
                 100.0 * rows[i].self_us / total, rows[i].calls);
  }
  std::sort(step_seconds.begin(), step_seconds.end());
  const double med = step_seconds[step_seconds.size() / 2];
  const double tokens = double(s.batch * s.seq);
  const double flops = model->train_flops_per_token(s.seq) * tokens;
  state.counters["step_ms"] = med * 1e3;
  state.counters["tokens_per_s"] = tokens / med;
  state.counters["mfu"] = flops / med / ceiling.flops_per_second;
  state.counters["gemm_gflops"] = ceiling.flops_per_second / 1e9;
  state.counters["threads"] = nthreads;
  // The peers: same shape, batch and step in PyTorch Python, same threads, in this run. Two of
  // them: Debian's python3 with Debian's torch (the same libtorch 1.13 and OpenBLAS kernels as
  // packbench: an implementation-for-implementation comparison), when it is installed, and the
  // pinned environment's PyTorch (scripts/setup.sh: a current release on MKL, what a user of the
  // project would train with in Python).
  const std::vector<std::pair<std::string, std::string>> peers = {
      {"peer_", "/usr/bin/python3"}, {"venv_peer_", packbench::venv_python()}};
  std::string missing;
  for (const auto& [prefix, python] : peers) {
    if (python.empty()) {
      missing += " " + prefix + "(no pinned Python environment: run scripts/setup.sh)";
      continue;
    }
    const std::string cmd = fmt::format(
        "{} {}/bench/train_peer/train_peer.py --vocab {} --hidden {} --layers {} --heads {} "
        "--kv-heads {} --ffn {} --batch {} --seq {} --steps {} --threads {}{}",
        python, PB_SOURCE_DIR, s.vocab, s.hidden, s.layers, s.heads, s.kv_heads, s.ffn, s.batch, s.seq, steps,
        nthreads, profile ? " --profile" : " 2>/dev/null");
    try {
      const auto j = nlohmann::json::parse(run_capture(cmd));
      const double peer = j.at("step_seconds").get<double>();
      state.counters[prefix + "step_ms"] = peer * 1e3;
      state.counters[prefix + "tokens_per_s"] = tokens / peer;
      state.counters["speedup_vs_" + prefix.substr(0, prefix.size() - 1)] = peer / med;
    } catch (const std::exception&) {
      missing += " " + prefix + "(" + python + " without torch)";
    }
  }
  if (!missing.empty()) state.SetLabel("peer skipped:" + missing);
  fs::remove_all(dir);
}

}  // namespace

BENCHMARK(BM_TrainStep)->DenseRange(0, 1)->Iterations(1)->Unit(benchmark::kMillisecond)->UseRealTime();
int main(int argc, char** argv) { return packbench::bench::run_benchmarks(argc, argv); }
