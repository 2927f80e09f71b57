#!/usr/bin/env python3
"""Independent LLaMA reference in plain PyTorch: writes tiny checkpoints and a debug dump that
tests/trainers/model/test_model_reference.cpp compares packbench's model against (llm.c test_gpt2 style).

Run with setup's Python environment (it has torch and numpy):
    ~/.cache/packbench/venv/bin/python scripts/reference/llama_ref.py [--out tests/fixtures/llama_ref]

Writes OUT/untied/{config.json,model.safetensors}, OUT/tied/{...} and OUT/llama_ref.bin.

Checking a checkpoint another program wrote (e.g. `packbench model init` / `save_pretrained`):
    ~/.cache/packbench/venv/bin/python scripts/reference/llama_ref.py --check DIR --ids 1,2,3 --logits FILE.npy
reads DIR with this script's own safetensors reader (one file or shards; F32/BF16/F16), runs the
reference forward over the ids and compares with the float32 [T, vocab] logits in FILE.npy;
exit status 0 when the largest difference is within --tol.
The reference computes in float64 from the float32 weights (so it is closer to exact than either
float32 implementation), except the rotary inverse frequencies, which are defined in float32.

llama_ref.bin layout (little-endian):
    u32 magic = 0x4C4C5246, u32 version = 1, u32 entry count, then per entry:
    u32 name length, name bytes (utf-8), u32 dtype (0 = float32, 1 = int64), u32 ndim,
    i64 dims[ndim], the data (row-major).
Entry names: "<model>/inv_freq", "<model>/<case>/{input_ids,labels,position_ids,attention_mask,
segment_ids,layout,logits,loss,sgd_losses}", "<model>/<case>/grad/<hf parameter name>".
layout: 0 = cross (one causal mask per row), 1 = block (causal within each segment).
"""
import argparse
import json
import math
import os
import struct

import torch

MAGIC = 0x4C4C5246
VERSION = 1


def make_config(tied):
    return {
        "architectures": ["LlamaForCausalLM"], "model_type": "llama",
        "vocab_size": 64, "hidden_size": 32, "intermediate_size": 48,
        "num_hidden_layers": 2, "num_attention_heads": 4, "num_key_value_heads": 2,
        "max_position_embeddings": 64, "rms_norm_eps": 1e-5, "rope_theta": 500000.0,
        "rope_scaling": {"rope_type": "llama3", "factor": 8.0, "low_freq_factor": 1.0,
                         "high_freq_factor": 4.0, "original_max_position_embeddings": 256},
        "initializer_range": 0.02, "tie_word_embeddings": tied, "hidden_act": "silu",
        "attention_bias": False, "bos_token_id": 1, "eos_token_id": [2, 3],
        "torch_dtype": "float32",
    }


def param_shapes(cfg):
    """Hugging Face parameter names and shapes, in Hugging Face's order."""
    h, f, v = cfg["hidden_size"], cfg["intermediate_size"], cfg["vocab_size"]
    nh, nkv = cfg["num_attention_heads"], cfg["num_key_value_heads"]
    hd = h // nh
    out = [("model.embed_tokens.weight", (v, h))]
    for i in range(cfg["num_hidden_layers"]):
        p = "model.layers.%d." % i
        out += [(p + "self_attn.q_proj.weight", (nh * hd, h)), (p + "self_attn.k_proj.weight", (nkv * hd, h)),
                (p + "self_attn.v_proj.weight", (nkv * hd, h)), (p + "self_attn.o_proj.weight", (h, nh * hd)),
                (p + "mlp.gate_proj.weight", (f, h)), (p + "mlp.up_proj.weight", (f, h)),
                (p + "mlp.down_proj.weight", (h, f)),
                (p + "input_layernorm.weight", (h,)), (p + "post_attention_layernorm.weight", (h,))]
    out.append(("model.norm.weight", (h,)))
    if not cfg["tie_word_embeddings"]:
        out.append(("lm_head.weight", (v, h)))
    return out


def make_weights(cfg, seed):
    g = torch.Generator().manual_seed(seed)
    w = {}
    for name, shape in param_shapes(cfg):
        if name.endswith("norm.weight"):
            w[name] = 1.0 + 0.1 * torch.randn(shape, generator=g)  # not all ones: the weight must matter
        else:
            w[name] = 0.2 * torch.randn(shape, generator=g)
    return w


def inv_freq_of(cfg):
    """Rotary inverse frequencies in float32 with the llama3 rope_scaling rule."""
    dim = cfg["hidden_size"] // cfg["num_attention_heads"]
    exps = torch.arange(0, dim, 2, dtype=torch.int64).to(torch.float32) / dim
    inv = 1.0 / (cfg["rope_theta"] ** exps)
    rs = cfg.get("rope_scaling")
    if not rs:
        return inv
    factor, lo, hi = rs["factor"], rs["low_freq_factor"], rs["high_freq_factor"]
    old = rs["original_max_position_embeddings"]
    out = []
    for f in inv.tolist():
        # Per frequency, written out as a loop: keep short wavelengths, divide long ones by the
        # factor, interpolate in between.
        f = torch.tensor(f, dtype=torch.float32)
        wavelen = 2 * math.pi / f
        if wavelen < old / hi:
            out.append(f)
        elif wavelen > old / lo:
            out.append(f / factor)
        else:
            s = (old / wavelen - lo) / (hi - lo)
            out.append((1 - s) * f / factor + s * f)
    return torch.stack(out).to(torch.float32)


def rms_norm(x, w, eps):
    return w * (x * torch.rsqrt((x * x).mean(-1, keepdim=True) + eps))


def rotate(x, cos, sin):
    d = x.shape[-1] // 2
    return x * cos + torch.cat([-x[..., d:], x[..., :d]], -1) * sin


def forward(cfg, w, ids, pos, mask, seg, block):
    """Logits [B,T,V] in float64. Explicit [B,T,T] masks (deliberately unlike packbench)."""
    B, T = ids.shape
    h, nh, nkv = cfg["hidden_size"], cfg["num_attention_heads"], cfg["num_key_value_heads"]
    hd, eps = h // nh, cfg["rms_norm_eps"]
    x = w["model.embed_tokens.weight"][ids]
    ang = pos.to(torch.float64)[..., None] * inv_freq_of(cfg).to(torch.float64)[None, None, :]
    ang = torch.cat([ang, ang], -1)[:, None]  # [B,1,T,hd]
    cos, sin = ang.cos(), ang.sin()
    i = torch.arange(T)
    allowed = (i[None, :, None] >= i[None, None, :]).expand(B, T, T).clone()  # query i, key j
    allowed &= mask.bool()[:, None, :]
    if block:
        allowed &= seg[:, :, None] == seg[:, None, :]
    allowed |= torch.eye(T, dtype=torch.bool)[None]  # a padding query still sees itself
    for l in range(cfg["num_hidden_layers"]):
        p = "model.layers.%d." % l
        a = rms_norm(x, w[p + "input_layernorm.weight"], eps)
        q = (a @ w[p + "self_attn.q_proj.weight"].T).view(B, T, nh, hd).transpose(1, 2)
        k = (a @ w[p + "self_attn.k_proj.weight"].T).view(B, T, nkv, hd).transpose(1, 2)
        v = (a @ w[p + "self_attn.v_proj.weight"].T).view(B, T, nkv, hd).transpose(1, 2)
        q, k = rotate(q, cos, sin), rotate(k, cos, sin)
        k = k.repeat_interleave(nh // nkv, dim=1)
        v = v.repeat_interleave(nh // nkv, dim=1)
        s = (q @ k.transpose(-1, -2)) / math.sqrt(hd)
        s = s.masked_fill(~allowed[:, None], float("-inf"))
        o = (s.softmax(-1) @ v).transpose(1, 2).reshape(B, T, nh * hd)
        x = x + o @ w[p + "self_attn.o_proj.weight"].T
        m = rms_norm(x, w[p + "post_attention_layernorm.weight"], eps)
        g = m @ w[p + "mlp.gate_proj.weight"].T
        u = m @ w[p + "mlp.up_proj.weight"].T
        x = x + (g * torch.sigmoid(g) * u) @ w[p + "mlp.down_proj.weight"].T
    x = rms_norm(x, w["model.norm.weight"], eps)
    head = w["model.embed_tokens.weight"] if cfg["tie_word_embeddings"] else w["lm_head.weight"]
    return x @ head.T


def causal_lm_loss(logits, labels):
    """Mean cross-entropy of token t+1 given tokens <= t, over labels != -100."""
    lg = logits[:, :-1].reshape(-1, logits.shape[-1])
    lb = labels[:, 1:].reshape(-1)
    keep = lb != -100
    logp = lg.log_softmax(-1)
    return -logp[keep, lb[keep]].mean()


def make_cases(vocab):
    g = torch.Generator().manual_seed(1234)
    cases = {}
    # Padded batch: a full row, a right-padded row and a left-padded row (pad id 0).
    T = 12
    ids = torch.randint(4, vocab, (3, T), generator=g)
    mask = torch.ones(3, T, dtype=torch.int64)
    mask[1, 8:] = 0
    mask[2, :5] = 0
    ids[mask == 0] = 0
    pos = torch.zeros(3, T, dtype=torch.int64)
    pos[0] = torch.arange(T)
    pos[1] = torch.arange(T)
    pos[2, 5:] = torch.arange(T - 5)
    labels = ids.clone()
    labels[mask == 0] = -100
    labels[0, :3] = -100
    labels[1, :3] = -100
    labels[2, 5:8] = -100
    cases["padded"] = dict(input_ids=ids, labels=labels, position_ids=pos, attention_mask=mask,
                           segment_ids=torch.zeros(3, T, dtype=torch.int64), layout=0)
    # One packed row of samples of lengths 5, 7, 4: cross and block attention.
    T = 16
    lens = [5, 7, 4]
    ids = torch.randint(4, vocab, (1, T), generator=g)
    seg = torch.cat([torch.full((n,), s, dtype=torch.int64) for s, n in enumerate(lens)])[None]
    restart = torch.cat([torch.arange(n) for n in lens])[None]
    labels = ids.clone()
    start = 0
    for n in lens:
        labels[0, start:start + 2] = -100  # each sample's prompt
        start += n
    cases["cross"] = dict(input_ids=ids, labels=labels, position_ids=torch.arange(T)[None],
                          attention_mask=torch.ones(1, T, dtype=torch.int64), segment_ids=seg, layout=0)
    # Block: that row plus a second row of samples 6, 6 and 4 padding tokens.
    ids2 = torch.randint(4, vocab, (1, T), generator=g)
    ids2[0, 12:] = 0
    seg2 = torch.tensor([[0] * 6 + [1] * 6 + [2] * 4])
    pos2 = torch.tensor([list(range(6)) + list(range(6)) + [0] * 4])
    mask2 = torch.tensor([[1] * 12 + [0] * 4])
    labels2 = ids2.clone()
    labels2[0, 12:] = -100
    labels2[0, 0:2] = -100
    labels2[0, 6:8] = -100
    cases["block"] = dict(input_ids=torch.cat([ids, ids2]), labels=torch.cat([labels, labels2]),
                          position_ids=torch.cat([restart, pos2]),
                          attention_mask=torch.cat([torch.ones(1, T, dtype=torch.int64), mask2]),
                          segment_ids=torch.cat([seg, seg2]), layout=1)
    return cases


def write_safetensors(path, tensors):
    """The safetensors format by hand: u64 header length, JSON header, raw little-endian bytes."""
    header, blobs, offset = {"__metadata__": {"format": "pt"}}, [], 0
    for name, t in tensors.items():
        b = t.detach().to(torch.float32).contiguous().numpy().tobytes()
        header[name] = {"dtype": "F32", "shape": list(t.shape), "data_offsets": [offset, offset + len(b)]}
        blobs.append(b)
        offset += len(b)
    text = json.dumps(header, separators=(",", ":")).encode()
    text += b" " * ((8 - (8 + len(text)) % 8) % 8)
    with open(path, "wb") as f:
        f.write(struct.pack("<Q", len(text)))
        f.write(text)
        for b in blobs:
            f.write(b)


class Dump:
    def __init__(self):
        self.entries = []

    def add(self, name, t):
        t = torch.as_tensor(t).detach()
        if t.dtype in (torch.int64, torch.int32, torch.bool):
            code, data = 1, t.to(torch.int64).contiguous().numpy().tobytes()
        else:
            code, data = 0, t.to(torch.float32).contiguous().numpy().tobytes()
        self.entries.append((name, code, list(t.shape), data))

    def write(self, path):
        with open(path, "wb") as f:
            f.write(struct.pack("<III", MAGIC, VERSION, len(self.entries)))
            for name, code, shape, data in self.entries:
                nb = name.encode()
                f.write(struct.pack("<I", len(nb)) + nb + struct.pack("<II", code, len(shape)))
                f.write(struct.pack("<%dq" % len(shape), *shape))
                f.write(data)


def read_safetensors(path):
    """name -> float32 tensor, from the format's definition (u64 header length, JSON, raw bytes)."""
    with open(path, "rb") as f:
        raw = f.read()
    (n,) = struct.unpack("<Q", raw[:8])
    header = json.loads(raw[8:8 + n])
    data = raw[8 + n:]
    out = {}
    for name, e in header.items():
        if name == "__metadata__":
            continue
        b, t = e["data_offsets"]
        chunk = bytearray(data[b:t])
        if e["dtype"] == "F32":
            x = torch.frombuffer(chunk, dtype=torch.float32)
        elif e["dtype"] == "F16":
            x = torch.frombuffer(chunk, dtype=torch.float16).float()
        elif e["dtype"] == "BF16":
            x = torch.frombuffer(chunk, dtype=torch.bfloat16).float()
        else:
            raise SystemExit("%s: tensor %s: unexpected dtype %s" % (path, name, e["dtype"]))
        out[name] = x.reshape(e["shape"])
    return out


def read_checkpoint(folder):
    index = os.path.join(folder, "model.safetensors.index.json")
    if os.path.exists(index):
        with open(index) as f:
            files = sorted(set(json.load(f)["weight_map"].values()))
    else:
        files = ["model.safetensors"]
    w = {}
    for name in files:
        w.update(read_safetensors(os.path.join(folder, name)))
    return w


def read_npy_f32(path):
    with open(path, "rb") as f:
        raw = f.read()
    assert raw[:6] == b"\x93NUMPY", path
    (n,) = struct.unpack("<H", raw[8:10])
    header = raw[10:10 + n].decode()
    shape = tuple(int(d) for d in header.split("'shape': (")[1].split(")")[0].split(",") if d.strip())
    assert "'<f4'" in header, header
    return torch.frombuffer(bytearray(raw[10 + n:]), dtype=torch.float32).reshape(shape)


def check(args):
    with open(os.path.join(args.check, "config.json")) as f:
        cfg = json.load(f)
    w = read_checkpoint(args.check)
    names = [n for n, _ in param_shapes(cfg)]
    missing = [n for n in names if n not in w]
    extra = [n for n in w if n not in names]
    if missing or extra:
        raise SystemExit("%s: missing %s, unexpected %s" % (args.check, missing, extra))
    w = {k: v.to(torch.float64) for k, v in w.items()}
    ids = torch.tensor([[int(x) for x in args.ids.split(",")]])
    T = ids.shape[1]
    logits = forward(cfg, w, ids, torch.arange(T)[None], torch.ones(1, T, dtype=torch.int64),
                     torch.zeros(1, T, dtype=torch.int64), False)[0]
    got = read_npy_f32(args.logits).to(torch.float64)
    if got.shape != logits.shape:
        raise SystemExit("shape %s, reference %s" % (tuple(got.shape), tuple(logits.shape)))
    diff = (got - logits).abs().max().item()
    print("%s: max |logit diff| vs reference %.3g (tolerance %.0e): %s" % (args.check, diff, args.tol,
                                                                         "OK" if diff <= args.tol else "NOT OK"))
    return 0 if diff <= args.tol else 1


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--out", default=os.path.join(os.path.dirname(__file__), "..", "..", "tests", "fixtures", "llama_ref"))
    ap.add_argument("--check", help="checkpoint folder to check against --logits (see above)")
    ap.add_argument("--ids", help="comma-separated token ids (with --check)")
    ap.add_argument("--logits", help="float32 [T, vocab] .npy to compare (with --check)")
    ap.add_argument("--tol", type=float, default=1e-4)
    args = ap.parse_args()
    torch.set_num_threads(1)
    if args.check:
        raise SystemExit(check(args))
    dump = Dump()
    for model, tied, seed in (("untied", False, 11), ("tied", True, 12)):
        cfg = make_config(tied)
        w32 = make_weights(cfg, seed)
        folder = os.path.join(args.out, model)
        os.makedirs(folder, exist_ok=True)
        with open(os.path.join(folder, "config.json"), "w") as f:
            json.dump(cfg, f, indent=2)
        write_safetensors(os.path.join(folder, "model.safetensors"), w32)
        dump.add(model + "/inv_freq", inv_freq_of(cfg))
        cases = make_cases(cfg["vocab_size"])
        if tied:
            cases = {"padded": cases["padded"]}
        for case, c in cases.items():
            w = {k: v.to(torch.float64).requires_grad_(True) for k, v in w32.items()}
            logits = forward(cfg, w, c["input_ids"], c["position_ids"], c["attention_mask"], c["segment_ids"], c["layout"] == 1)
            loss = causal_lm_loss(logits, c["labels"])
            loss.backward()
            p = "%s/%s/" % (model, case)
            for k in ("input_ids", "labels", "position_ids", "attention_mask", "segment_ids"):
                dump.add(p + k, c[k])
            dump.add(p + "layout", torch.tensor(c["layout"]))
            dump.add(p + "logits", logits)
            dump.add(p + "loss", loss)
            for name, _ in param_shapes(cfg):
                dump.add(p + "grad/" + name, w[name].grad)
            # Five steps of plain SGD (lr 0.5) from the same weights: the first losses.
            ws = {k: v.to(torch.float64).requires_grad_(True) for k, v in w32.items()}
            losses = []
            for _ in range(5):
                l = causal_lm_loss(forward(cfg, ws, c["input_ids"], c["position_ids"], c["attention_mask"],
                                           c["segment_ids"], c["layout"] == 1), c["labels"])
                losses.append(l.item())
                l.backward()
                with torch.no_grad():
                    for v in ws.values():
                        v -= 0.5 * v.grad
                        v.grad = None
            dump.add(p + "sgd_losses", torch.tensor(losses, dtype=torch.float64))
            print("%-14s loss %.6f  sgd losses %s" % (p, loss.item(), " ".join("%.5f" % x for x in losses)))
    dump.write(os.path.join(args.out, "llama_ref.bin"))
    print("wrote", os.path.normpath(args.out))


if __name__ == "__main__":
    main()
