#!/usr/bin/env node
// HF tokenizers reference: the Rust `tokenizers` crate via @anush008/tokenizers.
//
//   node tools/hf_reference.js TOKENIZER_JSON [MODE] < texts.jsonl > ref.jsonl
//
// stdin: one JSON string per line (an object with a "text" field also works).
// stdout: one JSON object per input line, in order:
//   {"ids":[...], "ids_nospecial":[...], "offsets":[[s,e],...],
//    "offsets_nospecial":[[s,e],...], "decoded":"...", "decoded_skip":"..."}
// where ids = encode(text, addSpecialTokens=true), ids_nospecial = encode(text,
// addSpecialTokens=false), offsets/offsets_nospecial are those encodings'
// getOffsets() (the binding reports Unicode code points: Rust's
// encode_char_offsets), decoded = decode(ids, skipSpecialTokens=false) and
// decoded_skip = decode(ids, skipSpecialTokens=true).
// MODE: "full" (default) as above; "ids" omits the two decodes (faster).
// Lines are processed in batches (encodeBatch/decodeBatch run on the binding's
// Rust thread pool); output order equals input order.
// The binding is found in $KEEL_TESTDATA (a node_modules folder) or else in
// <repo>/.deps/npm/node_modules.
'use strict';

const fs = require('fs');
const path = require('path');
const readline = require('readline');

function usage(msg) {
  process.stderr.write(`hf_reference: ${msg}\n` +
      'usage: node tools/hf_reference.js TOKENIZER_JSON [full|ids] < texts.jsonl\n');
  process.exit(2);
}

function loadBinding() {
  const dirs = [];
  if (process.env.KEEL_TESTDATA) dirs.push(process.env.KEEL_TESTDATA);
  dirs.push(path.join(__dirname, '..', '.deps', 'npm', 'node_modules'));
  for (const d of dirs) {
    const p = path.join(d, '@anush008', 'tokenizers');
    if (fs.existsSync(p)) return require(path.resolve(p));
  }
  usage(`@anush008/tokenizers not found in ${dirs.join(' or ')}; run scripts/setup-testdata.sh`);
}

const kBatchLines = 512;

async function main() {
  const [tokenizerPath, mode = 'full'] = process.argv.slice(2);
  if (!tokenizerPath) usage('missing TOKENIZER_JSON');
  if (mode !== 'full' && mode !== 'ids') usage(`unknown mode ${mode}`);
  const {Tokenizer} = loadBinding();
  const tok = Tokenizer.fromFile(tokenizerPath);
  const out = process.stdout;

  let batch = [];
  let lineNo = 0;
  const flush = async () => {
    if (batch.length === 0) return;
    const texts = batch;
    batch = [];
    const [withSpecial, noSpecial] = await Promise.all([
      tok.encodeBatch(texts, {addSpecialTokens: true}),
      tok.encodeBatch(texts, {addSpecialTokens: false}),
    ]);
    const ids = withSpecial.map((e) => e.getIds());
    const idsNo = noSpecial.map((e) => e.getIds());
    const offsets = withSpecial.map((e) => e.getOffsets());
    const offsetsNo = noSpecial.map((e) => e.getOffsets());
    let decoded = null;
    let decodedSkip = null;
    if (mode === 'full') {
      [decoded, decodedSkip] = await Promise.all([
        tok.decodeBatch(ids, false), tok.decodeBatch(ids, true)]);
    }
    let chunk = '';
    for (let i = 0; i < texts.length; ++i) {
      const rec = {ids: ids[i], ids_nospecial: idsNo[i], offsets: offsets[i],
        offsets_nospecial: offsetsNo[i]};
      if (decoded) {
        rec.decoded = decoded[i];
        rec.decoded_skip = decodedSkip[i];
      }
      chunk += JSON.stringify(rec) + '\n';
    }
    if (!out.write(chunk)) await new Promise((r) => out.once('drain', r));
  };

  // crlfDelay/terminal off: a JSON line never holds a raw CR or LF, and
  // readline splits only on those (not on U+2028, which JSON may hold raw).
  const rl = readline.createInterface({input: process.stdin, crlfDelay: Infinity, terminal: false});
  for await (const line of rl) {
    ++lineNo;
    let v;
    try {
      v = JSON.parse(line);
    } catch (e) {
      usage(`stdin line ${lineNo}: not JSON (${e.message})`);
    }
    if (v !== null && typeof v === 'object' && typeof v.text === 'string') v = v.text;
    if (typeof v !== 'string') usage(`stdin line ${lineNo}: expected a JSON string`);
    batch.push(v);
    if (batch.length >= kBatchLines) await flush();
  }
  await flush();
}

main().catch((e) => {
  process.stderr.write(`hf_reference: ${e && e.stack ? e.stack : e}\n`);
  process.exit(1);
});
