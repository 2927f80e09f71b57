#!/usr/bin/env python3
"""Writes tests/fixtures/tokenizer/llama3_parity.json: texts and the ids Hugging Face's own tokenizer
(PyPI `tokenizers`, the Rust library with its Python binding) gives them with the LLaMA-3
tokenizer.json, plus decode, BOS, added-token and GPT-2 pre-tokenizer cases. packbench's parity
test (tests/datasets/test_tokenizer_parity.cpp) replays it.

    ~/.cache/packbench/venv/bin/python scripts/tokenizer/make_parity_fixture.py [TOKENIZER_DIR] [--out FILE]

TOKENIZER_DIR defaults to ~/.cache/packbench/tokenizers/llama3 (filled by scripts/setup.sh); FILE
defaults to the committed fixture. The texts come from a list written by hand and a fixed 32-bit
LCG, so every run and machine makes the same texts.
"""
import argparse
import hashlib
import json
import os
import tempfile

import tokenizers
from tokenizers import Tokenizer

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.normpath(os.path.join(HERE, "..", ".."))
FIXTURE = os.path.join(ROOT, "tests", "fixtures", "tokenizer", "llama3_parity.json")
TINY = os.path.join(ROOT, "tests", "fixtures", "tokenizer", "tiny", "tokenizer.json")

# ---- texts written by hand: every category the parity test covers, and the edges between them ----
HAND_TEXTS = [
    '', ' ', '  ', '\n', '\t', 'a', 'Hello world', 'Hello, world!', ' Hello world', 'Hello world ',
    # whitespace runs
    'a  b', 'a   b', 'a    b', '   leading', 'trailing   ', '\t\tx', ' \n \n', '\n\n\n', 'a \n b', 'a\n\n\nb',
    'x\r\ny', 'line1\r\n\r\nline2', '  \r\n  ', 'a   !!!', 'end.\n', '\n  indented', '\t\n\t\n', 'a\t\tb\t',
    '                                        x', 'word \n\n  \n next', ' \r \r\n \n\r', 'tab\there and\tthere',
    # digits
    '1', '12', '123', '1234', '1234567', '3.14159', '1,000,000', 'x2y3z4', 'v1.2.3-rc4', '2024-05-17T12:34:56Z',
    '0x1F600', '1e-10', '$1,234.56', '١٢٣٤٥', '²³', 'Ⅻ', '½ cup', '१२३', '１２３４', 'phone: +1 (555) 123-4567',
    # contractions in mixed case
    "I'M here", "they'LL go", "We'Re", "DON'T", "it's", "you'VE", "he'd", "'s", "''s", "I'm", "You're",
    "they'll", "she'S", "We'VE", "it'D", "Y'ALL", "rock'n'roll", "O'Neil's", "'tis", "'twas",
    '\u2018s curly', "it\u2019s curly", "'\u017F long s", "'\u212A kelvin",
    # code
    'def f(x):\n    return x * 2\n', 'int main() {\n  printf("%d\\n", 42);\n  return 0;\n}\n',
    'for (int i = 0; i < n; ++i) { a[i] += b[i]; }', '{"key": "value", "n": [1, 2, 3]}',
    '<div class="x">Hello</div>', 'SELECT * FROM t WHERE id = 7;', 'x = re.compile(r"\\s+(?!\\S)")',
    '#include <vector>\nstd::vector<int> v{1,2,3};', 'if __name__ == "__main__":\n\tmain()', 'a->b::c<<d>>e',
    '    ', '        if x:\n            pass', '/* comment */ // another', 'lambda: x**2 + y//3 - z%4',
    'https://example.com/path?q=1&r=2#frag', 'user@example.com', '~/.bashrc && echo $HOME',
    # CJK, emoji, scripts
    '中文测试', '日本語のテキストです。', '한국어 텍스트', '我爱北京天安门', '東京タワー',
    '😀', '😀😃😄', '👨‍👩‍👧‍👦 family', '🇺🇸🇫🇷', '❤️', 'I ❤️ NY', '🤖 robots', 'thumbs 👍🏽 up',
    'Привет, мир!', 'Съешь же ещё этих мягких французских булок', 'مرحبا بالعالم', 'السلام عليكم ورحمة الله',
    'שלום עולם', 'สวัสดีครับ', 'नमस्ते दुनिया', 'Γειά σου Κόσμε', 'Ἀρχιμήδης', 'Tiếng Việt có dấu',
    'ẞ straße STRASSE', 'İstanbul ılık', 'ǅ titlecase', 'ﬁ ligature', 'Ωmega', 'Ⓐ circled',
    # unusual Unicode spaces and controls
    'a\u00a0b', 'a\u00a0\u00a0b', '\u00a0x', 'x\u00a0', 'a\u2009b', 'a\u3000b', 'x\u3000\u3000y', 'a\u200bb',
    '\u200b', 'a\u180eb', 'a\ufeffb', '\ufeffBOM', 'a\u2028b', 'a\u2029b', 'a\u0085b', 'a\u1680b', 'a\u202fb',
    'a\u205fb', 'a\u000bb', 'a\u000cb', 'a\u001cb', 'a\u001fb', 'a \u00a0 b', ' \u2009 ', '\u3000', 'a\u2000\u200ab',
    'a\u00ad b', 'x\u0000y', '\u0007bell',
    # combining marks
    'e\u0301', 'cafe\u0301', 'a\u0300\u0301\u0302', '\u0301', ' \u0301', 'Z\u0351\u0363\u036b\u0303algo',
    'n\u0303o', '\u0915\u094d\u0937', 'a\u20dd',
    # special tokens in text
    '<|begin_of_text|>Hello', 'a<|eot_id|>b', '<|start_header_id|>user<|end_header_id|>\n\nHi there<|eot_id|>',
    '<|eot_id|><|eot_id|>', '<|eot_id', '<|eot_id|', 'eot_id|>', '<|reserved_special_token_250|>x',
    ' <|eot_id|> ', '<<|eot_id|>>', '<|end_of_text|>\n', 'text<|begin_of_text|>', '<|start_header_id|>',
    '<|reserved_special_token_251|>', '<|finetune_right_pad_id|>',
    # longer prose
    'The quick brown fox jumps over the lazy dog. THE QUICK BROWN FOX! the quick... brown?? fox;;',
    'Supervised fine-tuning (SFT) packs several samples into one sequence; padding wastes compute.\n\n'
    'We compare random packing and greedy packing across 69K to 1.2M samples, at 8B and 70B scale.',
    'Mr. Smith said: "It\'s 5 o\'clock — isn\'t it?" … and left.',
    'A' + 'a' * 300, 'ab' * 200, ' ' * 100 + 'x', '!' * 50, '1' * 40,
    '\n' * 20 + 'x', 'é' * 60, '中' * 50, '😀' * 20,
]

# ---- texts built from fragments with a fixed generator, for many boundary combinations ----
FRAGMENTS = [
    'hello', 'World', "I'M", "they'LL", "we'd", '123', '4567', '3.5', 'x', 'foo_bar', 'fooBar', '()', '[]',
    '{}', '!!', '?', '...', '--', '->', '==', '\t', '\n', '\r\n', '  ', '\u00a0', '\u2009', '\u3000', '\u200b',
    '中文', '日本', '한국', '😀', '👍🏽', 'Привет', 'مرحبا', 'e\u0301', '<|eot_id|>', '<|begin_of_text|>',
    'def', 'return', '#', '//', '"quoted"', "'single'", 'ǅ', 'ß', '٣', '²', 'Ⅻ', '\\n', '$x', '@user', 'URL:',
]
SEPARATORS = ['', ' ', ' ', '  ', '\n', '\r\n', '\t', '\u00a0', '\u3000', ' \n', '\n\n']


class Lcg:
    """seed = seed * 1103515245 + 12345 (mod 2**32); a draw in [0, n) is (seed >> 8) % n. The
    fixture's sequence was first made with 32-bit unsigned arithmetic; this is the same sequence."""

    def __init__(self, seed):
        self.seed = seed

    def __call__(self, n):
        self.seed = (self.seed * 1103515245 + 12345) & 0xFFFFFFFF
        return (self.seed >> 8) % n


def generated_texts(rand):
    out = []
    for _ in range(260):
        k = 1 + rand(7)
        s = ''
        for j in range(k):
            s += (SEPARATORS[rand(len(SEPARATORS))] if j else '') + FRAGMENTS[rand(len(FRAGMENTS))]
        if rand(5) == 0:
            s = SEPARATORS[rand(len(SEPARATORS))] + s
        if rand(5) == 0:
            s += SEPARATORS[rand(len(SEPARATORS))]
        out.append(s)
    return out


def encode_cases(tok, texts, add_special_tokens=False):
    return [{"text": t, "ids": tok.encode(t, add_special_tokens=add_special_tokens).ids} for t in texts]


def bos_post_processor():
    """Meta's later LLaMA-3 tokenizer.json post-processor: ByteLevel, then <|begin_of_text|> $A."""
    bos = '<|begin_of_text|>'
    return {
        "type": "Sequence",
        "processors": [
            {"type": "ByteLevel", "add_prefix_space": True, "trim_offsets": False, "use_regex": True},
            {
                "type": "TemplateProcessing",
                "single": [{"SpecialToken": {"id": bos, "type_id": 0}}, {"Sequence": {"id": "A", "type_id": 0}}],
                "pair": [
                    {"SpecialToken": {"id": bos, "type_id": 0}}, {"Sequence": {"id": "A", "type_id": 0}},
                    {"SpecialToken": {"id": bos, "type_id": 1}}, {"Sequence": {"id": "B", "type_id": 1}},
                ],
                "special_tokens": {bos: {"id": bos, "ids": [128000], "tokens": [bos]}},
            },
        ],
    }


def make_fixture(tokenizer_dir):
    json_path = os.path.join(tokenizer_dir, "tokenizer.json")
    with open(json_path, "rb") as f:
        json_bytes = f.read()
    json_text = json_bytes.decode("utf-8")
    rand = Lcg(20240517)
    tok = Tokenizer.from_str(json_text)
    texts = HAND_TEXTS + generated_texts(rand)
    cases = encode_cases(tok, texts)

    # Decode: prefixes that cut characters apart (U+FFFD), with and without specials skipped.
    decode_cases = []
    for i in range(0, len(cases), 3):
        ids = cases[i]["ids"]
        if not ids:
            continue
        cut = ids[:1 + rand(len(ids))]
        for skip in (False, True):
            decode_cases.append({"ids": cut, "skip_special_tokens": skip,
                                 "text": tok.decode(cut, skip_special_tokens=skip)})
    byte_ids = [tok.token_to_id(t) for t in ['ä', 'ĸ', 'Ġ', 'ð', 'Ł']]
    for ids in (byte_ids, [128000] + byte_ids, [byte_ids[0], 9906, 128009, byte_ids[3]]):
        for skip in (False, True):
            decode_cases.append({"ids": ids, "skip_special_tokens": skip,
                                 "text": tok.decode(ids, skip_special_tokens=skip)})

    # BOS: the later LLaMA-3 tokenizer.json adds TemplateProcessing (<|begin_of_text|> $A).
    with_template = json.loads(json_text)
    with_template["post_processor"] = bos_post_processor()
    tok_t = Tokenizer.from_str(json.dumps(with_template))
    bos_cases = encode_cases(tok_t, texts[:40], add_special_tokens=True)

    # Added-token flags (single_word, lstrip, rstrip, normalized) on the tiny hand-made tokenizer
    # with extra added tokens; the test rebuilds the same file from added_tokens_variant.
    with open(TINY, encoding="utf-8") as f:
        tiny_text = f.read()
    tiny = json.loads(tiny_text)
    next_id = max(t["id"] for t in tiny["added_tokens"]) + 1
    extra = []
    for content, flags in [('<sw>', {"single_word": True}), ('ab', {"single_word": True}),
                           ('é', {"single_word": True}), ('<l>', {"lstrip": True}), ('<r>', {"rstrip": True}),
                           ('<n>', {"normalized": True}), ('<|eot|>', {"special": True}),
                           ('<|eot|>x', {"special": True})]:
        t = {"id": next_id, "content": content, "single_word": False, "lstrip": False, "rstrip": False,
             "normalized": False, "special": False}
        t.update(flags)
        extra.append(t)
        next_id += 1
    tiny["added_tokens"] = tiny["added_tokens"] + extra
    # Hugging Face assigns added-token ids itself ('é' is already a vocabulary token, byte 0xE9):
    # write the ids it assigned, so the file is consistent.
    probe = Tokenizer.from_str(json.dumps(tiny))
    for t in tiny["added_tokens"]:
        t["id"] = probe.token_to_id(t["content"])
    added_tokens_variant = tiny["added_tokens"]
    tok_v = Tokenizer.from_str(json.dumps(tiny))
    added_texts = []
    pieces = ['<sw>', 'ab', 'é', '<l>', '<r>', '<n>', '<|eot|>', '<|eot|>x', '<mask>', '<|bos|>']
    around = ['', ' ', '  ', 'x', '1', '_', '-', '\t', '\n', '\u00a0', '\u3000', '\u200b', '\u180e', 'é', '中']
    for p in pieces:
        for a in around:
            for b in ['', ' ', 'y', '\u2009\n', '_', '中', 'é']:
                if rand(3) == 0:
                    added_texts.append(a + p + b)
    added_texts += ['ab ab xab abx ab_ab ab1 1ab', '  <l>  <r>  <l><r>  ', '<|eot|>xx <|eot|>',
                    'éab é aé éé', '<mask><mask> <mask>']
    added_cases = encode_cases(tok_v, added_texts)

    # GPT-2 style pre-tokenizer (ByteLevel with its own regex) on the tiny tokenizer.
    gpt2 = json.loads(tiny_text)
    gpt2["pre_tokenizer"] = {"type": "ByteLevel", "add_prefix_space": False, "trim_offsets": True,
                             "use_regex": True}
    tok_g = Tokenizer.from_str(json.dumps(gpt2))
    gpt2_cases = encode_cases(tok_g, [t for i, t in enumerate(texts) if i % 3 == 0])

    return {
        "about": f"Reference ids from Hugging Face tokenizers (PyPI tokenizers {tokenizers.__version__}, Rust core) "
                 "for packbench tests/datasets/test_tokenizer_parity.cpp. Regenerate: "
                 "~/.cache/packbench/venv/bin/python scripts/tokenizer/make_parity_fixture.py",
        "tokenizer_json_sha256": hashlib.sha256(json_bytes).hexdigest(),
        "bos_post_processor": with_template["post_processor"],
        "cases": cases, "decode_cases": decode_cases, "bos_cases": bos_cases,
        "added_tokens_variant": added_tokens_variant, "added_cases": added_cases,
        "gpt2_pre_tokenizer": gpt2["pre_tokenizer"], "gpt2_cases": gpt2_cases,
    }


def dump(fixture):
    """Compact JSON, one case per line."""
    s = json.dumps(fixture, ensure_ascii=False, separators=(",", ":"))
    return s.replace('},{"text"', '},\n{"text"').replace('},{"ids"', '},\n{"ids"') + "\n"


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("tokenizer_dir", nargs="?",
                    default=os.path.join(os.path.expanduser("~"), ".cache", "packbench", "tokenizers", "llama3"))
    ap.add_argument("--out", default=FIXTURE)
    args = ap.parse_args()
    fixture = make_fixture(args.tokenizer_dir)
    out_dir = os.path.dirname(os.path.abspath(args.out))
    os.makedirs(out_dir, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=out_dir, prefix=".tmp-", suffix=".json")
    try:
        with os.fdopen(fd, "w", encoding="utf-8") as f:
            f.write(dump(fixture))
        os.replace(tmp, args.out)
    except BaseException:
        os.unlink(tmp)
        raise
    print(f"wrote {args.out}: {len(fixture['cases'])} cases, {len(fixture['decode_cases'])} decode cases, "
          f"{len(fixture['bos_cases'])} bos cases")


if __name__ == "__main__":
    main()
