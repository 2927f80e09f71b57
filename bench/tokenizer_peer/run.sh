#!/usr/bin/env bash
# Runs packbench's tokenizer benchmark and the tiktoken peer on the same corpus, one after the
# other, and prints both throughputs.   bench/tokenizer_peer/run.sh [BUILD_DIR]
set -euo pipefail
here="$(cd "$(dirname "$0")" && pwd)"
root="$(cd "$here/../.." && pwd)"
build="${1:-$root/build}"
export PACKBENCH_SHARED="${PACKBENCH_SHARED:-$(cd "$root/../shared" 2>/dev/null && pwd || echo /work/shared)}"
corpus="$(mktemp --suffix=.json)"
trap 'rm -f "$corpus"' EXIT
[ -d "$here/node_modules/tiktoken" ] || (cd "$here" && npm ci --silent)
echo "== packbench (build/bench/bench_datasets_tokenizer)"
PB_BENCH_CORPUS_OUT="$corpus" "$build/bench/bench_datasets_tokenizer" \
  --benchmark_filter='Load|Encode' --benchmark_counters_tabular=false
echo "== tiktoken peer (same corpus)"
node "$here/tiktoken_peer.js" "$corpus"
