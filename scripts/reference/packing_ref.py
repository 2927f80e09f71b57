#!/usr/bin/env python3
"""Reference row builder for packbench's parity test: the paper's padding / random / greedy rows.

Written from the paper's LLaMA-Factory 0.7.1 fork (ShuheWang1998/Packing-Analysis,
src/llmtuner/data/preprocess.py and template.py), in plain Python (no torch, no datasets):
  padding  preprocess_supervised_dataset               (per-turn truncation, infer_max_len)
  random   preprocess_packed_supervised_dataset        (--packing_style full)
  greedy   preprocess_packed_without_cut_supervised_dataset (--packing_style full-no-cut)
and of Hugging Face datasets' map(batched=True, batch_size, num_proc): the rows are split into
num_proc contiguous shards, each mapped in batches of batch_size.

Input (JSON on stdin): {"method": ..., "cutoff": int, "batch": int, "shards": int,
  "train_on_prompt": bool, "samples": [[message ids, message ids, ...], ...]} where each
  sample's messages alternate prompt, response (already rendered by the chat template).
Output (JSON on stdout): {"rows": [{"input_ids": [...], "labels": [...]}], "dropped": n,
  "truncated": n}.
"""
import json
import sys

IGNORE_INDEX = -100


def infer_max_len(source_len, target_len, max_len, reserved_label_len):
    max_target_len = int(max_len * (target_len / (source_len + target_len)))
    max_target_len = max(max_target_len, reserved_label_len)
    max_source_len = max_len - min(max_target_len, target_len)
    return max_source_len, max_target_len


def make_pairs(encoded_messages, cutoff_len=1_000_000, reserved_label_len=1):
    """template.Template._make_pairs: (source, target) pairs cut turn by turn."""
    pairs = []
    total_length = 0
    for i in range(0, len(encoded_messages), 2):
        if total_length >= cutoff_len:
            break
        max_source_len, max_target_len = infer_max_len(
            len(encoded_messages[i]), len(encoded_messages[i + 1]), cutoff_len - total_length, reserved_label_len)
        source_ids = encoded_messages[i][:max_source_len]
        target_ids = encoded_messages[i + 1][:max_target_len]
        total_length += len(source_ids) + len(target_ids)
        pairs.append((source_ids, target_ids))
    return pairs


def encode(messages, train_on_prompt, cutoff_len=None):
    ids, labels = [], []
    pairs = make_pairs(messages) if cutoff_len is None else make_pairs(messages, cutoff_len, 1)
    for source_ids, target_ids in pairs:
        source_mask = list(source_ids) if train_on_prompt else [IGNORE_INDEX] * len(source_ids)
        ids += source_ids + target_ids
        labels += source_mask + target_ids
    return ids, labels


def padding_batch(batch, args, out):
    for messages in batch:
        ids, labels = encode(messages, args["train_on_prompt"], args["cutoff"])
        full = sum(len(m) for m in messages)
        if len(ids) < full:
            out["truncated"] += 1
        out["rows"].append({"input_ids": ids, "labels": labels})


def random_batch(batch, args, out):
    input_ids, labels = [], []
    starts = []
    for messages in batch:
        starts.append(len(input_ids))
        ids, lab = encode(messages, args["train_on_prompt"])
        input_ids += ids
        labels += lab
    starts.append(len(input_ids))
    block = args["cutoff"]
    total = (len(input_ids) // block) * block
    used = [False] * len(batch)
    for i in range(0, total, block):
        if not all(label == IGNORE_INDEX for label in labels[i:i + block]):
            out["rows"].append({"input_ids": input_ids[i:i + block], "labels": labels[i:i + block]})
            for j in range(len(batch)):
                if starts[j] < i + block and starts[j + 1] > i:
                    used[j] = True
    out["dropped"] += used.count(False)


def greedy_batch(batch, args, out):
    cutoff = args["cutoff"]
    length_list = []
    for i, messages in enumerate(batch):
        ids, lab = encode(messages, args["train_on_prompt"])
        length_list.append([len(ids), i, ids, lab])
    length_list.sort(reverse=True, key=lambda item: item[0])
    vis = {}
    for idx_ in range(len(length_list)):
        if length_list[idx_][1] in vis:
            continue
        input_ids, labels = [], []
        start_ = idx_
        while start_ < len(length_list):
            length_, i, cur_ids, cur_labels = length_list[start_]
            start_ += 1
            if i in vis:
                continue
            if length_ + len(input_ids) <= cutoff:
                input_ids += cur_ids
                labels += cur_labels
                vis[i] = True
        if len(input_ids) > 0:
            out["rows"].append({"input_ids": input_ids, "labels": labels})
        else:
            vis[length_list[idx_][1]] = True
            i = length_list[idx_][1]
            ids, lab = encode(batch[i], args["train_on_prompt"], cutoff)
            out["truncated"] += 1
            out["rows"].append({"input_ids": ids, "labels": lab})
    out["dropped"] += len(batch) - len(vis)


def main():
    args = json.load(sys.stdin)
    samples = args["samples"]
    n = len(samples)
    num_proc = max(1, min(args.get("shards", 1), n))
    fn = {"padding": padding_batch, "random": random_batch, "greedy": greedy_batch}[args["method"]]
    out = {"rows": [], "dropped": 0, "truncated": 0}
    for index in range(num_proc):
        # datasets.Dataset.shard(num_shards, index, contiguous=True)
        div, mod = n // num_proc, n % num_proc
        start = div * index + min(index, mod)
        end = start + div + (1 if index < mod else 0)
        shard = samples[start:end]
        for b in range(0, len(shard), args["batch"]):
            fn(shard[b:b + args["batch"]], args, out)
    json.dump(out, sys.stdout)


if __name__ == "__main__":
    main()
