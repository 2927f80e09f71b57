#!/usr/bin/env python3
"""transformers' own reading of a GGUF model (tokenizer, chat template, logits, greedy generation) for GGUF parity tests.

Used by tests/trainers/model/test_gguf_tokenizer.cpp, test_gguf_chat_template.cpp, tests/inference/test_slow_gguf_generate.cpp
and tests/harness/test_gguf_import_cli.cpp.

transformers builds its tokenizer and model from the GGUF itself (from_pretrained(dir, gguf_file=...)),
independently of packbench's import. Run with packbench's Python environment, offline:

    HF_HUB_OFFLINE=1 ~/.cache/packbench/venv/bin/python scripts/reference/gguf_transformers_ref.py CMD ...

  tokenize GGUF PARITY_JSON [IMPORTED_DIR] OUT.json
      texts: PARITY_JSON's cases[].text plus 300 generated varied texts; ids of each from the
      GGUF's tokenizer (no special tokens added), and from IMPORTED_DIR's tokenizer when given.
      {"texts": [...], "ids": [[...]], "imported_ids": [[...]] | null, "tokenizer_json": <transformers'
      tokenizer.json as it saves it>}
  chat GGUF OUT.json
      multi-turn conversations rendered and tokenized by the GGUF's own chat template
      (apply_chat_template): {"conversations": [{"messages": [...], "ids": [...], "prompt_ids": [...]}]}
      where prompt_ids is the conversation without its last (assistant) message and with the
      generation prompt.
  logits GGUF IMPORTED_DIR IDS OUT.npy OUT.json
      OUT.npy: float32 logits [T, vocab] of comma-separated IDS from the model transformers builds
      from the GGUF. OUT.json: {"loaded": true, "parameters": n, "differing": [names]}, comparing
      LlamaForCausalLM.from_pretrained(IMPORTED_DIR)'s parameters with that model's (torch.equal).
  generate GGUF N_NEW OUT.json
      20 chat prompts rendered with the GGUF's chat template (generation prompt added), each
      generated alone with generate(do_sample=False, max_new_tokens=N_NEW) by the model built from
      the GGUF: {"prompts": [[ids]], "outputs": [[new ids, eos included when it stopped]]}.
"""
import json
import os
import random
import sys

import numpy as np

os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("TRANSFORMERS_VERBOSITY", "error")
os.environ.setdefault("TQDM_DISABLE", "1")

import torch  # noqa: E402
from transformers import AutoConfig, AutoModelForCausalLM, AutoTokenizer, LlamaForCausalLM  # noqa: E402
from transformers.initialization import no_init_weights  # noqa: E402
from transformers.modeling_gguf_pytorch_utils import load_gguf_checkpoint  # noqa: E402
from transformers.utils import logging as hf_logging  # noqa: E402

hf_logging.disable_progress_bar()


def gguf_tokenizer(path):
    return AutoTokenizer.from_pretrained(os.path.dirname(os.path.abspath(path)), gguf_file=os.path.basename(path))


def gguf_model(path):
    """The model transformers builds from the GGUF: its config (AutoConfig from the GGUF) and its
    tensors from load_gguf_checkpoint (transformers' dequantization, Q/K un-permutation and names).
    from_pretrained(gguf_file=...) does the same but needs the accelerate package, so the two steps
    are spelled out here."""
    # One thread: on a shared, busy machine two OpenMP threads made generation 7x slower.
    torch.set_num_threads(1)
    folder, name = os.path.dirname(os.path.abspath(path)), os.path.basename(path)
    config = AutoConfig.from_pretrained(folder, gguf_file=name)
    config._attn_implementation = "eager"
    with no_init_weights():
        model = AutoModelForCausalLM.from_config(config, dtype=torch.float32)
    tensors = load_gguf_checkpoint(path, return_tensors=True, model_to_load=model)["tensors"]
    missing, unexpected = model.load_state_dict({k: torch.as_tensor(v) for k, v in tensors.items()}, strict=False)
    missing = [k for k in missing if not (config.tie_word_embeddings and k == "lm_head.weight")]
    if missing or unexpected:
        sys.exit(f"{path}: transformers' GGUF tensors do not fill the model: missing {missing}, unexpected {unexpected}")
    if config.tie_word_embeddings:
        model.tie_weights()
    return model.float().eval()


FRAGMENTS = [
    "Hello world", "The quick brown fox jumps over the lazy dog.", "I'm sure they'LL say we'd've DON'T",
    "   leading spaces", "trailing spaces   ", "\t\ttabs\tand\ttabs", "\n\n\nnewlines\n", " \n \n ", "\r\n",
    "12345678901234567890", "3.14159265", "1,000,000.00", "0x1F3A", "2024-12-31T23:59:59Z",
    "def f(x):\n    return x ** 2  # square\n", "for (int i = 0; i < n; ++i) { a[i] += b[i]; }",
    "{\"key\": [1, 2, {\"nested\": null}]}", "<html><body class=\"x\">Hi</body></html>",
    "https://example.com/path?q=a+b&r=%20", "user@example.org", "$x^2 + y^2 = z^2$", "\\frac{a}{b}",
    "你好，世界！这是一个测试。", "日本語のテキストとカタカナ", "한국어 문장입니다", "مرحبا بالعالم",
    "नमस्ते दुनिया", "Привет, мир! Ёжик", "Ελληνικά γράμματα", "café naïve résumé", "cafe\u0301 (decomposed)",
    "👍🏽 🤗 🚀🚀🚀 👨‍👩‍👧‍👦", "ﬁ ligature ½ ⅞ ²³", "\u00a0non-breaking\u2003em space\u200bzero-width",
    "!!!???...;;;", "--- *** ___ ===", "a" * 40, "ab" * 25, " " * 17, "\u3000full-width space",
    "<|im_start|>", "<|im_end|>", "<|endoftext|>", "<|im_start|>user\nhi<|im_end|>", "<|im_", "im_start|>",
    "<repo_name>packbench<file_sep>main.cpp", "<think>reasoning</think>", "Mr. O'Neil's 'quoted' \"text\"",
    "CamelCaseIdentifier snake_case_identifier kebab-case", "ALLCAPS lowercase MiXeD", "9am 10:30pm 5'11\"",
]


def varied_texts(n=300, seed=2024):
    rng = random.Random(seed)
    texts = []
    for _ in range(n):
        k = rng.randint(1, 6)
        parts = [rng.choice(FRAGMENTS) for _ in range(k)]
        seps = [rng.choice(["", " ", "  ", "\n", "\n\n", "\t", ", ", " - "]) for _ in range(k)]
        texts.append("".join(p + s for p, s in zip(parts, seps)))
    # Random code points from several scripts.
    pools = [(0x20, 0x7E), (0xA0, 0x24F), (0x370, 0x3FF), (0x400, 0x4FF), (0x4E00, 0x4FFF), (0x1F300, 0x1F64F)]
    for _ in range(40):
        lo, hi = rng.choice(pools)
        texts.append("".join(chr(rng.randint(lo, hi)) if rng.random() > 0.15 else " " for _ in range(rng.randint(1, 60))))
    return texts


def tokenize(gguf, parity, imported, out):
    tok = gguf_tokenizer(gguf)
    texts = [c["text"] for c in json.load(open(parity))["cases"]] + varied_texts()
    ids = [tok(t, add_special_tokens=False)["input_ids"] for t in texts]
    imported_ids = None
    if imported:
        tok2 = AutoTokenizer.from_pretrained(imported)
        imported_ids = [tok2(t, add_special_tokens=False)["input_ids"] for t in texts]
    tok_json = json.loads(tok.backend_tokenizer.to_str())
    with open(out, "w") as f:
        json.dump({"texts": texts, "ids": ids, "imported_ids": imported_ids, "tokenizer_json": tok_json}, f)


CONVERSATIONS = [
    [{"role": "system", "content": "You are terse."}, {"role": "user", "content": "What is 2+2?"},
     {"role": "assistant", "content": "4"}],
    [{"role": "user", "content": "Hi there!"}, {"role": "assistant", "content": "Hello! How can I help?"}],
    [{"role": "system", "content": "Answer in French."}, {"role": "user", "content": "Good morning"},
     {"role": "assistant", "content": "Bonjour"}, {"role": "user", "content": "And good night?"},
     {"role": "assistant", "content": "Bonne nuit !"}],
    [{"role": "user", "content": "Write code:\n```py\nprint(1)\n```"}, {"role": "assistant", "content": "print(1)\n"},
     {"role": "user", "content": "  spaces  and\ttabs  "}, {"role": "assistant", "content": " leading space"}],
    [{"role": "system", "content": ""}, {"role": "user", "content": "empty system"}, {"role": "assistant", "content": "ok"}],
    [{"role": "system", "content": "Multi\nline\n\nsystem"}, {"role": "user", "content": "日本語で答えて"},
     {"role": "assistant", "content": "はい、わかりました。"}, {"role": "user", "content": "🤗?"},
     {"role": "assistant", "content": "🤗!"}, {"role": "user", "content": "last"}, {"role": "assistant", "content": "done"}],
]


def chat(gguf, out):
    tok = gguf_tokenizer(gguf)
    convs = []
    for msgs in CONVERSATIONS:
        ids = tok.apply_chat_template(msgs, tokenize=True, return_dict=False)
        prompt = tok.apply_chat_template(msgs[:-1], tokenize=True, add_generation_prompt=True, return_dict=False)
        convs.append({"messages": msgs, "ids": list(ids), "prompt_ids": list(prompt),
                      "text": tok.apply_chat_template(msgs, tokenize=False)})
    with open(out, "w") as f:
        json.dump({"conversations": convs}, f)


def logits(gguf, imported, ids_text, out_npy, out_json):
    ids = torch.tensor([[int(x) for x in ids_text.split(",")]])
    model = gguf_model(gguf)
    with torch.no_grad():
        np.save(out_npy, model(ids).logits[0].float().numpy())
    folder = LlamaForCausalLM.from_pretrained(imported, dtype=torch.float32)
    ours = dict(model.named_parameters())
    theirs = dict(folder.named_parameters())
    differing = sorted(k for k in ours.keys() | theirs.keys() if k not in ours or k not in theirs or not torch.equal(ours[k], theirs[k]))
    with open(out_json, "w") as f:
        json.dump({"loaded": True, "parameters": len(theirs), "differing": differing}, f)


PROMPTS = [
    "What is the capital of France?", "Write a haiku about autumn.", "Explain photosynthesis in one sentence.",
    "List three prime numbers.", "How do I reverse a list in Python?", "Translate 'good morning' into Spanish.",
    "What is 17 times 3?", "Give me a name for a pet turtle.", "Why is the sky blue?",
    "Summarize the plot of Romeo and Juliet.", "What does CPU stand for?", "Tell me a joke about computers.",
    "Describe the color green to someone who cannot see.", "What is the boiling point of water in Fahrenheit?",
    "Write a short email declining a meeting.", "What are the three states of matter?",
    "Suggest a healthy breakfast.", "Who wrote 'Pride and Prejudice'?", "Convert 5 kilometers to miles.",
    "What is a black hole?",
]


def generate(gguf, n_new, out):
    tok = gguf_tokenizer(gguf)
    model = gguf_model(gguf)
    prompts, outputs = [], []
    with torch.no_grad():
        for p in PROMPTS:
            ids = tok.apply_chat_template([{"role": "user", "content": p}], tokenize=True, add_generation_prompt=True,
                                          return_dict=False)
            x = torch.tensor([list(ids)])
            y = model.generate(x, attention_mask=torch.ones_like(x), do_sample=False, max_new_tokens=int(n_new),
                               eos_token_id=tok.eos_token_id, pad_token_id=tok.pad_token_id)
            prompts.append(list(ids))
            outputs.append(y[0, x.shape[1]:].tolist())
    with open(out, "w") as f:
        json.dump({"prompts": prompts, "outputs": outputs}, f)


if __name__ == "__main__":
    a = sys.argv[1:]
    if len(a) == 4 and a[0] == "tokenize":
        tokenize(a[1], a[2], None, a[3])
    elif len(a) == 5 and a[0] == "tokenize":
        tokenize(a[1], a[2], a[3], a[4])
    elif len(a) == 3 and a[0] == "chat":
        chat(a[1], a[2])
    elif len(a) == 6 and a[0] == "logits":
        logits(*a[1:])
    elif len(a) == 4 and a[0] == "generate":
        generate(a[1], a[2], a[3])
    else:
        sys.exit(__doc__)
