#!/usr/bin/env python3
"""GGUF dequantization reference: the gguf package's own gguf.quants.dequantize, for test_gguf_dequant.cpp.

packbench's dequantizer must equal these float32 values bit for bit (tests/trainers/model/test_gguf_dequant.cpp).

Run with packbench's Python environment (it has gguf and numpy):

    ~/.cache/packbench/venv/bin/python scripts/reference/gguf_dequant_ref.py tensors FILE.gguf OUT.json
        the package's GGUFReader view of FILE and every tensor dequantized to row-major float32:
        {"metadata": {key: {"type", "elem_type", "count", "value" (arrays: the first 8 items)}},
         "tensors": [{"name", "type", "shape", "offset" (absolute), "crc32" (zlib's CRC-32 of all the
         float32 bytes), "samples": [[index, float32 bits], ...] (64 spread positions)}]}
    ~/.cache/packbench/venv/bin/python scripts/reference/gguf_dequant_ref.py blocks OUTDIR
        for each type packbench dequantizes: OUTDIR/<TYPE>.raw (blocks) and OUTDIR/<TYPE>.f32, and
        OUTDIR/manifest.json [{"type", "n", "source"}]: blocks come from gguf.quants.quantize of
        random data where the package can quantize the type, else random bytes whose f16 scale
        fields are set to random finite halves (any bytes are valid input to a dequantizer).
"""
import json
import os
import sys
import zlib

import numpy as np
from gguf import GGUFReader
from gguf.constants import GGML_QUANT_SIZES, GGMLQuantizationType as T, GGUFValueType
from gguf.quants import dequantize, quantize

TYPES = ["F32", "F16", "BF16", "Q8_0", "Q4_0", "Q4_1", "Q5_0", "Q5_1", "Q4_K", "Q5_K", "Q6_K"]
# Byte offsets of the f16 scale fields inside one block, for random blocks.
HALF_FIELDS = {"Q8_0": [0], "Q4_0": [0], "Q4_1": [0, 2], "Q5_0": [0], "Q5_1": [0, 2],
               "Q4_K": [0, 2], "Q5_K": [0, 2], "Q6_K": [208]}


def field_json(field):
    types = field.types
    if types[0] == GGUFValueType.ARRAY:
        items = field.contents()
        return {"type": "ARRAY", "elem_type": types[-1].name, "count": len(items), "value": items[:8]}
    return {"type": types[0].name, "value": field.contents()}


def tensors(path, out):
    reader = GGUFReader(path)
    metadata = {k: field_json(f) for k, f in reader.fields.items() if not k.startswith("GGUF.")}
    manifest = []
    for t in reader.tensors:
        x = np.ascontiguousarray(dequantize(t.data, t.tensor_type), dtype=np.float32)
        flat = x.reshape(-1)
        at = np.unique(np.linspace(0, flat.size - 1, 64).astype(np.int64))
        bits = flat.view(np.uint32)[at]
        manifest.append({"name": t.name, "type": t.tensor_type.name, "shape": list(x.shape), "offset": int(t.data_offset),
                         "crc32": zlib.crc32(flat.tobytes()),
                         "samples": [[int(i), int(b)] for i, b in zip(at, bits)]})
    with open(out, "w") as f:
        json.dump({"metadata": metadata, "tensors": manifest}, f)


def blocks(out):
    os.makedirs(out, exist_ok=True)
    rng = np.random.default_rng(1234)
    manifest = []
    for name in TYPES:
        qt = T[name]
        block, size = GGML_QUANT_SIZES[qt]
        n = 4 * 512  # 8 K-blocks, 64 small blocks
        data = (rng.standard_normal(n) * rng.uniform(0.01, 3.0)).astype(np.float32)
        data[::97] = 0.0
        try:
            raw = np.ascontiguousarray(quantize(data.reshape(4, 512), qt)).view(np.uint8).reshape(-1)
            source = "quantize"
        except NotImplementedError:
            raw = rng.integers(0, 256, size=(n // block) * size, dtype=np.uint8)
            halves = rng.uniform(-2.0, 2.0, size=(n // block) * len(HALF_FIELDS[name])).astype(np.float16).view(np.uint8)
            blk = raw.reshape(n // block, size)
            for k, off in enumerate(HALF_FIELDS[name]):
                blk[:, off:off + 2] = halves.reshape(n // block, len(HALF_FIELDS[name]), 2)[:, k, :]
            raw = blk.reshape(-1)
            source = "random bytes"
        want = dequantize(raw.reshape(4, -1), qt).astype(np.float32, copy=False).reshape(-1)
        assert want.size == n
        raw.tofile(os.path.join(out, f"{name}.raw"))
        np.ascontiguousarray(want).tofile(os.path.join(out, f"{name}.f32"))
        manifest.append({"type": name, "n": n, "source": source})
    json.dump(manifest, open(os.path.join(out, "manifest.json"), "w"))


if __name__ == "__main__":
    if len(sys.argv) == 4 and sys.argv[1] == "tensors":
        tensors(sys.argv[2], sys.argv[3])
    elif len(sys.argv) == 3 and sys.argv[1] == "blocks":
        blocks(sys.argv[2])
    else:
        sys.exit(__doc__)
