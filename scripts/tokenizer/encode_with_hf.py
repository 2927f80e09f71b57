#!/usr/bin/env python3
"""Encodes texts with Hugging Face's tokenizers (PyPI `tokenizers`, Rust core) for packbench tests.

    python encode_with_hf.py TOKENIZER_JSON TEXTS_JSON   (TEXTS_JSON: a JSON array of strings)

prints a JSON array of id arrays (no special tokens added). Run it with the Python of packbench's
virtual environment (~/.cache/packbench/venv/bin/python), which scripts/setup.sh creates.
"""
import json
import sys

from tokenizers import Tokenizer


def main():
    if len(sys.argv) != 3:
        raise SystemExit("usage: encode_with_hf.py TOKENIZER_JSON TEXTS_JSON")
    tok = Tokenizer.from_file(sys.argv[1])
    with open(sys.argv[2], encoding="utf-8") as f:
        texts = json.load(f)
    if not isinstance(texts, list) or not all(isinstance(t, str) for t in texts):
        raise SystemExit(f"{sys.argv[2]}: expected a JSON array of strings")
    encodings = tok.encode_batch(texts, add_special_tokens=False)
    sys.stdout.write(json.dumps([e.ids for e in encodings], separators=(",", ":")) + "\n")


if __name__ == "__main__":
    main()
