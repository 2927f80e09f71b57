# Side-by-side speed of packbench and the Hugging Face stack on a real model folder: training step, greedy generation, MMLU evaluation.
"""Run through bench/real_model/compare.sh (it finds the Python environment, the build and the model).

    compare.py train    --model DIR --pb-side build/bench/real_model_pb [--cutoffs 512,2048]
    compare.py generate --model DIR --pb-side build/bench/real_model_pb [--batches 1,8 --new-tokens 32]
    compare.py eval     --model DIR --packbench build/bin/packbench [--subjects ... --limit 2]

Every measurement alternates the two sides (packbench, peer, packbench, peer, ...) after one
untimed warm-up of each, --reps times, with the same thread count on both sides; it prints a
Markdown table (medians and ratios) and the load averages, and appends the raw numbers as one
JSON object to --json when given.

- train: packbench's training loop (real_model_pb train: run_training, batch 1, AdamW, clip 1.0)
  against transformers' LlamaForCausalLM(labels=input_ids) + clip_grad_norm_ + torch.optim.AdamW,
  fp32, the same rows (MMLU question text tokenized by the model's tokenizer, cut into rows of
  exactly the cutoff, trained in the same order on both sides). Both processes stay loaded; steps
  alternate one by one, after one untimed warm-up step at the first cutoff. MFU = FLOPs per
  token (packbench's count, the same for both) x tokens / step time / packbench's GEMM ceiling.
- generate: packbench generate() (greedy, KV cache, no stop ids) against model.generate(greedy,
  min_new_tokens = max_new_tokens, left padding), same prompt ids, every row exactly N new tokens.
- eval: `packbench eval --tasks mmlu` against `lm_eval --model hf` on the same subjects and
  --limit (a task definition generated from bench/real_model/lmeval_mmlu/), wall time of each
  whole command, offline.
"""
import argparse
import csv
import json
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent


def load_avg():
    return " ".join(f"{x:.2f}" for x in os.getloadavg())


def median(xs):
    return statistics.median(xs)


def fail(msg):
    print(f"compare.py: {msg}", file=sys.stderr)
    sys.exit(2)


class PbSide:
    """The packbench process (real_model_pb), one JSON line per message."""

    def __init__(self, argv, threads):
        env = dict(os.environ, PACKBENCH_PROGRESS="0", OMP_NUM_THREADS=str(threads))
        self.p = subprocess.Popen(argv, stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True, env=env)

    def read(self):
        while True:
            line = self.p.stdout.readline()
            if not line:
                self.p.wait()
                fail(f"packbench side ended (exit {self.p.returncode}) before answering")
            if line.startswith("PB "):
                return json.loads(line[3:])

    def send(self, obj):
        self.p.stdin.write((json.dumps(obj) if obj is not None else "") + "\n")
        self.p.stdin.flush()

    def close(self):
        if self.p.stdin:
            self.p.stdin.close()
        self.p.wait()


def text_corpus(data_root):
    """Question text of the MMLU test CSVs, in file order: real English to tokenize into rows."""
    folder = Path(data_root) / "mmlu" / "test"
    parts = []
    for f in sorted(folder.glob("*_test.csv")):
        with open(f, newline="", encoding="utf-8") as fh:
            for row in csv.reader(fh):
                parts.append(row[0] + "\n" + "\n".join(row[1:5]))
    if not parts:
        fail(f"{folder}: no *_test.csv files")
    return parts


def make_rows(tok, data_root, cutoff, n):
    ids = []
    for text in text_corpus(data_root):
        ids.extend(tok(text, add_special_tokens=False)["input_ids"])
        ids.append(tok.eos_token_id)
        if len(ids) >= cutoff * n:
            break
    if len(ids) < cutoff * n:
        fail(f"not enough text for {n} rows of {cutoff} tokens")
    return [ids[i * cutoff:(i + 1) * cutoff] for i in range(n)]


def hf_model(args):
    import torch
    from transformers import AutoTokenizer, LlamaForCausalLM
    torch.set_num_threads(args.threads)
    tok = AutoTokenizer.from_pretrained(args.model)
    model = LlamaForCausalLM.from_pretrained(args.model, dtype=torch.float32)
    return torch, tok, model


def malloc_trim():
    import ctypes
    ctypes.CDLL("libc.so.6").malloc_trim(0)


def cmd_train(args, report):
    torch, tok, model = hf_model(args)
    model.train()
    opt = torch.optim.AdamW(model.parameters(), lr=1e-5, weight_decay=0.0)
    cutoffs = [int(c) for c in args.cutoffs.split(",")]
    # The step sequence both sides train: one untimed warm-up row of the first cutoff, then
    # --reps rows of each cutoff. Row contents differ (consecutive text), lengths are the cutoff.
    plan = [cutoffs[0]] + [c for c in cutoffs for _ in range(args.reps)]
    texts = {c: make_rows(tok, args.data_root, c, plan.count(c)) for c in cutoffs}
    seq_rows = [texts[c].pop(0) for c in plan]
    # packbench's trainer shuffles rows with its own sampler; ask it which row it takes at each
    # step and put the k-th row of the sequence there, so both sides train the same sequence.
    p = subprocess.run([args.pb_side, "train", "--order", str(len(plan))], capture_output=True, text=True, check=True)
    order = json.loads(p.stdout.split("PB ", 1)[1])["order"]
    rows = [None] * len(plan)
    for k, idx in enumerate(order):
        rows[idx] = seq_rows[k]
    with tempfile.NamedTemporaryFile("w", suffix=".json", delete=False) as f:
        json.dump({"rows": rows}, f)
        rows_path = f.name
    pb = PbSide([args.pb_side, "train", "--model", args.model, "--rows", rows_path, "--threads", str(args.threads)],
                args.threads)
    ready = pb.read()
    pb_s = {c: [] for c in cutoffs}
    hf_s = {c: [] for c in cutoffs}
    load = {c: [] for c in cutoffs}
    hf_losses = []
    malloc_trim()
    for k, cutoff in enumerate(plan, start=1):
        load[cutoff].append(load_avg())
        m = pb.read()  # packbench's step k (it waits for us before step k+1)
        assert m["step"] == k, m
        ids = torch.tensor([seq_rows[k - 1]])
        t0 = time.perf_counter()
        out = model(input_ids=ids, labels=ids)
        out.loss.backward()
        torch.nn.utils.clip_grad_norm_(model.parameters(), 1.0)
        opt.step()
        opt.zero_grad()
        hf_losses.append(out.loss.item())
        dt = time.perf_counter() - t0
        del out
        malloc_trim()  # as packbench's side does after its step (outside the timing)
        if k > 1:
            pb_s[cutoff].append(m["seconds"])
            hf_s[cutoff].append(dt)
        print(f"  step {k} (cutoff {cutoff}{', warm-up' if k == 1 else ''}): packbench {m['seconds']:.2f} s, "
              f"transformers {dt:.2f} s", file=sys.stderr)
        if k < len(plan):
            pb.send(None)
    done = pb.read()
    pb.close()
    os.unlink(rows_path)
    peak, now = ready["gemm_ceiling_flops"], ready["gemm_ceiling_now_flops"]
    rows_out = []
    for c in cutoffs:
        fpt = ready["train_flops_per_token"][str(c)]
        pm, hm = median(pb_s[c]), median(hf_s[c])
        rows_out.append({
            "cutoff": c, "tokens_per_step": c, "pb_step_s": pb_s[c], "hf_step_s": hf_s[c],
            "pb_median_s": pm, "hf_median_s": hm, "pb_tokens_per_s": c / pm, "hf_tokens_per_s": c / hm,
            "pb_mfu": fpt * c / pm / peak, "hf_mfu": fpt * c / hm / peak, "speedup": hm / pm,
            "train_flops_per_token": fpt, "gemm_ceiling_flops": peak, "gemm_ceiling_now_flops": now,
            "pb_mfu_now": fpt * c / pm / now, "hf_mfu_now": fpt * c / hm / now,
            "gemm_ceiling_cached": ready["gemm_ceiling_cached"], "pb_blas": ready["blas"], "load": load[c]})
    report["train"] = rows_out
    report["step_plan"] = plan
    report["pb_losses"], report["hf_losses"] = done["losses"], hf_losses
    print(f"\nGEMM ceiling for MFU (both sides): {peak / 1e9:.1f} GFLOP/s "
          f"({'cached in gemm_ceiling.json' if ready['gemm_ceiling_cached'] else 'measured'}); measured at the start "
          f"of this run: {now / 1e9:.1f} GFLOP/s. packbench BLAS: {ready['blas']}")
    print("\n| cutoff | packbench step | packbench tok/s | MFU | transformers step | transformers tok/s | MFU | "
          "speedup | load avg at each step |")
    print("|---|---|---|---|---|---|---|---|---|")
    for r in rows_out:
        print(f"| {r['cutoff']} | {r['pb_median_s']:.2f} s | {r['pb_tokens_per_s']:.1f} | {r['pb_mfu']:.2f} | "
              f"{r['hf_median_s']:.2f} s | {r['hf_tokens_per_s']:.1f} | {r['hf_mfu']:.2f} | "
              f"**{r['speedup']:.2f}x** | {'; '.join(x.split()[0] for x in r['load'])} |")
    for r in rows_out:
        print(f"cutoff {r['cutoff']}: steps packbench {[round(x, 2) for x in r['pb_step_s']]}, transformers "
              f"{[round(x, 2) for x in r['hf_step_s']]}; {r['train_flops_per_token'] / 1e9:.3f} GFLOP/token; MFU "
              f"against the ceiling measured now: packbench {r['pb_mfu_now']:.2f}, transformers {r['hf_mfu_now']:.2f}")
    print(f"step losses (plan {plan}): packbench {[round(x, 4) for x in done['losses']]}, "
          f"transformers {[round(x, 4) for x in hf_losses]}")


def prompts(tok, data_root, n):
    out = []
    for text in text_corpus(data_root)[:n]:
        q = text.split("\n")[0]
        out.append(tok(f"Question: {q}\nAnswer:", add_special_tokens=False)["input_ids"])
    return out


def cmd_generate(args, report):
    torch, tok, model = hf_model(args)
    model.eval()
    pad = tok.pad_token_id if tok.pad_token_id is not None else tok.eos_token_id
    pb = PbSide([args.pb_side, "generate", "--model", args.model, "--threads", str(args.threads)], args.threads)
    pb.read()
    all_prompts = prompts(tok, args.data_root, max(int(b) for b in args.batches.split(",")))

    def hf_generate(ps, n):
        L = max(len(p) for p in ps)
        ids = torch.tensor([[pad] * (L - len(p)) + p for p in ps])
        mask = torch.tensor([[0] * (L - len(p)) + [1] * len(p) for p in ps])
        t0 = time.perf_counter()
        with torch.no_grad():
            out = model.generate(input_ids=ids, attention_mask=mask, max_new_tokens=n, min_new_tokens=n,
                                 do_sample=False, pad_token_id=pad)
        dt = time.perf_counter() - t0
        return dt, out[:, L:].tolist()

    def pb_generate(ps, n, b):
        pb.send({"prompts": ps, "max_new_tokens": n, "batch": b})
        m = pb.read()
        return m["seconds"], m["tokens"]

    rows_out = []
    for b in [int(x) for x in args.batches.split(",")]:
        ps = all_prompts[:b]
        n = args.new_tokens
        pb_generate(ps, 8, b)  # warm-up, untimed
        hf_generate(ps, 8)
        load_before = load_avg()
        pb_s, hf_s = [], []
        for rep in range(args.reps):
            t, pb_tokens = pb_generate(ps, n, b)
            pb_s.append(t)
            t, hf_tokens = hf_generate(ps, n)
            hf_s.append(t)
            print(f"  batch {b} rep {rep + 1}: packbench {pb_s[-1]:.2f} s, transformers {hf_s[-1]:.2f} s", file=sys.stderr)
        assert all(len(t) == n for t in pb_tokens) and all(len(t) == n for t in hf_tokens)
        # min_new_tokens keeps transformers from choosing EOS; packbench (no stop ids) takes it and goes
        # on, so the rows are compared up to packbench's first EOS (where the two may part).
        eos = tok.eos_token_id
        cut = [a.index(eos) if eos in a else n for a in pb_tokens]
        same_rows = sum(a[:c] == h[:c] for a, h, c in zip(pb_tokens, hf_tokens, cut))
        same_tokens = sum(sum(x == y for x, y in zip(a[:c], h[:c])) for a, h, c in zip(pb_tokens, hf_tokens, cut))
        same_tokens_of = sum(cut)
        r = {"batch": b, "new_tokens": n, "prompt_lengths": [len(p) for p in ps], "pb_s": pb_s, "hf_s": hf_s,
             "pb_median_s": median(pb_s), "hf_median_s": median(hf_s),
             "pb_tokens_per_s": b * n / median(pb_s), "hf_tokens_per_s": b * n / median(hf_s),
             "speedup": median(hf_s) / median(pb_s), "identical_rows": same_rows,
             "identical_token_fraction": same_tokens / max(1, same_tokens_of), "rows_with_eos": sum(c < n for c in cut), "load_before": load_before, "load_after": load_avg()}
        rows_out.append(r)
    pb.close()
    report["generate"] = rows_out
    print("\n| batch | new tokens / row | packbench | packbench tok/s | transformers | transformers tok/s | speedup | "
          "same greedy tokens up to packbench's first EOS | load avg before / after |")
    print("|---|---|---|---|---|---|---|---|---|")
    for r in rows_out:
        print(f"| {r['batch']} | {r['new_tokens']} | {r['pb_median_s']:.2f} s | {r['pb_tokens_per_s']:.1f} | "
              f"{r['hf_median_s']:.2f} s | {r['hf_tokens_per_s']:.1f} | **{r['speedup']:.2f}x** | "
              f"{r['identical_rows']}/{r['batch']} rows ({r['rows_with_eos']} reach EOS) | "
              f"{r['load_before']} / {r['load_after']} |")


def lmeval_tasks(folder, data_root, subjects):
    """One lm-eval task per subject, from lmeval_mmlu/_template.yaml, reading the CSVs in place."""
    folder.mkdir(parents=True, exist_ok=True)
    template = HERE / "lmeval_mmlu" / "_template.yaml"
    names = []
    for s in subjects:
        name = f"pbbench_mmlu_{s}"
        test = Path(data_root) / "mmlu" / "test" / f"{s}_test.csv"
        dev = Path(data_root) / "mmlu" / "dev" / f"{s}_dev.csv"
        for f in (test, dev):
            if not f.is_file():
                fail(f"{f}: missing (subject '{s}')")
        title = s.replace("_", " ")
        (folder / f"{name}.yaml").write_text(
            f"include: {template}\ntask: {name}\n"
            f"dataset_kwargs:\n  data_files:\n    test: {test}\n    dev: {dev}\n"
            f"  column_names: [question, A, B, C, D, answer]\n"
            f"description: \"The following are multiple choice questions (with answers) about {title}.\\n\\n\"\n")
        names.append(name)
    return names


def pb_eval_root(folder, data_root, subjects):
    """A data root whose mmlu/ holds only the chosen subjects (symlinks to the CSVs)."""
    for split in ("test", "dev"):
        d = folder / "mmlu" / split
        d.mkdir(parents=True, exist_ok=True)
        for s in subjects:
            (d / f"{s}_{split}.csv").symlink_to(Path(data_root) / "mmlu" / split / f"{s}_{split}.csv")
    return folder


def run_timed(argv, env, log, results_dir=None):
    t0 = time.perf_counter()
    with open(log, "w") as fh:
        p = subprocess.run(argv, env=env, stdout=fh, stderr=subprocess.STDOUT)
    dt = time.perf_counter() - t0
    # lm-eval 0.4.13 with this environment's pytablewriter saves its results, then fails printing
    # the summary table ('column_type_hint_list'); the run itself is complete, so it counts.
    table_bug = "column_type_hint_list" in Path(log).read_text() and results_dir is not None and any(
        f.stat().st_mtime >= time.time() - dt - 1 for f in Path(results_dir).rglob("results_*.json"))
    if p.returncode != 0 and not table_bug:
        fail(f"{' '.join(argv)} failed (exit {p.returncode}); see {log}:\n" + Path(log).read_text()[-3000:])
    return dt


def lm_eval_scoring_seconds(log):
    """Seconds from lm-eval's 'Running loglikelihood requests' to 'Saving results' (1 s log stamps)."""
    stamps = {}
    for line in Path(log).read_text().splitlines():
        for key in ("Running loglikelihood requests", "Saving results aggregated"):
            if key in line and key not in stamps:
                stamps[key] = time.mktime(time.strptime(line.split(" ")[0], "%Y-%m-%d:%H:%M:%S"))
    if len(stamps) != 2:
        return None
    return stamps["Saving results aggregated"] - stamps["Running loglikelihood requests"]


def cmd_eval(args, report):
    subjects = args.subjects.split(",")
    work = Path(tempfile.mkdtemp(prefix="pb-real-eval-"))
    names = lmeval_tasks(work / "lmeval_tasks", args.data_root, subjects)
    root = pb_eval_root(work / "data", args.data_root, subjects)
    t = str(args.threads)
    env = dict(os.environ, OMP_NUM_THREADS=t, MKL_NUM_THREADS=t, PACKBENCH_PROGRESS="0", HF_DATASETS_OFFLINE="1",
               HF_HUB_OFFLINE="1", TRANSFORMERS_OFFLINE="1", HF_DATASETS_CACHE=str(work / "hf_datasets"),
               TOKENIZERS_PARALLELISM="false")
    pb_cmd = [args.packbench, "eval", "--checkpoint", args.model, "--tasks", "mmlu", "--limit", str(args.limit),
              "--data-root", str(root), "--batch-size", str(args.batch_size), "--threads", t,
              "--chat-template", "off", "--no-bos", "--out"]  # + a fresh folder each run (it resumes from one)
    lm_cmd = [args.lm_eval, "--model", "hf", "--model_args", f"pretrained={args.model},dtype=float32",
              "--tasks", ",".join(names), "--include_path", str(work / "lmeval_tasks"), "--limit", str(args.limit),
              "--batch_size", str(args.batch_size), "--device", "cpu", "--output_path", str(work / "lm_out")]
    print("packbench: " + " ".join(pb_cmd) + " OUT", file=sys.stderr)
    print("lm_eval:   " + " ".join(lm_cmd), file=sys.stderr)
    # Warm-up of each (one document per subject): page cache, the HF datasets cache of the CSVs.
    warm = lambda cmd: [("1" if prev == "--limit" else x) for prev, x in zip([""] + cmd, cmd)]
    run_timed(warm(pb_cmd) + [str(work / "pb_warm")], env, work / "pb_warm.log")
    run_timed(warm(lm_cmd), env, work / "lm_warm.log", work / "lm_out")
    load_before = load_avg()
    pb_s, lm_s, pb_score_s, lm_score_s = [], [], [], []
    for rep in range(args.reps):
        pb_s.append(run_timed(pb_cmd + [str(work / f"pb_{rep}")], env, work / f"pb_{rep}.log"))
        pb_res = json.loads((work / f"pb_{rep}" / "results.json").read_text())
        pb_score_s.append(pb_res["timings"]["mmlu"]["seconds"])
        lm_s.append(run_timed(lm_cmd, env, work / f"lm_{rep}.log", work / "lm_out"))
        lm_score_s.append(lm_eval_scoring_seconds(work / f"lm_{rep}.log"))
        print(f"  rep {rep + 1}: packbench {pb_s[-1]:.1f} s, lm_eval {lm_s[-1]:.1f} s", file=sys.stderr)
    pb_acc = {k: v.get("acc,none") for k, v in pb_res.get("results", {}).items()}
    pb_counts = pb_res["timings"]["mmlu"]
    lm_files = sorted((work / "lm_out").rglob("results_*.json"))
    lm_acc = {}
    if lm_files:
        lm_res = json.loads(lm_files[-1].read_text())
        lm_acc = {k: v.get("acc,none") for k, v in lm_res.get("results", {}).items()}
    r = {"subjects": subjects, "limit": args.limit, "batch_size": args.batch_size, "pb_s": pb_s, "lm_eval_s": lm_s,
         "pb_median_s": median(pb_s), "lm_eval_median_s": median(lm_s), "speedup": median(lm_s) / median(pb_s),
         "pb_scoring_s": pb_score_s, "lm_eval_scoring_s": lm_score_s, "pb_scoring_median_s": median(pb_score_s),
         "lm_eval_scoring_median_s": median(lm_score_s) if None not in lm_score_s else None, "pb_counts": pb_counts,
         "pb_acc": pb_acc, "lm_eval_acc": lm_acc, "pb_command": pb_cmd, "lm_eval_command": lm_cmd,
         "load_before": load_before, "load_after": load_avg()}
    report["eval"] = r
    shutil.rmtree(work, ignore_errors=True)
    sc, pbsc = r["lm_eval_scoring_median_s"], r["pb_scoring_median_s"]
    sc_ratio = "-" if sc is None else f"{sc / pbsc:.2f}x"
    print(f"\n| documents | packbench eval (wall) | lm_eval hf (wall) | speedup | packbench scoring | "
          f"lm_eval scoring | speedup | load avg before / after |")
    print("|---|---|---|---|---|---|---|---|")
    sc_text = "-" if sc is None else f"{sc:.0f} s"
    print(f"| {len(subjects)} subjects x {args.limit} | {r['pb_median_s']:.1f} s | {r['lm_eval_median_s']:.1f} s | "
          f"**{r['speedup']:.2f}x** | {pbsc:.1f} s | {sc_text} | {sc_ratio} | "
          f"{r['load_before']} / {r['load_after']} |")
    print(f"packbench scoring counts: {pb_counts}")
    print(f"accuracy: packbench {pb_acc}; lm_eval {lm_acc}")


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("what", choices=["train", "generate", "eval"])
    ap.add_argument("--model", required=True, help="HF folder (packbench model import --gguf ... --out DIR)")
    ap.add_argument("--data-root", default="/work/shared/benchmarks", help="holds mmlu/test, mmlu/dev CSVs")
    ap.add_argument("--threads", type=int, default=1)
    ap.add_argument("--reps", type=int, default=3)
    ap.add_argument("--pb-side", default="build/bench/real_model_pb")
    ap.add_argument("--packbench", default="build/bin/packbench")
    ap.add_argument("--lm-eval", default=str(Path(sys.executable).parent / "lm_eval"))
    ap.add_argument("--cutoffs", default="512,2048")
    ap.add_argument("--batches", default="1,8")
    ap.add_argument("--new-tokens", type=int, default=32)
    ap.add_argument("--subjects", default="abstract_algebra,college_biology,high_school_geography")
    ap.add_argument("--limit", type=int, default=2)
    ap.add_argument("--batch-size", type=int, default=8)
    ap.add_argument("--json", help="append the raw numbers here (one JSON object per line)")
    args = ap.parse_args()
    if not (Path(args.model) / "config.json").is_file():
        fail(f"{args.model}: no config.json (import one: packbench model import --gguf FILE --out DIR)")
    if not (Path(args.data_root) / "mmlu" / "test").is_dir():
        fail(f"{args.data_root}/mmlu/test: missing (--data-root)")
    need = args.pb_side if args.what in ("train", "generate") else args.packbench
    if not os.access(need, os.X_OK):
        fail(f"{need}: not built (make build)")
    if args.what == "eval" and not os.access(args.lm_eval, os.X_OK):
        fail(f"{args.lm_eval}: lm-evaluation-harness not installed in this Python environment")
    report = {"what": args.what, "threads": args.threads, "reps": args.reps, "model": args.model,
              "date": time.strftime("%Y-%m-%d %H:%M:%S"), "uname": os.uname().machine,
              "load_start": load_avg()}
    print(f"{args.what}: {args.threads} thread(s) each side, {args.reps} alternating reps after a warm-up; "
          f"load average at start {report['load_start']}")
    t0 = time.perf_counter()
    {"train": cmd_train, "generate": cmd_generate, "eval": cmd_eval}[args.what](args, report)
    report["wall_s"] = time.perf_counter() - t0
    print(f"\n{args.what}: {report['wall_s']:.0f} s wall; load average at end {load_avg()}")
    if args.json:
        with open(args.json, "a") as f:
            f.write(json.dumps(report) + "\n")


if __name__ == "__main__":
    main()
