// main() of the LibTorch benchmarks: the BLAS kernels packbench uses, then Google Benchmark.
#pragma once

#include <benchmark/benchmark.h>

#include "trainers/parallel/blas_kernels.h"

namespace packbench::bench {

inline int run_benchmarks(int argc, char** argv) {
  packbench::train::ensure_fast_blas_kernels(argv);  // both sides (and any Python peer) get the same kernels
  benchmark::Initialize(&argc, argv);
  if (benchmark::ReportUnrecognizedArguments(argc, argv)) return 1;
  benchmark::AddCustomContext("blas_core", packbench::train::blas_core_name());
  benchmark::RunSpecifiedBenchmarks();
  benchmark::Shutdown();
  return 0;
}

}  // namespace packbench::bench
