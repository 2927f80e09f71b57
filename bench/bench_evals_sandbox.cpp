// Benchmark: the 164 canonical HumanEval solutions through the bubblewrap sandbox on 1 and 2 workers,
// side by side with the explicitly unsandboxed mode (same rlimits, no namespaces) as the baseline.
#include "core/paths.h"
#include "evals/humaneval/humaneval.h"
#include "evals/humaneval/sandbox.h"

#include <benchmark/benchmark.h>

#include <memory>
#include <stdexcept>

using namespace packbench::evals;

namespace {

const std::vector<std::string>* canonical_programs() {
  static std::unique_ptr<std::vector<std::string>> programs = [] {
    std::unique_ptr<std::vector<std::string>> out;
    std::string shared = packbench::shared_benchmarks_dir(PB_SOURCE_DIR);
    if (shared.empty()) return out;
    out = std::make_unique<std::vector<std::string>>();
    for (const auto& p : load_humaneval(shared + "/humaneval/HumanEval.jsonl.gz")) {
      out->push_back(humaneval_program(p, p.canonical_solution));
    }
    return out;
  }();
  return programs.get();
}

// args: workers, sandboxed (1) or unsandboxed baseline (0)
void BM_Canonical164(benchmark::State& state) {
  const auto* programs = canonical_programs();
  if (!programs) {
    state.SkipWithError("shared benchmarks not found: set PACKBENCH_SHARED");
    return;
  }
  SandboxOptions options;
  options.unsandboxed = state.range(1) == 0;
  Sandbox sandbox(options);
  int64_t passed = 0;
  for (auto _ : state) {
    auto results = run_programs(sandbox, *programs, static_cast<int>(state.range(0)));
    passed = 0;
    for (const auto& r : results) passed += r.passed() ? 1 : 0;
  }
  state.counters["passed"] = static_cast<double>(passed);
  state.counters["programs/s"] =
      benchmark::Counter(static_cast<double>(programs->size()) * state.iterations(), benchmark::Counter::kIsRate);
  state.SetLabel(options.unsandboxed ? "unsandboxed baseline" : "bubblewrap");
}
BENCHMARK(BM_Canonical164)
    ->ArgNames({"workers", "sandboxed"})
    ->Args({1, 1})
    ->Args({1, 0})
    ->Args({2, 1})
    ->Args({2, 0})
    ->Iterations(1)
    ->Unit(benchmark::kSecond)
    ->UseRealTime();

// Latency of one trivial program ("pass"): the fixed cost of starting python, with and without bwrap.
void BM_TrivialProgram(benchmark::State& state) {
  SandboxOptions options;
  options.unsandboxed = state.range(0) == 0;
  Sandbox sandbox(options);
  for (auto _ : state) {
    auto r = sandbox.run_python("pass\n");
    if (!r.passed()) state.SkipWithError(("trivial program failed: " + r.result_string()).c_str());
  }
  state.SetLabel(options.unsandboxed ? "unsandboxed baseline" : "bubblewrap");
}
BENCHMARK(BM_TrivialProgram)->ArgName("sandboxed")->Arg(1)->Arg(0)->Iterations(20)->Unit(benchmark::kMillisecond)->UseRealTime();

}  // namespace

BENCHMARK_MAIN();
