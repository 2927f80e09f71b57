#!/usr/bin/env bash
# packbench benchmarks: every Google Benchmark program in build/bench, then each peer script
# (bench/*/run.sh) that compares packbench with another tool on the same input in the same run.
set -euo pipefail
cd "$(dirname "$0")/.."
BUILD=${BUILD:-build}
for b in "$BUILD"/bench/bench_*; do
  [[ -x "$b" ]] || continue
  echo "== $b"
  "$b" --benchmark_min_time=0.2 "$@"
done
for s in bench/*/run.sh; do
  [[ -f "$s" ]] || continue
  echo "== $s"
  bash "$s"
done
