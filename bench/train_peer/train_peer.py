#!/usr/bin/python3
"""The peer side of bench/bench_trainers_step.cpp: the same LLaMA shape, batch and training step
(forward, cross-entropy summed over trainable tokens / their count, backward, global-norm
clipping, AdamW) in PyTorch Python, float32 on the CPU, with the same thread count.

    /usr/bin/python3 bench/train_peer/train_peer.py --vocab 4096 --hidden 256 --layers 4 \
        --heads 4 --kv-heads 2 --ffn 688 --batch 4 --seq 256 --steps 5 --threads 2

Prints one JSON line: {"step_seconds": median seconds per step, "tokens_per_second": ...}.
"""
import argparse
import json
import math
import statistics
import sys
import time

import torch
import torch.nn as nn
import torch.nn.functional as F


class RMSNorm(nn.Module):
    def __init__(self, d, eps=1e-5):
        super().__init__()
        self.weight = nn.Parameter(torch.ones(d))
        self.eps = eps

    def forward(self, x):
        return self.weight * (x * torch.rsqrt(x.pow(2).mean(-1, keepdim=True) + self.eps))


def rotate_half(x):
    d = x.shape[-1] // 2
    return torch.cat([-x[..., d:], x[..., :d]], -1)


class Layer(nn.Module):
    def __init__(self, h, nh, nkv, ffn):
        super().__init__()
        hd = h // nh
        self.nh, self.nkv, self.hd = nh, nkv, hd
        self.q_proj = nn.Linear(h, nh * hd, bias=False)
        self.k_proj = nn.Linear(h, nkv * hd, bias=False)
        self.v_proj = nn.Linear(h, nkv * hd, bias=False)
        self.o_proj = nn.Linear(nh * hd, h, bias=False)
        self.gate_proj = nn.Linear(h, ffn, bias=False)
        self.up_proj = nn.Linear(h, ffn, bias=False)
        self.down_proj = nn.Linear(ffn, h, bias=False)
        self.input_layernorm = RMSNorm(h)
        self.post_attention_layernorm = RMSNorm(h)

    def forward(self, x, cos, sin, mask):
        B, T, _ = x.shape
        a = self.input_layernorm(x)
        q = self.q_proj(a).view(B, T, self.nh, self.hd).transpose(1, 2)
        k = self.k_proj(a).view(B, T, self.nkv, self.hd).transpose(1, 2)
        v = self.v_proj(a).view(B, T, self.nkv, self.hd).transpose(1, 2)
        q = q * cos + rotate_half(q) * sin
        k = k * cos + rotate_half(k) * sin
        rep = self.nh // self.nkv
        k = k.repeat_interleave(rep, dim=1)
        v = v.repeat_interleave(rep, dim=1)
        s = (q @ k.transpose(-1, -2)) / math.sqrt(self.hd) + mask
        o = (s.softmax(-1) @ v).transpose(1, 2).reshape(B, T, -1)
        x = x + self.o_proj(o)
        m = self.post_attention_layernorm(x)
        return x + self.down_proj(F.silu(self.gate_proj(m)) * self.up_proj(m))


class Llama(nn.Module):
    def __init__(self, vocab, h, layers, nh, nkv, ffn):
        super().__init__()
        self.embed_tokens = nn.Embedding(vocab, h)
        self.layers = nn.ModuleList([Layer(h, nh, nkv, ffn) for _ in range(layers)])
        self.norm = RMSNorm(h)
        self.lm_head = nn.Linear(h, vocab, bias=False)
        self.hd = h // nh
        for p in self.parameters():
            if p.dim() == 2:
                nn.init.normal_(p, std=0.02)

    def forward(self, ids, pos):
        T = ids.shape[1]
        inv = 1.0 / (500000.0 ** (torch.arange(0, self.hd, 2, dtype=torch.float32) / self.hd))
        ang = pos.float()[..., None] * inv
        ang = torch.cat([ang, ang], -1)[:, None]
        cos, sin = ang.cos(), ang.sin()
        mask = torch.full((T, T), float("-inf")).triu(1)
        x = self.embed_tokens(ids)
        for layer in self.layers:
            x = layer(x, cos, sin, mask)
        return self.lm_head(self.norm(x))


def main():
    ap = argparse.ArgumentParser()
    for k, v in (("vocab", 4096), ("hidden", 256), ("layers", 4), ("heads", 4), ("kv-heads", 2),
                 ("ffn", 688), ("batch", 4), ("seq", 256), ("steps", 5), ("threads", 1)):
        ap.add_argument("--" + k, type=int, default=v)
    ap.add_argument("--profile", action="store_true", help="print self time per operator over the timed steps (stderr)")
    a = ap.parse_args()
    torch.set_num_threads(a.threads)
    torch.manual_seed(0)
    model = Llama(a.vocab, a.hidden, a.layers, a.heads, a.kv_heads, a.ffn)
    no_decay = [p for n, p in model.named_parameters() if "norm" in n]
    decay = [p for n, p in model.named_parameters() if "norm" not in n]
    opt = torch.optim.AdamW([{"params": decay, "weight_decay": 0.0}, {"params": no_decay, "weight_decay": 0.0}],
                            lr=1e-4)
    g = torch.Generator().manual_seed(1)
    ids = torch.randint(4, a.vocab, (a.batch, a.seq), generator=g)
    pos = torch.arange(a.seq).expand(a.batch, a.seq)
    targets = torch.cat([ids[:, 1:], torch.full((a.batch, 1), -100)], 1)
    targets[:, :8] = -100  # a short untrained prompt
    times = []
    prof = None
    for step in range(a.steps + 2):
        if a.profile and step == 2:
            prof = torch.profiler.profile(activities=[torch.profiler.ProfilerActivity.CPU])
            prof.__enter__()
        t0 = time.perf_counter()
        n = int((targets != -100).sum())
        logits = model(ids, pos)
        loss = F.cross_entropy(logits.view(-1, a.vocab), targets.reshape(-1), ignore_index=-100, reduction="sum") / n
        loss.backward()
        torch.nn.utils.clip_grad_norm_(model.parameters(), 1.0)
        opt.step()
        opt.zero_grad()
        float(loss)
        if step >= 2:
            times.append(time.perf_counter() - t0)
    if prof is not None:
        prof.__exit__(None, None, None)
        rows = sorted(prof.key_averages(), key=lambda e: e.self_cpu_time_total, reverse=True)
        total = sum(e.self_cpu_time_total for e in rows)
        print(f"peer ({a.threads} threads): self time per operator over {a.steps} steps, "
              f"total {total / 1e3 / a.steps:.1f} ms/step", file=sys.stderr)
        for e in rows[:25]:
            print(f"  {e.key:<48} {e.self_cpu_time_total / 1e3 / a.steps:8.2f} ms/step "
                  f"{100.0 * e.self_cpu_time_total / total:5.1f}%  {e.count:6} calls", file=sys.stderr)
    med = statistics.median(times)
    print(json.dumps({"step_seconds": med, "tokens_per_second": a.batch * a.seq / med, "threads": a.threads}))


if __name__ == "__main__":
    main()
