// Generation speed: KV-cache decoding against recomputing the whole sequence every step, same model, same run.
//
// Run: build/bench/bench_inference_generate [--benchmark_filter=...]
// Counters: prefill_tok_s (prompt tokens / prefill seconds), decode_tok_s (tokens generated after
// the first / decode seconds), and the share of wall time in prefill, decode forwards, sampling,
// stop checks and batch compaction. Results and commands: bench/RESULTS-infer.md.
#include <benchmark/benchmark.h>
#include <torch/torch.h>

#include <cstdlib>

#include "bench/bench_main.h"
#include "inference/engine_llama.h"
#include "inference/generate.h"
#include "trainers/model/llama_model.h"

using namespace packbench::train;

namespace {

constexpr int kNewTokens = 256;
constexpr int kPromptLen = 16;

// A small LLaMA (4 layers of width 128, 4096-token vocabulary: 1.3M parameters) that a shared
// 2-core CPU decodes in seconds.
LlamaForCausalLM& mini_model() {
  static LlamaForCausalLM m = [] {
    LlamaConfig c;
    c.vocab_size = 4096;
    c.hidden_size = 128;
    c.intermediate_size = 344;
    c.num_hidden_layers = 4;
    c.num_attention_heads = 4;
    c.num_key_value_heads = 2;
    c.max_position_embeddings = 2048;
    c.rope_theta = 500000.0;
    c.rope_scaling.reset();
    LlamaForCausalLM model(c);
    model->init_weights(1);
    return model;
  }();
  return m;
}

std::vector<GenerationInput> prompts(int batch) {
  std::vector<GenerationInput> v(batch);
  for (int b = 0; b < batch; ++b) {
    for (int t = 0; t < kPromptLen - b; ++t) v[b].prompt.push_back((b * 131 + t * 17 + 1) % 4096);
    v[b].max_new_tokens = kNewTokens;
  }
  return v;
}

void run(benchmark::State& state, bool use_cache) {
  at::set_num_threads(static_cast<int>(state.range(1)));
  auto backend = make_llama_backend(mini_model());
  auto in = prompts(static_cast<int>(state.range(0)));
  GenerateOptions o;
  o.batch_size = static_cast<int>(in.size());
  o.use_cache = use_cache;  // no stop tokens: every row generates exactly kNewTokens
  GenerateStats st;
  double wall = 0;
  for (auto _ : state) {
    auto t0 = std::chrono::steady_clock::now();
    auto out = generate(*backend, nullptr, in, o, &st);
    wall += std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
    benchmark::DoNotOptimize(out);
  }
  const double it = static_cast<double>(state.iterations());
  const int64_t decode_tokens = st.generated_tokens - static_cast<int64_t>(in.size()) * it;
  state.counters["prefill_tok_s"] = st.prompt_tokens / st.prefill_seconds;
  state.counters["decode_tok_s"] = decode_tokens / st.decode_seconds;
  state.counters["gen_tok_s"] = st.generated_tokens / wall;
  state.counters["prefill_pct"] = 100.0 * st.prefill_seconds / wall;
  state.counters["decode_fwd_pct"] = 100.0 * st.decode_seconds / wall;
  state.counters["sample_pct"] = 100.0 * st.sample_seconds / wall;
  state.counters["stop_compact_pct"] = 100.0 * (st.stop_seconds + st.compact_seconds) / wall;
}

void BM_generate_kv_cache(benchmark::State& s) { run(s, true); }
void BM_generate_recompute(benchmark::State& s) { run(s, false); }

// PB_BENCH_THREADS (default 1: on a shared machine a second OpenMP thread mostly waits for a core).
int threads() {
  const char* e = std::getenv("PB_BENCH_THREADS");
  return e && *e ? std::max(1, std::atoi(e)) : 1;
}

}  // namespace

// Args: {batch, threads}. Each pair runs the two methods on the same model, prompts and threads.
BENCHMARK(BM_generate_kv_cache)->Args({1, threads()})->Args({4, threads()})->Unit(benchmark::kMillisecond)->Iterations(3);
BENCHMARK(BM_generate_recompute)->Args({1, threads()})->Args({4, threads()})->Unit(benchmark::kMillisecond)->Iterations(1);

int main(int argc, char** argv) { return packbench::bench::run_benchmarks(argc, argv); }
