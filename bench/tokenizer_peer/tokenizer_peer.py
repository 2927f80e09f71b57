#!/usr/bin/env python3
"""Side-by-side peers for bench_datasets_tokenizer: tiktoken and Hugging Face tokenizers on packbench's corpus.

    python tokenizer_peer.py CORPUS_JSON [--packbench-ids IDS_JSON] [--packbench-json GBENCH_JSON]
                             [--threads N] [--runs R] [--tokenizer-dir DIR]

Run with the Python of packbench's virtual environment (bench/tokenizer_peer/run.sh does, right
after the C++ benchmark, in the same run). Peers, on the same corpus (a JSON array of strings,
each document encoded on its own, no special tokens added):
  - tiktoken (OpenAI's native Rust build) over Meta's tokenizer.model with the pattern and the 256
    special tokens of tokenizer.json: `encode_ordinary` per document (one thread) and
    `encode_ordinary_batch(num_threads=N)`;
  - Hugging Face tokenizers over tokenizer.json: `encode_batch` with TOKENIZERS_PARALLELISM=false
    (one thread) and =true with RAYON_NUM_THREADS=N.
Before timing, every document's ids must agree between tiktoken, tokenizers and packbench
(IDS_JSON, written by the C++ benchmark with PB_BENCH_IDS_OUT); any difference stops the run.
Each peer configuration runs R times; the best wall time and the best CPU time are kept. With
GBENCH_JSON (Google Benchmark's JSON output of bench_datasets_tokenizer) it also prints packbench's
numbers and the ratios packbench / tiktoken and packbench / tokenizers.
"""
import argparse
import json
import os
import sys
import time


def parse_args():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("corpus")
    ap.add_argument("--packbench-ids", help="ids from bench_datasets_tokenizer (PB_BENCH_IDS_OUT)")
    ap.add_argument("--packbench-json", help="bench_datasets_tokenizer --benchmark_out (JSON)")
    ap.add_argument("--threads", type=int, default=2, help="threads for the batched runs (default 2)")
    ap.add_argument("--runs", type=int, default=int(os.environ.get("PEER_RUNS", "3")))
    ap.add_argument("--tokenizer-dir",
                    default=os.path.join(os.path.expanduser("~"), ".cache", "packbench", "tokenizers", "llama3"))
    return ap.parse_args()


def best_of(runs, fn):
    """(best wall s, best CPU s of the whole process, tokens) over `runs` calls of fn() -> tokens."""
    wall, cpu, tokens = float("inf"), float("inf"), None
    for _ in range(runs):
        c0, t0 = time.process_time(), time.perf_counter()
        n = fn()
        w, c = time.perf_counter() - t0, time.process_time() - c0
        wall, cpu = min(wall, w), min(cpu, c)
        if tokens is not None and n != tokens:
            raise SystemExit(f"token count changed between runs: {tokens} vs {n}")
        tokens = n
    return wall, cpu, tokens


def packbench_times(path):
    """Best (real, CPU) seconds per corpus pass of each packbench encode benchmark."""
    with open(path, encoding="utf-8") as f:
        report = json.load(f)
    scale = {"ns": 1e-9, "us": 1e-6, "ms": 1e-3, "s": 1.0}
    out = {}
    for b in report["benchmarks"]:
        if b.get("run_type", "iteration") != "iteration" or b.get("error_occurred"):
            continue
        name = b["name"].split("/")[0]
        s = scale[b["time_unit"]]
        real, cpu = b["real_time"] * s, b["cpu_time"] * s
        prev = out.get(name)
        out[name] = (min(real, prev[0]), min(cpu, prev[1])) if prev else (real, cpu)
        if "tokens_per_iter" in b:
            out[name + ":tokens"] = int(b["tokens_per_iter"])
    return out, report.get("context", {})


def main():
    args = parse_args()
    # Both libraries read these when they start their thread pools: set them before importing.
    os.environ.setdefault("RAYON_NUM_THREADS", str(args.threads))
    os.environ["TIKTOKEN_CACHE_DIR"] = ""  # read tokenizer.model itself, not a copy cached by path
    import tiktoken
    import tiktoken.load
    import tokenizers
    from tokenizers import Tokenizer

    with open(args.corpus, encoding="utf-8") as f:
        docs = json.load(f)
    nbytes = sum(len(d.encode("utf-8")) for d in docs)
    mib = nbytes / (1024 * 1024)

    tj_path = os.path.join(args.tokenizer_dir, "tokenizer.json")
    model_path = os.path.join(args.tokenizer_dir, "tokenizer.model")
    if not os.path.exists(model_path):
        raise SystemExit(f"{model_path}: Meta's tokenizer.model not found (scripts/setup.sh places it)")
    with open(tj_path, encoding="utf-8") as f:
        tj = json.load(f)
    pattern = next(p["pattern"]["Regex"] for p in tj["pre_tokenizer"]["pretokenizers"] if p["type"] == "Split")
    enc = tiktoken.Encoding("llama3", pat_str=pattern,
                            mergeable_ranks=tiktoken.load.load_tiktoken_bpe(model_path),
                            special_tokens={t["content"]: t["id"] for t in tj["added_tokens"]})
    hf = Tokenizer.from_file(tj_path)
    n = args.threads

    # ---- the same ids on every side before any timing (also the warm-up) ----
    os.environ["TOKENIZERS_PARALLELISM"] = "true"
    ids_tt = enc.encode_ordinary_batch(docs, num_threads=n)
    ids_hf = [e.ids for e in hf.encode_batch(docs, add_special_tokens=False)]
    sides = [("tokenizers", ids_hf)]
    if args.packbench_ids:
        with open(args.packbench_ids, encoding="utf-8") as f:
            sides.append(("packbench", json.load(f)))
    for name, ids in sides:
        if len(ids) != len(docs):
            raise SystemExit(f"{name}: {len(ids)} id lists for {len(docs)} documents")
        bad = [i for i in range(len(docs)) if ids[i] != ids_tt[i]]
        for i in bad[:5]:
            print(f"document {i} {json.dumps(docs[i][:80], ensure_ascii=False)}:\n  tiktoken {ids_tt[i][:24]}\n"
                  f"  {name} {ids[i][:24]}", file=sys.stderr)
        if bad:
            raise SystemExit(f"{name} and tiktoken differ on {len(bad)} of {len(docs)} documents: not timing")
    tokens = sum(map(len, ids_tt))
    print(f"ids agree on all {len(docs)} documents ({tokens} tokens): tiktoken, tokenizers"
          + (", packbench" if args.packbench_ids else ""))

    # ---- timing ----
    def tt_one():
        return sum(len(enc.encode_ordinary(d)) for d in docs)

    def tt_batch():
        return sum(map(len, enc.encode_ordinary_batch(docs, num_threads=n)))

    def hf_run(parallel):
        os.environ["TOKENIZERS_PARALLELISM"] = "true" if parallel else "false"
        return sum(len(e.ids) for e in hf.encode_batch(docs, add_special_tokens=False))

    rows = {
        "tiktoken": (best_of(args.runs, tt_one), best_of(args.runs, tt_batch)),
        "tokenizers": (best_of(args.runs, lambda: hf_run(False)), best_of(args.runs, lambda: hf_run(True))),
    }
    for name, (one, batch) in rows.items():
        for r in (one, batch):
            if r[2] != tokens:
                raise SystemExit(f"{name}: {r[2]} tokens while timing, {tokens} when checking")

    pb = None
    if args.packbench_json:
        times, ctx = packbench_times(args.packbench_json)
        one, batch = times.get("BM_EncodeOneThread"), times.get("BM_EncodeBatchAllThreads")
        if one and batch:
            pb = ((one[0], one[1], times.get("BM_EncodeOneThread:tokens", tokens)), (batch[0], None, tokens))

    versions = f"tiktoken {tiktoken.__version__}, tokenizers {tokenizers.__version__}"
    print(f"\ncorpus: {len(docs)} documents, {nbytes} bytes ({mib:.2f} MiB), {tokens} tokens; "
          f"batched = {n} threads; peers best of {args.runs} ({versions})\n")
    print("| | one thread, CPU | one thread, wall | batched, wall | batched CPU / wall |")
    print("|---|---:|---:|---:|---:|")

    def cell(seconds):
        return f"{seconds * 1e3:.0f} ms = {mib / seconds:.2f} MiB/s, {tokens / seconds / 1e6:.2f} M tok/s"

    table = ([("packbench", pb)] if pb else []) + list(rows.items())
    for name, (one, batch) in table:
        par = f"{batch[1] / batch[0]:.2f}" if batch[1] is not None else "n/a"
        print(f"| {name} | {cell(one[1])} | {cell(one[0])} | {cell(batch[0])} | {par} |")
    result = {"docs": len(docs), "bytes": nbytes, "tokens": tokens, "threads": n, "runs": args.runs,
              "versions": versions,
              "MiB_per_s": {name: {"one_thread_cpu": mib / one[1], "one_thread_wall": mib / one[0],
                                   "batched_wall": mib / batch[0]} for name, (one, batch) in table}}
    if pb:
        print("\n| packbench / peer | one thread, CPU | one thread, wall | batched, wall |")
        print("|---|---:|---:|---:|")
        result["ratios"] = {}
        for name, (one, batch) in rows.items():
            r = {"one_thread_cpu": one[1] / pb[0][1], "one_thread_wall": one[0] / pb[0][0],
                 "batched_wall": batch[0] / pb[1][0]}
            result["ratios"][name] = r
            print(f"| {name} | {r['one_thread_cpu']:.2f}x | {r['one_thread_wall']:.2f}x | {r['batched_wall']:.2f}x |")
        result["host"] = {k: ctx.get(k) for k in ("host_name", "num_cpus", "mhz_per_cpu", "load_avg", "date")}
    print("\n" + json.dumps(result))


if __name__ == "__main__":
    main()
