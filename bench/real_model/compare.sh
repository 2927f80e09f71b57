#!/usr/bin/env bash
# One command per comparison of packbench with transformers / lm-eval on a real model: bench/real_model/compare.sh train|generate|eval|all [compare.py options].
#   MODEL=DIR (default: SmolLM2-135M-Instruct imported from ~/.cache/packbench/models/smollm2/*.gguf
#   into ~/.cache/packbench/bench/smollm2-135m-instruct), THREADS=N (default 1), BUILD=build,
#   PB_VENV=~/.cache/packbench/venv (torch, transformers, lm-eval). Results: bench/RESULTS-*.md.
set -euo pipefail
cd "$(dirname "$0")/../.."
what=${1:-}
case "$what" in train|generate|eval|all) shift ;; *)
  echo "usage: bench/real_model/compare.sh train|generate|eval|all [compare.py options]" >&2; exit 2 ;; esac
BUILD=${BUILD:-build}
PB_VENV=${PB_VENV:-$HOME/.cache/packbench/venv}
PY=$PB_VENV/bin/python
GGUF=${GGUF:-$HOME/.cache/packbench/models/smollm2/SmolLM2-135M-Instruct.Q4_1.gguf}
MODEL=${MODEL:-$HOME/.cache/packbench/bench/smollm2-135m-instruct}
THREADS=${THREADS:-1}
[[ -x $PY ]] || { echo "compare.sh: $PY missing: the Python reference environment (scripts/python) is needed, or set PB_VENV" >&2; exit 2; }
"$PY" -c 'import torch, transformers' 2>/dev/null || { echo "compare.sh: $PY lacks torch or transformers" >&2; exit 2; }
for b in "$BUILD/bin/packbench" "$BUILD/bench/real_model_pb"; do
  [[ -x $b ]] || { echo "compare.sh: $b missing: run 'make build' first (or set BUILD)" >&2; exit 2; }
done
if [[ ! -f $MODEL/config.json ]]; then
  [[ -f $GGUF ]] || { echo "compare.sh: no model folder $MODEL and no GGUF $GGUF to import (set MODEL or GGUF)" >&2; exit 2; }
  echo "compare.sh: importing $GGUF -> $MODEL" >&2
  mkdir -p "$(dirname "$MODEL")"
  "$BUILD/bin/packbench" model import --gguf "$GGUF" --out "$MODEL" >&2
fi
echo "machine: $(nproc) cores, $(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2 | sed 's/^ //'); torch $("$PY" -c 'import torch; print(torch.__version__)'), transformers $("$PY" -c 'import transformers; print(transformers.__version__)'); $(uptime)"
run() { "$PY" bench/real_model/compare.py "$1" --model "$MODEL" --threads "$THREADS" \
          --pb-side "$BUILD/bench/real_model_pb" --packbench "$BUILD/bin/packbench" "${@:2}"; }
if [[ $what == all ]]; then
  for w in train generate eval; do run "$w" "$@"; done
else
  run "$what" "$@"
fi
