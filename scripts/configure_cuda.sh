#!/usr/bin/env bash
# Configures the CUDA + NCCL build of packbench in BUILD_DIR (default build-cuda) against the
# CUDA LibTorch of the pinned Python environment (PyPI's torch wheel), with the CUDA toolkit's nvcc.
#   scripts/configure_cuda.sh [BUILD_DIR] [extra cmake arguments...]
set -euo pipefail
root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
build="${1:-$root/build-cuda}"
shift || true
cache="${PACKBENCH_CACHE:-${XDG_CACHE_HOME:-$HOME/.cache}/packbench}"
venv="${PACKBENCH_VENV:-$cache/venv}"
if ! command -v nvcc >/dev/null; then
  [[ -x /usr/local/cuda/bin/nvcc ]] || { echo "configure_cuda: nvcc not found (install the CUDA toolkit)" >&2; exit 1; }
  export PATH="/usr/local/cuda/bin:$PATH"
fi
[[ -x "$venv/bin/python" ]] || { echo "configure_cuda: $venv missing: run scripts/setup.sh --cuda" >&2; exit 1; }
prefix=$("$venv/bin/python" -c 'import torch; print(torch.utils.cmake_prefix_path)')
torchlib="$prefix/../../lib"
# LibTorch's CMake package looks for libtorch and libc10 in the system folders before its own: a
# system LibTorch (Debian's libtorch-dev, which the default build uses) would be mixed in. Name them.
libs=(-DTORCH_LIBRARY="$(readlink -f "$torchlib/libtorch.so")" -Dc10_LIBRARY="$(readlink -f "$torchlib/libc10.so")")
# packbench compiles no CUDA kernels of its own: name the architectures rather than let LibTorch's
# CMake probe for a GPU (there may be none here).
export TORCH_CUDA_ARCH_LIST="${TORCH_CUDA_ARCH_LIST:-8.0;9.0}"
launcher=()
command -v ccache >/dev/null && launcher=(-DCMAKE_CXX_COMPILER_LAUNCHER=ccache)
cmake -S "$root" -B "$build" -G Ninja -DCMAKE_BUILD_TYPE=Release -DCMAKE_PREFIX_PATH="$prefix" \
  -DPACKBENCH_CUDA=ON "${libs[@]}" "${launcher[@]}" "$@"
