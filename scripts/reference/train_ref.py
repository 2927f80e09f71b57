#!/usr/bin/env python3
"""Independent PyTorch training of packbench's tiny reference LLaMA: the first optimizer steps'
losses with AdamW, the cosine schedule with warmup, gradient clipping, gradient accumulation and
both loss normalisations, for tests/trainers/test_train_ref.cpp to compare packbench against.

Run with setup's Python environment (it has torch):
    ~/.cache/packbench/venv/bin/python scripts/reference/train_ref.py [--out tests/fixtures/train_ref/train_ref.json]

The model is scripts/reference/llama_ref.py's forward pass (float64) with the weights of
tests/fixtures/llama_ref/untied/model.safetensors. Everything else (row order, collation, shifted
targets, loss normalisation, schedule, optimizer groups) is written here from the Hugging Face /
PyTorch definitions, not from packbench's code:
  - row order per epoch: torch.randperm(n, generator seeded seed + epoch) (DistributedSampler,
    one process), chunks of per_device rows, max(len // grad_accum, 1) steps per epoch;
  - targets: label t+1 for token t; with block attention a target in the next sample is ignored;
  - global_tokens: sum of CE over the step's micro-batches / trainable targets of the step;
    per_micro_batch: mean CE of each micro-batch / grad_accum (the HF Trainer);
  - lr(step) = lr * HF get_cosine_schedule_with_warmup(ceil(total * warmup_ratio), total);
  - torch.optim.AdamW, no decay on biases and norm weights; clip_grad_norm_(max_grad_norm).

Output: JSON with "magic": "packbench-train-ref", "version": 1, and per case its options, rows,
and the expected per-step "losses" and "grad_norms".
"""
import argparse
import json
import math
import os
import struct
import sys

import torch

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import llama_ref  # noqa: E402

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
MODEL_DIR = "tests/fixtures/llama_ref/untied"


def read_safetensors(path):
    with open(path, "rb") as f:
        n = struct.unpack("<Q", f.read(8))[0]
        header = json.loads(f.read(n))
        data = f.read()
    out = {}
    for name, info in header.items():
        if name == "__metadata__":
            continue
        assert info["dtype"] == "F32", name
        a, b = info["data_offsets"]
        t = torch.frombuffer(bytearray(data[a:b]), dtype=torch.float32).reshape(info["shape"])
        out[name] = t.clone()
    return out


def make_rows(vocab, n_rows, seed, max_segments):
    """Rows of 1..max_segments samples: prompt tokens untrained (-100), response tokens trained."""
    g = torch.Generator().manual_seed(seed)
    rows = []
    for _ in range(n_rows):
        nseg = int(torch.randint(1, max_segments + 1, (1,), generator=g))
        ids, labels, offsets = [], [], [0]
        for _ in range(nseg):
            plen = int(torch.randint(2, 6, (1,), generator=g))
            rlen = int(torch.randint(1, 8, (1,), generator=g))
            toks = torch.randint(4, vocab, (plen + rlen,), generator=g).tolist()
            ids += toks
            labels += [-100] * plen + toks[plen:]
            offsets.append(len(ids))
        rows.append({"input_ids": ids, "labels": labels, "segment_offsets": offsets})
    return rows


def collate(rows, block):
    """[B,T] tensors, T = longest row rounded up to a multiple of 8; targets shifted by one."""
    B = len(rows)
    T = max(len(r["input_ids"]) for r in rows)
    T = (T + 7) // 8 * 8
    ids = torch.zeros(B, T, dtype=torch.int64)
    tgt = torch.full((B, T), -100, dtype=torch.int64)
    pos = torch.zeros(B, T, dtype=torch.int64)
    mask = torch.zeros(B, T, dtype=torch.int64)
    seg = torch.full((B, T), -1, dtype=torch.int64)
    for i, r in enumerate(rows):
        L = len(r["input_ids"])
        offs = r["segment_offsets"]
        for s in range(len(offs) - 1):
            for t in range(offs[s], offs[s + 1]):
                ids[i, t] = r["input_ids"][t]
                mask[i, t] = 1
                seg[i, t] = s
                pos[i, t] = t - offs[s] if block else t
                if t + 1 < L and not (block and t + 1 >= offs[s + 1]):
                    tgt[i, t] = r["labels"][t + 1]
    return ids, tgt, pos, mask, seg


def cosine_lambda(step, warmup, total):
    if step < warmup:
        return step / max(1, warmup)
    progress = (step - warmup) / max(1, total - warmup)
    return max(0.0, 0.5 * (1.0 + math.cos(math.pi * 0.5 * 2.0 * progress)))


def train(cfg, weights, rows, opt):
    params = {k: v.clone().to(torch.float64).requires_grad_() for k, v in weights.items()}
    decay = [p for k, p in params.items() if not (k.endswith("bias") or "norm" in k)]
    no_decay = [p for k, p in params.items() if k.endswith("bias") or "norm" in k]
    optim = torch.optim.AdamW([{"params": decay, "weight_decay": opt["weight_decay"]},
                               {"params": no_decay, "weight_decay": 0.0}],
                              lr=opt["learning_rate"], betas=(0.9, 0.999), eps=1e-8)
    n, b, ga = len(rows), opt["per_device_train_batch_size"], opt["gradient_accumulation_steps"]
    micro_per_epoch = (n + b - 1) // b
    spe = max(micro_per_epoch // ga, 1)
    total = opt["max_steps"]
    warmup = math.ceil(total * opt["warmup_ratio"])
    block = opt["attention"] == "block"
    losses, norms = [], []
    for step in range(total):
        epoch, sie = step // spe, step % spe
        perm = torch.randperm(n, generator=torch.Generator().manual_seed(opt["seed"] + epoch)).tolist()
        mbs = [perm[i:i + b] for i in range(0, n, b)]
        micro = mbs if len(mbs) < ga else mbs[sie * ga:(sie + 1) * ga]
        batches = [collate([rows[i] for i in mb], block) for mb in micro]
        n_global = sum(int((bt[1] != -100).sum()) for bt in batches)
        step_loss = 0.0
        for ids, tgt, pos, mask, seg in batches:
            n_micro = int((tgt != -100).sum())
            if n_micro == 0:
                continue
            logits = llama_ref.forward(cfg, params, ids, pos, mask, seg, block)
            ce = torch.nn.functional.cross_entropy(logits.reshape(-1, logits.shape[-1]), tgt.reshape(-1),
                                                   ignore_index=-100, reduction="sum")
            if opt["loss_normalization"] == "global_tokens":
                loss = ce / n_global
            else:
                loss = (ce / n_micro) / ga
            loss.backward()
            step_loss += float(loss)
        norm = torch.nn.utils.clip_grad_norm_(list(params.values()), opt["max_grad_norm"])
        lr = opt["learning_rate"] * cosine_lambda(step, warmup, total)
        for group in optim.param_groups:
            group["lr"] = lr
        optim.step()
        optim.zero_grad()
        losses.append(step_loss)
        norms.append(float(norm))
    return losses, norms


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--out", default=os.path.join(ROOT, "tests/fixtures/train_ref/train_ref.json"))
    args = ap.parse_args()
    torch.set_num_threads(1)
    with open(os.path.join(ROOT, MODEL_DIR, "config.json")) as f:
        cfg = json.load(f)
    weights = read_safetensors(os.path.join(ROOT, MODEL_DIR, "model.safetensors"))
    base = {"learning_rate": 3e-3, "weight_decay": 0.1, "max_grad_norm": 0.5, "warmup_ratio": 0.2,
            "per_device_train_batch_size": 2, "gradient_accumulation_steps": 2, "max_steps": 7,
            "seed": 42, "lr_scheduler_type": "cosine"}
    cases = []
    for name, attention, norm_name, segs in (("cross_global", "cross", "global_tokens", 3),
                                             ("cross_per_micro", "cross", "per_micro_batch", 3),
                                             ("block_global", "block", "global_tokens", 3),
                                             ("padding_per_micro", "cross", "per_micro_batch", 1)):
        opt = dict(base, attention=attention, loss_normalization=norm_name)
        rows = make_rows(cfg["vocab_size"], 10, 7 + len(cases), segs)
        losses, norms = train(cfg, weights, rows, opt)
        cases.append({"name": name, "options": opt, "rows": rows, "losses": losses, "grad_norms": norms})
        print("%-18s %s" % (name, " ".join("%.6f" % l for l in losses)))
    os.makedirs(os.path.dirname(args.out), exist_ok=True)
    with open(args.out, "w") as f:
        json.dump({"magic": "packbench-train-ref", "version": 1, "model_dir": MODEL_DIR,
                   "regenerate": "/usr/bin/python3 scripts/reference/train_ref.py", "cases": cases}, f)
        f.write("\n")


if __name__ == "__main__":
    main()
