#!/usr/bin/env bash
# Runs packbench's tokenizer benchmark, then tiktoken and Hugging Face tokenizers (tokenizer_peer.py)
# on the same corpus in the same run: ids checked equal first, then MiB/s, tokens/s and ratios.
#   bench/tokenizer_peer/run.sh [BUILD_DIR]      (PEER_THREADS=2 batched threads, PEER_RUNS=3)
set -euo pipefail
here="$(cd "$(dirname "$0")" && pwd)"
root="$(cd "$here/../.." && pwd)"
build="${1:-$root/build}"
threads="${PEER_THREADS:-2}"
export PACKBENCH_SHARED="${PACKBENCH_SHARED:-$(cd "$root/../shared" 2>/dev/null && pwd || echo /work/shared)}"
python="${PACKBENCH_VENV:-$HOME/.cache/packbench/venv}/bin/python"
if [ ! -x "$python" ]; then
  echo "packbench's Python environment not found ($python): run scripts/setup.sh" >&2
  exit 1
fi
tmp="$(mktemp -d)"
trap 'rm -rf "$tmp"' EXIT
echo "== packbench (build/bench/bench_datasets_tokenizer), batched = OMP_NUM_THREADS=$threads; load: $(cut -d' ' -f1-3 /proc/loadavg)"
OMP_NUM_THREADS="$threads" PB_BENCH_CORPUS_OUT="$tmp/corpus.json" PB_BENCH_IDS_OUT="$tmp/ids.json" \
  "$build/bench/bench_datasets_tokenizer" --benchmark_filter='Load|Encode' --benchmark_counters_tabular=false \
  --benchmark_repetitions="${PEER_RUNS:-3}" --benchmark_out="$tmp/packbench.json" --benchmark_out_format=json
echo "== tiktoken and Hugging Face tokenizers (same corpus); load: $(cut -d' ' -f1-3 /proc/loadavg)"
RAYON_NUM_THREADS="$threads" "$python" "$here/tokenizer_peer.py" "$tmp/corpus.json" --threads "$threads" \
  --packbench-ids "$tmp/ids.json" --packbench-json "$tmp/packbench.json"
