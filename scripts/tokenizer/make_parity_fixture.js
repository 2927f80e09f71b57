#!/usr/bin/env node
// Writes tests/fixtures/tokenizer/llama3_parity.json: texts and the ids Hugging Face's own
// tokenizer (npm `tokenizers`: the Rust library with its prebuilt Node binding) gives them with
// the LLaMA-3 tokenizer.json, plus decode cases and BOS cases. packbench's parity test replays it.
//
//   cd scripts/tokenizer && npm ci && node make_parity_fixture.js [TOKENIZER_DIR]
//
// TOKENIZER_DIR defaults to ~/.cache/packbench/tokenizers/llama3 (filled by scripts/setup.sh).
'use strict';
const fs = require('fs');
const os = require('os');
const path = require('path');
const crypto = require('crypto');
const { Tokenizer } = require('tokenizers');

const dir = process.argv[2] || path.join(os.homedir(), '.cache/packbench/tokenizers/llama3');
const jsonPath = path.join(dir, 'tokenizer.json');
const jsonText = fs.readFileSync(jsonPath, 'utf8');
const out = path.join(__dirname, '..', '..', 'tests', 'fixtures', 'tokenizer', 'llama3_parity.json');

// ---- texts written by hand: every category the issue lists, and the edges between them ----
const handTexts = [
  '', ' ', '  ', '\n', '\t', 'a', 'Hello world', 'Hello, world!', ' Hello world', 'Hello world ',
  // whitespace runs
  'a  b', 'a   b', 'a    b', '   leading', 'trailing   ', '\t\tx', ' \n \n', '\n\n\n', 'a \n b', 'a\n\n\nb',
  'x\r\ny', 'line1\r\n\r\nline2', '  \r\n  ', 'a   !!!', 'end.\n', '\n  indented', '\t\n\t\n', 'a\t\tb\t',
  '                                        x', 'word \n\n  \n next', ' \r \r\n \n\r', 'tab\there and\tthere',
  // digits
  '1', '12', '123', '1234', '1234567', '3.14159', '1,000,000', 'x2y3z4', 'v1.2.3-rc4', '2024-05-17T12:34:56Z',
  '0x1F600', '1e-10', '$1,234.56', '١٢٣٤٥', '²³', 'Ⅻ', '½ cup', '१२३', '１２３４', 'phone: +1 (555) 123-4567',
  // contractions in mixed case
  "I'M here", "they'LL go", "We'Re", "DON'T", "it's", "you'VE", "he'd", "'s", "''s", "I'm", "You're",
  "they'll", "she'S", "We'VE", "it'D", "Y'ALL", "rock'n'roll", "O'Neil's", "'tis", "'twas",
  '\u2018s curly', "it\u2019s curly", "'\u017F long s", "'\u212A kelvin",
  // code
  'def f(x):\n    return x * 2\n', 'int main() {\n  printf("%d\\n", 42);\n  return 0;\n}\n',
  'for (int i = 0; i < n; ++i) { a[i] += b[i]; }', '{"key": "value", "n": [1, 2, 3]}',
  '<div class="x">Hello</div>', 'SELECT * FROM t WHERE id = 7;', 'x = re.compile(r"\\s+(?!\\S)")',
  '#include <vector>\nstd::vector<int> v{1,2,3};', 'if __name__ == "__main__":\n\tmain()', 'a->b::c<<d>>e',
  '    ', '        if x:\n            pass', '/* comment */ // another', 'lambda: x**2 + y//3 - z%4',
  'https://example.com/path?q=1&r=2#frag', 'user@example.com', '~/.bashrc && echo $HOME',
  // CJK, emoji, scripts
  '中文测试', '日本語のテキストです。', '한국어 텍스트', '我爱北京天安门', '東京タワー',
  '😀', '😀😃😄', '👨‍👩‍👧‍👦 family', '🇺🇸🇫🇷', '❤️', 'I ❤️ NY', '🤖 robots', 'thumbs 👍🏽 up',
  'Привет, мир!', 'Съешь же ещё этих мягких французских булок', 'مرحبا بالعالم', 'السلام عليكم ورحمة الله',
  'שלום עולם', 'สวัสดีครับ', 'नमस्ते दुनिया', 'Γειά σου Κόσμε', 'Ἀρχιμήδης', 'Tiếng Việt có dấu',
  'ẞ straße STRASSE', 'İstanbul ılık', 'ǅ titlecase', 'ﬁ ligature', 'Ωmega', 'Ⓐ circled',
  // unusual Unicode spaces and controls
  'a\u00a0b', 'a\u00a0\u00a0b', '\u00a0x', 'x\u00a0', 'a\u2009b', 'a\u3000b', 'x\u3000\u3000y', 'a\u200bb',
  '\u200b', 'a\u180eb', 'a\ufeffb', '\ufeffBOM', 'a\u2028b', 'a\u2029b', 'a\u0085b', 'a\u1680b', 'a\u202fb',
  'a\u205fb', 'a\u000bb', 'a\u000cb', 'a\u001cb', 'a\u001fb', 'a \u00a0 b', ' \u2009 ', '\u3000', 'a\u2000\u200ab',
  'a\u00ad b', 'x\u0000y', '\u0007bell',
  // combining marks
  'e\u0301', 'cafe\u0301', 'a\u0300\u0301\u0302', '\u0301', ' \u0301', 'Z\u0351\u0363\u036b\u0303algo',
  'n\u0303o', '\u0915\u094d\u0937', 'a\u20dd',
  // special tokens in text
  '<|begin_of_text|>Hello', 'a<|eot_id|>b', '<|start_header_id|>user<|end_header_id|>\n\nHi there<|eot_id|>',
  '<|eot_id|><|eot_id|>', '<|eot_id', '<|eot_id|', 'eot_id|>', '<|reserved_special_token_250|>x',
  ' <|eot_id|> ', '<<|eot_id|>>', '<|end_of_text|>\n', 'text<|begin_of_text|>', '<|start_header_id|>',
  '<|reserved_special_token_251|>', '<|finetune_right_pad_id|>',
  // longer prose
  'The quick brown fox jumps over the lazy dog. THE QUICK BROWN FOX! the quick... brown?? fox;;',
  'Supervised fine-tuning (SFT) packs several samples into one sequence; padding wastes compute.\n\n' +
      'We compare random packing and greedy packing across 69K to 1.2M samples, at 8B and 70B scale.',
  'Mr. Smith said: "It\'s 5 o\'clock — isn\'t it?" … and left.',
  'A' + 'a'.repeat(300), 'ab'.repeat(200), ' '.repeat(100) + 'x', '!'.repeat(50), '1'.repeat(40),
  '\n'.repeat(20) + 'x', 'é'.repeat(60), '中'.repeat(50), '😀'.repeat(20),
];

// ---- texts built from fragments with a fixed generator, for many boundary combinations ----
const fragments = [
  'hello', 'World', "I'M", "they'LL", "we'd", '123', '4567', '3.5', 'x', 'foo_bar', 'fooBar', '()', '[]',
  '{}', '!!', '?', '...', '--', '->', '==', '\t', '\n', '\r\n', '  ', '\u00a0', '\u2009', '\u3000', '\u200b',
  '中文', '日本', '한국', '😀', '👍🏽', 'Привет', 'مرحبا', 'e\u0301', '<|eot_id|>', '<|begin_of_text|>',
  'def', 'return', '#', '//', '"quoted"', "'single'", 'ǅ', 'ß', '٣', '²', 'Ⅻ', '\\n', '$x', '@user', 'URL:',
];
const separators = ['', ' ', ' ', '  ', '\n', '\r\n', '\t', '\u00a0', '\u3000', ' \n', '\n\n'];
let seed = 20240517;
function rand(n) {  // a small LCG: the same sequence on every run and machine
  seed = (Math.imul(seed, 1103515245) + 12345) >>> 0;
  return (seed >>> 8) % n;
}
const genTexts = [];
for (let i = 0; i < 260; ++i) {
  const k = 1 + rand(7);
  let s = '';
  for (let j = 0; j < k; ++j) s += (j ? separators[rand(separators.length)] : '') + fragments[rand(fragments.length)];
  if (rand(5) === 0) s = separators[rand(separators.length)] + s;
  if (rand(5) === 0) s += separators[rand(separators.length)];
  genTexts.push(s);
}

async function main() {
  const tok = Tokenizer.fromString(jsonText);
  const texts = handTexts.concat(genTexts);
  const cases = [];
  for (const text of texts) {
    const enc = await tok.encode(text, null, { addSpecialTokens: false });
    cases.push({ text, ids: enc.getIds() });
  }
  // Decode: prefixes that cut characters apart (U+FFFD), with and without specials skipped.
  const decode_cases = [];
  for (let i = 0; i < cases.length; i += 3) {
    const ids = cases[i].ids;
    if (ids.length === 0) continue;
    const cut = ids.slice(0, 1 + rand(ids.length));
    for (const skip of [false, true]) decode_cases.push({ ids: cut, skip_special_tokens: skip, text: await tok.decode(cut, skip) });
  }
  const byteIds = ['ä', 'ĸ', 'Ġ', 'ð', 'Ł'].map((t) => tok.tokenToId(t));
  for (const ids of [byteIds, [128000].concat(byteIds), [byteIds[0], 9906, 128009, byteIds[3]]])
    for (const skip of [false, true]) decode_cases.push({ ids, skip_special_tokens: skip, text: await tok.decode(ids, skip) });

  // BOS: the later LLaMA-3 tokenizer.json adds TemplateProcessing (<|begin_of_text|> $A).
  const withTemplate = JSON.parse(jsonText);
  withTemplate.post_processor = {
    type: 'Sequence',
    processors: [
      { type: 'ByteLevel', add_prefix_space: true, trim_offsets: false, use_regex: true },
      {
        type: 'TemplateProcessing',
        single: [{ SpecialToken: { id: '<|begin_of_text|>', type_id: 0 } }, { Sequence: { id: 'A', type_id: 0 } }],
        pair: [
          { SpecialToken: { id: '<|begin_of_text|>', type_id: 0 } }, { Sequence: { id: 'A', type_id: 0 } },
          { SpecialToken: { id: '<|begin_of_text|>', type_id: 1 } }, { Sequence: { id: 'B', type_id: 1 } },
        ],
        special_tokens: { '<|begin_of_text|>': { id: '<|begin_of_text|>', ids: [128000], tokens: ['<|begin_of_text|>'] } },
      },
    ],
  };
  const tokT = Tokenizer.fromString(JSON.stringify(withTemplate));
  const bos_cases = [];
  for (const text of texts.slice(0, 40)) {
    const enc = await tokT.encode(text, null, { addSpecialTokens: true });
    bos_cases.push({ text, ids: enc.getIds() });
  }

  // Added-token flags (single_word, lstrip, rstrip, normalized) on the tiny hand-made tokenizer
  // with extra added tokens; the test rebuilds the same file from added_tokens_variant.
  const tinyPath = path.join(__dirname, '..', '..', 'tests', 'fixtures', 'tokenizer', 'tiny', 'tokenizer.json');
  const tiny = JSON.parse(fs.readFileSync(tinyPath, 'utf8'));
  let nextId = Math.max(...tiny.added_tokens.map((t) => t.id)) + 1;
  const extra = [
    ['<sw>', { single_word: true }], ['ab', { single_word: true }], ['é', { single_word: true }],
    ['<l>', { lstrip: true }], ['<r>', { rstrip: true }], ['<n>', { normalized: true }],
    ['<|eot|>', { special: true }], ['<|eot|>x', { special: true }],
  ].map(([content, flags]) => Object.assign(
      { id: nextId++, content, single_word: false, lstrip: false, rstrip: false, normalized: false, special: false },
      flags));
  tiny.added_tokens = tiny.added_tokens.concat(extra);
  // Hugging Face assigns added-token ids itself ('é' is already a vocabulary token, byte 0xE9):
  // write the ids it assigned, so the file is consistent.
  const probe = Tokenizer.fromString(JSON.stringify(tiny));
  for (const t of tiny.added_tokens) t.id = probe.tokenToId(t.content);
  const added_tokens_variant = tiny.added_tokens;
  const tokV = Tokenizer.fromString(JSON.stringify(tiny));
  const addedTexts = [];
  const pieces = ['<sw>', 'ab', 'é', '<l>', '<r>', '<n>', '<|eot|>', '<|eot|>x', '<mask>', '<|bos|>'];
  const around = ['', ' ', '  ', 'x', '1', '_', '-', '\t', '\n', '\u00a0', '\u3000', '\u200b', '\u180e', 'é', '中'];
  for (const p of pieces)
    for (const a of around)
      for (const b of ['', ' ', 'y', '\u2009\n', '_', '中', 'é'])
        if (rand(3) === 0) addedTexts.push(a + p + b);
  addedTexts.push('ab ab xab abx ab_ab ab1 1ab', '  <l>  <r>  <l><r>  ', '<|eot|>xx <|eot|>', 'éab é aé éé', '<mask><mask> <mask>');
  const added_cases = [];
  for (const text of addedTexts) {
    const enc = await tokV.encode(text, null, { addSpecialTokens: false });
    added_cases.push({ text, ids: enc.getIds() });
  }

  // GPT-2 style pre-tokenizer (ByteLevel with its own regex) on the tiny tokenizer.
  const gpt2 = JSON.parse(fs.readFileSync(tinyPath, 'utf8'));
  gpt2.pre_tokenizer = { type: 'ByteLevel', add_prefix_space: false, trim_offsets: true, use_regex: true };
  const tokG = Tokenizer.fromString(JSON.stringify(gpt2));
  const gpt2_cases = [];
  for (const text of texts.filter((_, i) => i % 3 === 0)) {
    const enc = await tokG.encode(text, null, { addSpecialTokens: false });
    gpt2_cases.push({ text, ids: enc.getIds() });
  }

  const fixture = {
    about: 'Reference ids from Hugging Face tokenizers (npm tokenizers ' +
        require('tokenizers/package.json').version + ', Rust core) for packbench tests/datasets/test_tokenizer_parity.cpp. ' +
        'Regenerate: cd scripts/tokenizer && npm ci && node make_parity_fixture.js',
    tokenizer_json_sha256: crypto.createHash('sha256').update(fs.readFileSync(jsonPath)).digest('hex'),
    bos_post_processor: withTemplate.post_processor,
    cases, decode_cases, bos_cases, added_tokens_variant, added_cases,
    gpt2_pre_tokenizer: gpt2.pre_tokenizer, gpt2_cases,
  };
  fs.mkdirSync(path.dirname(out), { recursive: true });
  fs.writeFileSync(out, JSON.stringify(fixture, null, 0).replace(/\},\{"text"/g, '},\n{"text"').replace(/\},\{"ids"/g, '},\n{"ids"') + '\n');
  console.log(`wrote ${out}: ${cases.length} cases, ${decode_cases.length} decode cases, ${bos_cases.length} bos cases`);
}

main().catch((e) => { console.error(e); process.exit(1); });
