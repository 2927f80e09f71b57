#!/usr/bin/env node
// Encodes texts with Hugging Face's tokenizers (npm, Rust core) for packbench tests:
//   node encode_with_hf.js TOKENIZER_JSON TEXTS_JSON   (TEXTS_JSON: an array of strings)
// prints a JSON array of id arrays (no special tokens added).
'use strict';
const fs = require('fs');
const { Tokenizer } = require('tokenizers');

async function main() {
  const tok = Tokenizer.fromFile(process.argv[2]);
  const texts = JSON.parse(fs.readFileSync(process.argv[3], 'utf8'));
  const out = [];
  for (const t of texts) out.push((await tok.encode(t, null, { addSpecialTokens: false })).getIds());
  process.stdout.write(JSON.stringify(out) + '\n');
}
main().catch((e) => { console.error(e); process.exit(1); });
