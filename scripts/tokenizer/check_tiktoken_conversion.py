#!/usr/bin/env python3
"""Checks a converted LLaMA-3 tokenizer.json against transformers' and tiktoken's own readings of tokenizer.model.

    python check_tiktoken_conversion.py TOKENIZER_MODEL TOKENIZER_JSON [--texts TEXTS_JSON] [--ids-out IDS_JSON]

Run it with the Python of packbench's virtual environment (tiktoken, tokenizers, transformers).
The references are built here from Meta's tokenizer.model alone, with LLaMA-3's split pattern and
special tokens as Meta's llama3 tokenizer defines them:
  - transformers' TikTokenConverter (transformers.convert_slow_tokenizer), which turns a tiktoken
    rank file into a Hugging Face tokenizer;
  - tiktoken.Encoding over tiktoken.load.load_tiktoken_bpe(TOKENIZER_MODEL).
Compared: the vocabulary (every rank -> id), the merges in order, the special tokens, the
pre-tokenizer pattern; then, on each text of TEXTS_JSON (a JSON array of strings), the ids of
tiktoken, of TOKENIZER_JSON and of the transformers-built tokenizer (both through Hugging Face's
tokenizers, no special tokens added; special-token text is matched as special on every side).
IDS_JSON receives tiktoken's ids (a JSON array of id arrays), for a caller to compare its own.
Prints one line per check; exits 1 when anything differs.
"""
import argparse
import json
import os
import sys

# tiktoken caches files it reads under a key made from the path alone; a rank file replaced at
# the same path would be served stale. Read the file itself every time.
os.environ["TIKTOKEN_CACHE_DIR"] = ""

import tiktoken  # noqa: E402
import tiktoken.load  # noqa: E402
from tokenizers import Tokenizer  # noqa: E402
from transformers.convert_slow_tokenizer import TikTokenConverter, bytes_to_unicode  # noqa: E402

# Meta's llama3 tokenizer (llama/tokenizer.py of the first LLaMA-3 release): pat_str and the 256
# special tokens that follow the 128,000 ranks.
PAT_STR = (r"(?i:'s|'t|'re|'ve|'m|'ll|'d)|[^\r\n\p{L}\p{N}]?\p{L}+|\p{N}{1,3}| ?[^\s\p{L}\p{N}]+[\r\n]*"
           r"|\s*[\r\n]+|\s+(?!\S)|\s+")
NUM_RESERVED_SPECIAL_TOKENS = 256
SPECIAL_TOKENS = [
    "<|begin_of_text|>",
    "<|end_of_text|>",
    "<|reserved_special_token_0|>",
    "<|reserved_special_token_1|>",
    "<|reserved_special_token_2|>",
    "<|reserved_special_token_3|>",
    "<|start_header_id|>",
    "<|end_header_id|>",
    "<|reserved_special_token_4|>",
    "<|eot_id|>",
] + [f"<|reserved_special_token_{i}|>" for i in range(5, NUM_RESERVED_SPECIAL_TOKENS - 5)]

failures = []


def check(ok, what, detail=""):
    print(("ok   " if ok else "FAIL ") + what + ("" if ok or not detail else "\n     " + detail))
    if not ok:
        failures.append(what)


def first_difference(a, b):
    for i, (x, y) in enumerate(zip(a, b)):
        if x != y:
            return i
    return min(len(a), len(b))


def merges_of(tokenizer_json):
    """Merges as (left, right) tuples, whether stored as pairs or as "left right" strings."""
    return [tuple(m) if isinstance(m, list) else tuple(m.split(" ", 1)) for m in tokenizer_json["model"]["merges"]]


def split_pattern(tokenizer_json):
    pre = tokenizer_json.get("pre_tokenizer") or {}
    for p in pre.get("pretokenizers", [pre]):
        if p.get("type") == "Split":
            return p["pattern"].get("Regex")
    return None


def check_structure(ranks, converted, reference):
    b2u = bytes_to_unicode()  # transformers' byte -> character table, keyed by byte value
    expect_vocab = {"".join(b2u[b] for b in token): rank for token, rank in ranks.items()}
    vocab, ref_vocab = converted["model"]["vocab"], reference["model"]["vocab"]
    check(len(ranks) == 128000, f"tokenizer.model holds {len(ranks)} ranks (LLaMA-3: 128000)")
    check(vocab == expect_vocab,
          f"converted vocabulary: {len(vocab)} tokens, each token's bytes -> its tiktoken rank",
          f"{sum(1 for k, v in expect_vocab.items() if vocab.get(k) != v)} ranks differ, "
          f"{len(set(vocab) - set(expect_vocab))} extra tokens")
    check(vocab == ref_vocab, "converted vocabulary == transformers' TikTokenConverter vocabulary")

    merges, ref_merges = merges_of(converted), merges_of(reference)
    i = first_difference(merges, ref_merges)
    check(merges == ref_merges, f"converted merges == transformers' merges, same order ({len(ref_merges)})",
          f"{len(merges)} vs {len(ref_merges)}; first difference at {i}: "
          f"{merges[i] if i < len(merges) else None} vs {ref_merges[i] if i < len(ref_merges) else None}")

    added = {t["content"]: t["id"] for t in converted["added_tokens"]}
    ref_added = {t["content"]: t["id"] for t in reference["added_tokens"]}
    expect_added = {name: len(ranks) + i for i, name in enumerate(SPECIAL_TOKENS)}
    check(added == expect_added == ref_added,
          f"special tokens: {len(added)}, Meta's names at ids {len(ranks)}-{len(ranks) + len(SPECIAL_TOKENS) - 1}",
          f"differ from Meta's list: {sorted(set(added.items()) ^ set(expect_added.items()))[:6]}")
    check(all(t["special"] and not t["normalized"] for t in converted["added_tokens"]),
          "special tokens are marked special and not normalized")
    check(split_pattern(converted) == split_pattern(reference) == PAT_STR, "pre-tokenizer split pattern is LLaMA-3's")
    check(converted["model"].get("ignore_merges") is True and reference["model"].get("ignore_merges") is True,
          "ignore_merges set (a word that is a token is not merged, as in tiktoken)")


def check_ids(ranks, converted_tok, reference_tok, texts):
    enc = tiktoken.Encoding("llama3", pat_str=PAT_STR, mergeable_ranks=ranks,
                            special_tokens={name: len(ranks) + i for i, name in enumerate(SPECIAL_TOKENS)})
    # Special tokens all start with "<|"; other texts take encode_ordinary (the same ids without
    # the per-call conversion of the 256-name allowed set).
    specials = enc.special_tokens_set
    tt = [enc.encode(t, allowed_special=specials, disallowed_special=()) if "<|" in t else enc.encode_ordinary(t)
          for t in texts]
    conv = [e.ids for e in converted_tok.encode_batch(texts, add_special_tokens=False)]
    ref = [e.ids for e in reference_tok.encode_batch(texts, add_special_tokens=False)]
    for name, ids in (("converted tokenizer.json", conv), ("transformers' converter", ref)):
        bad = [i for i in range(len(texts)) if ids[i] != tt[i]]
        detail = "\n     ".join(f"{json.dumps(texts[i][:80], ensure_ascii=False)}: tiktoken {tt[i][:20]} vs {ids[i][:20]}"
                                for i in bad[:5])
        check(not bad, f"{name}: same ids as tiktoken on {len(texts)} texts "
                       f"({sum(map(len, tt))} tokens, {len(bad)} differ)", detail)
    return tt


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("tokenizer_model")
    ap.add_argument("tokenizer_json")
    ap.add_argument("--texts", help="JSON array of strings to encode on every side")
    ap.add_argument("--ids-out", help="write tiktoken's ids for --texts here (JSON)")
    args = ap.parse_args()

    ranks = tiktoken.load.load_tiktoken_bpe(args.tokenizer_model)
    with open(args.tokenizer_json, encoding="utf-8") as f:
        converted = json.load(f)
    reference_tok = TikTokenConverter(vocab_file=args.tokenizer_model, pattern=PAT_STR,
                                      extra_special_tokens=SPECIAL_TOKENS).converted()
    reference = json.loads(reference_tok.to_str())
    check_structure(ranks, converted, reference)

    if args.texts:
        with open(args.texts, encoding="utf-8") as f:
            texts = json.load(f)
        converted_tok = Tokenizer.from_file(args.tokenizer_json)
        tt = check_ids(ranks, converted_tok, reference_tok, texts)
        if args.ids_out:
            with open(args.ids_out, "w", encoding="utf-8") as f:
                json.dump(tt, f, separators=(",", ":"))
    if failures:
        print(f"{len(failures)} check(s) failed", file=sys.stderr)
        sys.exit(1)


if __name__ == "__main__":
    main()
