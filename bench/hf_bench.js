#!/usr/bin/env node
// Speed anchors for bench/run_tokenizer_bench.sh: HF tokenizers (the Rust
// crate via @anush008/tokenizers) and tiktoken (WASM) on a JSONL corpus.
//
//   node bench/hf_bench.js CORPUS.jsonl REPS NAME=TOKENIZER_JSON...
//
// Prints one JSON object per measurement: {"tokenizer", "impl", "mbps",
// "tokens", "bytes", "runs_s"}; mbps = corpus UTF-8 MB (1e6 bytes) / median
// seconds. Encodes without special tokens.
//   hf_seq    one document at a time: await encode(doc) in a loop
//   hf_batch  encodeBatch(all documents) (the binding's Rust thread pool)
//   tiktoken  cl100k_base encode_ordinary(doc), one document at a time
'use strict';
const fs = require('fs');
const path = require('path');

const [corpusPath, repsArg, ...specs] = process.argv.slice(2);
if (!corpusPath || !repsArg) {
  process.stderr.write('usage: node bench/hf_bench.js CORPUS.jsonl REPS NAME=TOKENIZER_JSON...\n');
  process.exit(2);
}
const reps = Number(repsArg);
const base = process.env.KEEL_TESTDATA || path.join(__dirname, '..', '.deps', 'npm', 'node_modules');
const {Tokenizer} = require(path.join(base, '@anush008', 'tokenizers'));

const docs = fs.readFileSync(corpusPath, 'utf8').split('\n').filter((l) => l.length).map((l) => JSON.parse(l));
const bytes = docs.reduce((n, d) => n + Buffer.byteLength(d, 'utf8'), 0);

function median(xs) {
  const s = [...xs].sort((a, b) => a - b);
  return s[Math.floor(s.length / 2)];
}

// Warm-up (page in tables, JIT) on the first ~5% of the documents.
const warmDocs = docs.slice(0, Math.max(1, Math.floor(docs.length / 20)));

async function measure(tokenizer, impl, fn) {
  await fn(warmDocs);
  const runs = [];
  const cpu = [];
  let tokens = 0;
  for (let r = 0; r < reps; ++r) {
    const c0 = process.cpuUsage();
    const t0 = process.hrtime.bigint();
    tokens = await fn(docs);
    runs.push(Number(process.hrtime.bigint() - t0) / 1e9);
    const c = process.cpuUsage(c0);
    cpu.push((c.user + c.system) / 1e6);
  }
  // cpu_s: this process's CPU time per run; far below runs_s for a
  // one-thread measurement means the machine was busy with other work.
  const rec = {tokenizer, impl, mbps: bytes / 1e6 / median(runs), tokens, bytes, runs_s: runs,
               cpu_s: cpu};
  process.stdout.write(JSON.stringify(rec) + '\n');
}

async function main() {
  for (const spec of specs) {
    const eq = spec.indexOf('=');
    const name = spec.slice(0, eq);
    const tok = Tokenizer.fromFile(spec.slice(eq + 1));
    await measure(name, 'hf_seq', async (ds) => {
      let n = 0;
      for (const d of ds) n += (await tok.encode(d, null, {addSpecialTokens: false})).getLength();
      return n;
    });
    await measure(name, 'hf_batch', async (ds) => {
      const encs = await tok.encodeBatch(ds, {addSpecialTokens: false});
      return encs.reduce((n, e) => n + e.getLength(), 0);
    });
  }
  const {get_encoding} = require(path.join(base, 'tiktoken'));
  const enc = get_encoding('cl100k_base');
  await measure('cl100k', 'tiktoken', async (ds) => {
    let n = 0;
    for (const d of ds) n += enc.encode_ordinary(d).length;
    return n;
  });
  enc.free();
}

main().catch((e) => {
  process.stderr.write(`hf_bench: ${e && e.stack ? e.stack : e}\n`);
  process.exit(1);
});
