#!/usr/bin/env bash
# Checks a CUDA build folder: `packbench env --json` says CUDA and NCCL are compiled in, and the
# gpu-labelled tests run (on a machine without a GPU they skip, saying so).
#   scripts/check_cuda_build.sh [BUILD_DIR]
set -euo pipefail
build="${1:-build-cuda}"
env_json=$("$build/bin/packbench" env --json)
echo "$env_json"
python3 - "$env_json" <<'PY'
import json, sys
env = json.loads(sys.argv[1])
bad = [k for k in ("cuda_compiled", "nccl_compiled") if env.get(k) is not True]
if bad:
    sys.exit(f"check_cuda_build: packbench env --json reports {', '.join(bad)} false")
print(f"check_cuda_build: CUDA {env['cuda_version']}, NCCL {env['nccl_version']}, cuDNN {env['cudnn_version']}, "
      f"{len(env['devices'])} device(s){'' if env['devices'] else ': ' + str(env['cuda_unavailable_reason'])}")
PY
cd "$build" && ctest -L gpu --output-on-failure
