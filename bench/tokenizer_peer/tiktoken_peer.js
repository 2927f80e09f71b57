#!/usr/bin/env node
// Side-by-side peer for bench_datasets_tokenizer: OpenAI's tiktoken (npm `tiktoken`, its WASM
// build) loaded with the LLaMA-3 vocabulary as a BPE rank map, LLaMA-3's pattern and special
// tokens, timed on the same corpus (a JSON array of strings) one document at a time.
//
//   node tiktoken_peer.js CORPUS.json [TOKENIZER_DIR]
'use strict';
const fs = require('fs');
const os = require('os');
const path = require('path');
const { Tiktoken } = require('tiktoken');

const corpusPath = process.argv[2];
const dir = process.argv[3] || path.join(os.homedir(), '.cache/packbench/tokenizers/llama3');
const tj = JSON.parse(fs.readFileSync(path.join(dir, 'tokenizer.json'), 'utf8'));

// ByteLevel alphabet: the code point standing for each byte.
const byteOf = new Map();
{
  let next = 256;
  for (let b = 0; b < 256; ++b) {
    const printable = (b >= 0x21 && b <= 0x7e) || (b >= 0xa1 && b <= 0xac) || (b >= 0xae && b <= 0xff);
    byteOf.set(printable ? b : next++, b);
  }
}
const lines = [];
for (const [tok, id] of Object.entries(tj.model.vocab)) {
  const bytes = Buffer.from([...tok].map((c) => byteOf.get(c.codePointAt(0))));
  lines.push(bytes.toString('base64') + ' ' + id);
}
const special = {};
for (const t of tj.added_tokens) special[t.content] = t.id;
const split = tj.pre_tokenizer.pretokenizers.find((p) => p.type === 'Split');
const enc = new Tiktoken(lines.join('\n'), special, split.pattern.Regex);

const docs = JSON.parse(fs.readFileSync(corpusPath, 'utf8'));
const bytes = docs.reduce((n, d) => n + Buffer.byteLength(d, 'utf8'), 0);
let tokens = 0;
for (const d of docs.slice(0, 200)) enc.encode(d, 'all');  // warm-up
const runs = Number(process.env.PEER_RUNS || 3);
let best = Infinity, bestCpu = Infinity;
for (let r = 0; r < runs; ++r) {
  tokens = 0;
  const c0 = process.cpuUsage();
  const t0 = process.hrtime.bigint();
  for (const d of docs) tokens += enc.encode(d, 'all').length;
  const wall = Number(process.hrtime.bigint() - t0) / 1e9;
  const c = process.cpuUsage(c0);
  best = Math.min(best, wall);
  bestCpu = Math.min(bestCpu, (c.user + c.system) / 1e6);
}
const mb = bytes / (1024 * 1024);
console.log(JSON.stringify({
  peer: 'tiktoken ' + JSON.parse(fs.readFileSync(path.join(__dirname, 'node_modules/tiktoken/package.json'), 'utf8')).version + ' (WASM)', docs: docs.length, bytes, tokens,
  best_wall_s: +best.toFixed(4), best_cpu_s: +bestCpu.toFixed(4),
  MiB_per_s_wall: +(mb / best).toFixed(2), MiB_per_s_cpu: +(mb / bestCpu).toFixed(2),
}));
