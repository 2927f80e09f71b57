#!/usr/bin/env python3
"""Writes a Hugging Face tokenizer.json + tokenizer_config.json from LLaMA-3's tiktoken tokenizer.model.

    python3 tiktoken_to_hf.py TOKENIZER_MODEL OUT_DIR

tokenizer.model (Meta's format, as shipped by the PyPI package llama-models and in a checkpoint's
original/ folder) holds one "base64(token bytes) rank" line per token, 128,000 of them. The
output is the byte-level BPE that Meta-Llama-3's own tokenizer.json describes: the same vocabulary
(each token's bytes in GPT-2's byte-to-unicode alphabet, id = rank), merges recovered from the
ranks (every pair of tokens that concatenates to a token, by that token's rank), LLaMA-3's
split regex, ignore_merges (a word that is itself a token is not merged, as
tiktoken does), the 256 special tokens 128000-128255 of the first LLaMA-3 release, and a
post-processor that puts <|begin_of_text|> first. Standard library only, so setup can run it with
any Python 3; the output is deterministic (same input, same bytes).
"""
import base64
import json
import os
import sys
import tempfile

PATTERN = (r"(?i:'s|'t|'re|'ve|'m|'ll|'d)|[^\r\n\p{L}\p{N}]?\p{L}+|\p{N}{1,3}| ?[^\s\p{L}\p{N}]+[\r\n]*"
           r"|\s*[\r\n]+|\s+(?!\S)|\s+")
NUM_BASE_TOKENS = 128000
NUM_SPECIAL_TOKENS = 256


def special_token_names():
    """LLaMA-3 (first release) names for ids 128000-128255."""
    named = ["<|begin_of_text|>", "<|end_of_text|>", "<|reserved_special_token_0|>",
             "<|reserved_special_token_1|>", "<|reserved_special_token_2|>",
             "<|reserved_special_token_3|>", "<|start_header_id|>", "<|end_header_id|>",
             "<|reserved_special_token_4|>", "<|eot_id|>"]
    rest = [f"<|reserved_special_token_{i}|>" for i in range(5, 5 + NUM_SPECIAL_TOKENS - len(named))]
    return named + rest


def byte_to_unicode():
    """GPT-2's reversible byte -> printable character table (what ByteLevel uses)."""
    bs = list(range(0x21, 0x7F)) + list(range(0xA1, 0xAD)) + list(range(0xAE, 0x100))
    cs = {b: b for b in bs}
    n = 0
    for b in range(256):
        if b not in cs:
            cs[b] = 256 + n
            n += 1
    return {b: chr(c) for b, c in cs.items()}


def read_ranks(path):
    ranks = {}
    try:
        f = open(path, "rb")
    except OSError as e:
        raise SystemExit(f"{path}: cannot read ({e.strerror})")
    with f:
        for lineno, line in enumerate(f, 1):
            line = line.strip()
            if not line:
                continue
            parts = line.split()
            if len(parts) != 2:
                raise SystemExit(f"{path}:{lineno}: expected 'base64 rank', got {line[:60]!r}")
            try:
                token = base64.b64decode(parts[0], validate=True)
                rank = int(parts[1])
            except Exception as e:  # noqa: BLE001 - any malformed line is the same error
                raise SystemExit(f"{path}:{lineno}: malformed token line ({e})")
            if token in ranks:
                raise SystemExit(f"{path}:{lineno}: token listed twice")
            ranks[token] = rank
    if sorted(ranks.values()) != list(range(len(ranks))):
        raise SystemExit(f"{path}: ranks are not 0..{len(ranks) - 1} without gaps")
    if len(ranks) != NUM_BASE_TOKENS:
        raise SystemExit(f"{path}: {len(ranks)} tokens, LLaMA-3 has {NUM_BASE_TOKENS}")
    return ranks


def token_merges(ranks, token):
    """Every way to form `token` from two tokens, as (left, right) pairs ordered by the parts'
    ranks. tiktoken merges whichever adjacent pair concatenates to the lowest-ranked token, so
    each such pair is a merge whose priority is the token's rank."""
    pairs = [(token[:i], token[i:]) for i in range(1, len(token))
             if token[:i] in ranks and token[i:] in ranks]
    return sorted(pairs, key=lambda p: (ranks[p[0]], ranks[p[1]]))


def convert(ranks):
    b2u = byte_to_unicode()
    enc = lambda bs: "".join(b2u[b] for b in bs)  # noqa: E731
    vocab = {}
    merges = []
    for token, rank in sorted(ranks.items(), key=lambda kv: kv[1]):
        vocab[enc(token)] = rank
        if len(token) == 1:
            continue
        # Tokens come in rank order, so the merges are ordered by the rank they produce.
        merges.extend([enc(left), enc(right)] for left, right in token_merges(ranks, token))
    added = [{"id": NUM_BASE_TOKENS + i, "content": name, "single_word": False, "lstrip": False,
              "rstrip": False, "normalized": False, "special": True}
             for i, name in enumerate(special_token_names())]
    bos = "<|begin_of_text|>"
    tokenizer = {
        "version": "1.0",
        "truncation": None,
        "padding": None,
        "added_tokens": added,
        "normalizer": None,
        "pre_tokenizer": {"type": "Sequence", "pretokenizers": [
            {"type": "Split", "pattern": {"Regex": PATTERN}, "behavior": "Isolated", "invert": False},
            {"type": "ByteLevel", "add_prefix_space": False, "trim_offsets": True, "use_regex": False}]},
        "post_processor": {"type": "Sequence", "processors": [
            {"type": "ByteLevel", "add_prefix_space": True, "trim_offsets": False, "use_regex": True},
            {"type": "TemplateProcessing",
             "single": [{"SpecialToken": {"id": bos, "type_id": 0}}, {"Sequence": {"id": "A", "type_id": 0}}],
             "pair": [{"SpecialToken": {"id": bos, "type_id": 0}}, {"Sequence": {"id": "A", "type_id": 0}},
                      {"SpecialToken": {"id": bos, "type_id": 1}}, {"Sequence": {"id": "B", "type_id": 1}}],
             "special_tokens": {bos: {"id": bos, "ids": [NUM_BASE_TOKENS], "tokens": [bos]}}}]},
        "decoder": {"type": "ByteLevel", "add_prefix_space": True, "trim_offsets": True, "use_regex": True},
        "model": {"type": "BPE", "dropout": None, "unk_token": None, "continuing_subword_prefix": None,
                  "end_of_word_suffix": None, "fuse_unk": False, "byte_fallback": False,
                  "ignore_merges": True, "vocab": vocab, "merges": merges},
    }
    config = {
        "bos_token": bos,
        "eos_token": "<|end_of_text|>",
        "clean_up_tokenization_spaces": True,
        "model_input_names": ["input_ids", "attention_mask"],
        "model_max_length": 8192,
        "tokenizer_class": "PreTrainedTokenizerFast",
        "added_tokens_decoder": {str(a["id"]): {k: a[k] for k in ("content", "lstrip", "normalized", "rstrip",
                                                                 "single_word", "special")} for a in added},
    }
    return tokenizer, config


def write_atomic(path, obj):
    d = os.path.dirname(path) or "."
    fd, tmp = tempfile.mkstemp(dir=d, prefix=".tmp-", suffix=".json")
    try:
        with os.fdopen(fd, "w", encoding="utf-8") as f:
            json.dump(obj, f, ensure_ascii=False, indent=None, separators=(",", ":"))
            f.write("\n")
        os.chmod(tmp, 0o644)
        os.replace(tmp, path)
    except BaseException:
        os.unlink(tmp)
        raise


def main():
    if len(sys.argv) != 3:
        raise SystemExit("usage: tiktoken_to_hf.py TOKENIZER_MODEL OUT_DIR")
    src, out = sys.argv[1], sys.argv[2]
    tokenizer, config = convert(read_ranks(src))
    os.makedirs(out, exist_ok=True)
    write_atomic(os.path.join(out, "tokenizer_config.json"), config)
    write_atomic(os.path.join(out, "tokenizer.json"), tokenizer)


if __name__ == "__main__":
    main()
