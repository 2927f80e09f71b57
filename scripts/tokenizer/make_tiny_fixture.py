#!/usr/bin/env python3
"""Writes tests/fixtures/tokenizer/tiny/: a hand-made byte-level BPE tokenizer.json (LLaMA-3's
pre-tokenizer, 256 byte tokens, a dozen merges, added tokens) for fast packbench tests."""
import json
import os

PATTERN = ("(?i:'s|'t|'re|'ve|'m|'ll|'d)|[^\\r\\n\\p{L}\\p{N}]?\\p{L}+|\\p{N}{1,3}| "
           "?[^\\s\\p{L}\\p{N}]+[\\r\\n]*|\\s*[\\r\\n]+|\\s+(?!\\S)|\\s+")


def byte_chars():
    bs = list(range(0x21, 0x7F)) + list(range(0xA1, 0xAD)) + list(range(0xAE, 0x100))
    cs = {b: b for b in bs}
    n = 0
    for b in range(256):
        if b not in cs:
            cs[b] = 256 + n
            n += 1
    return {b: chr(c) for b, c in cs.items()}


def main():
    bc = byte_chars()
    vocab = {bc[b]: b for b in range(256)}  # id == byte value
    merges = [("h", "e"), ("l", "l"), ("he", "ll"), ("hell", "o"), ("Ġ", "t"), ("Ġt", "h"),
              ("Ġth", "e"), ("a", "a"), ("aa", "aa"), ("Ċ", "Ċ"), ("1", "2")]
    for a, b in merges:
        vocab[a + b] = len(vocab)
    vocab["xyz"] = len(vocab)  # in the vocabulary, but no merges lead to it
    added = []
    for content, special, strip in [("<|bos|>", True, False), ("<|eos|>", True, False),
                                    ("<|pad|>", True, False), ("<mask>", False, True)]:
        added.append({"id": len(vocab) + len(added), "content": content, "single_word": False,
                      "lstrip": strip, "rstrip": strip, "normalized": False, "special": special})
    tok = {
        "version": "1.0", "truncation": None, "padding": None, "added_tokens": added,
        "normalizer": None,
        "pre_tokenizer": {"type": "Sequence", "pretokenizers": [
            {"type": "Split", "pattern": {"Regex": PATTERN}, "behavior": "Isolated", "invert": False},
            {"type": "ByteLevel", "add_prefix_space": False, "trim_offsets": True, "use_regex": False}]},
        "post_processor": {"type": "Sequence", "processors": [
            {"type": "ByteLevel", "add_prefix_space": True, "trim_offsets": False, "use_regex": True},
            {"type": "TemplateProcessing",
             "single": [{"SpecialToken": {"id": "<|bos|>", "type_id": 0}}, {"Sequence": {"id": "A", "type_id": 0}}],
             "pair": [{"SpecialToken": {"id": "<|bos|>", "type_id": 0}}, {"Sequence": {"id": "A", "type_id": 0}},
                      {"SpecialToken": {"id": "<|bos|>", "type_id": 1}}, {"Sequence": {"id": "B", "type_id": 1}}],
             "special_tokens": {"<|bos|>": {"id": "<|bos|>", "ids": [added[0]["id"]], "tokens": ["<|bos|>"]}}}]},
        "decoder": {"type": "ByteLevel", "add_prefix_space": True, "trim_offsets": True, "use_regex": True},
        "model": {"type": "BPE", "dropout": None, "unk_token": None, "continuing_subword_prefix": None,
                  "end_of_word_suffix": None, "fuse_unk": False, "byte_fallback": False,
                  "ignore_merges": True, "vocab": vocab, "merges": [[a, b] for a, b in merges]},
    }
    out = os.path.join(os.path.dirname(__file__), "..", "..", "tests", "fixtures", "tokenizer", "tiny")
    os.makedirs(out, exist_ok=True)
    with open(os.path.join(out, "tokenizer.json"), "w", encoding="utf-8") as f:
        json.dump(tok, f, ensure_ascii=False, indent=1)
    with open(os.path.join(out, "tokenizer_config.json"), "w", encoding="utf-8") as f:
        json.dump({"bos_token": "<|bos|>", "eos_token": "<|eos|>", "pad_token": "<|pad|>",
                   "tokenizer_class": "PreTrainedTokenizerFast"}, f, indent=1)


if __name__ == "__main__":
    main()
