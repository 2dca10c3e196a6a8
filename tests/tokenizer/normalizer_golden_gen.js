#!/usr/bin/env node
// Regenerates normalizer_golden.json: normalizer and decoder outputs of the
// HF reference (tokenizers 0.22 via the @anush008/tokenizers Node binding).
//   NODE_PATH=/tmp/npmt/node_modules node normalizer_golden_gen.js > normalizer_golden.json
// Normalizer cases are [input, output]; decoder cases are [tokens, output].
const {Tokenizer} = require('@anush008/tokenizers');

let seed = 4242;
function rnd(n) { seed = (seed * 1103515245 + 12345) % 2147483648; return seed % n; }
const pick = (a) => a[rnd(a.length)];
const range = (lo, hi) => () => String.fromCodePoint(lo + rnd(hi - lo + 1));
const pools = [
  range(0x20, 0x7e), range(0x20, 0x7e), range(0xa0, 0x24f), range(0x300, 0x36f), range(0x370, 0x3ff),
  range(0x400, 0x4ff), range(0x591, 0x6ff), range(0x900, 0x97f), range(0x9bc, 0x9d7), range(0xf00, 0xfbc),
  range(0x1100, 0x11ff), range(0xac00, 0xd7a3), range(0x1e00, 0x1fff), range(0x2000, 0x206f),
  range(0x2100, 0x24ff), range(0x3000, 0x33ff), range(0x4e00, 0x9fff), range(0xf900, 0xfaff),
  range(0xfb00, 0xfdff), range(0xfe00, 0xffef), range(0x1d100, 0x1d1ff), range(0x1d400, 0x1d7ff),
  range(0x1f100, 0x1f1ff), range(0x1f300, 0x1faff), range(0x20000, 0x2fa1f), range(0x0, 0x1f),
  range(0x7f, 0x9f), range(0xe000, 0xe0ff),
  () => pick(['\u0897', '\u1ac1', '\u{1e08f}', '\u{11935}\u{11930}', '\u{11938}', '\u1df6', '\u0d3b',
    '\u{1e94a}', '\u{16ff0}', '\u{1e130}', '\u0cd5', '\u0b3e', '\u0dcf', '\u{110ba}', '\u{1133e}',
    '\u0130', '\u03a3', '\u1e9e', '\ua7cb', '\u{16ea0}', '\u{1f12f}', '\u{1e030}', '\u0344', '\u0f73',
    '\u212b', '\u2126', '\u0958', '\u0385', '\u1fee', '\u{1d15e}', '\ufb1d', '\u2adc', '\u08e2',
    '\u0890', '\u{13430}', '\u{1bca0}', '\u180e', '\u200b', '\ufeff', '\ufffd', '\u00ad', '\u2581']),
];
function randomText(maxLen) {
  const n = 1 + rnd(maxLen); let s = '';
  for (let i = 0; i < n; i++) s += pick(pools)();
  return s;
}
const curated = ['', ' ', 'Hello World', '  padded  ', '\u3000\u0085 x \u2009', 'ÀÉÎÕÜ àéîõü ñ ç',
  'e\u0301\u0302 a\u0316\u0301\u0300', '\u1100\u1161\u11a8 \uac00\u11a8 \uac01', 'ﬁ ① ½ ㌀ Ａ ｶ ﾞ',
  'İstanbul ΣΑΣ ẞ', '中文字 𠀀 test', 'a\u0000b\ufffdc\u200bd\u00ade\u0085f\t\ng', 'don\'t  stop▁me',
  '\u0958\u2126\u212b\u0344\u0f73\u{1d15e}', 'a\u0897\u0301 a\u0301\u0897', '\u{11935}\u{11930}',
  'ǅ ǈ ǋ ǲ', 'ﾊﾟ ﾍﾞ ｳﾞ'];
const texts = curated.concat(Array.from({length: 160}, () => randomText(24)));

function build(normalizer, decoder) {
  const tj = {version: '1.0', truncation: null, padding: null, added_tokens: [], normalizer,
    pre_tokenizer: null, post_processor: null, decoder,
    model: {type: 'WordLevel', vocab: {'[UNK]': 0}, unk_token: '[UNK]'}};
  return Tokenizer.fromString(JSON.stringify(tj));
}

const bert = (c, h, s, l) => ({type: 'BertNormalizer', clean_text: c, handle_chinese_chars: h,
  strip_accents: s, lowercase: l});
const normalizers = [
  {type: 'NFC'}, {type: 'NFD'}, {type: 'NFKC'}, {type: 'NFKD'}, {type: 'Lowercase'},
  {type: 'StripAccents'}, {type: 'Nmt'}, {type: 'ByteLevel'},
  {type: 'Strip', strip_left: true, strip_right: true}, {type: 'Strip', strip_left: false, strip_right: true},
  {type: 'Prepend', prepend: '▁'},
  {type: 'Replace', pattern: {String: ' '}, content: '▁'},
  {type: 'Replace', pattern: {Regex: '\\s+'}, content: ' '},
  {type: 'Replace', pattern: {Regex: '[aeiou]*'}, content: '_'},
  bert(true, true, null, true), bert(true, true, false, false), bert(false, false, true, false),
  {type: 'Sequence', normalizers: [{type: 'NFD'}, {type: 'StripAccents'}, {type: 'Lowercase'}]},
  {type: 'Sequence', normalizers: [{type: 'Prepend', prepend: '▁'},
    {type: 'Replace', pattern: {String: ' '}, content: '▁'}]},
];

const tokenPool = ['▁', '▁the', 'Ġ', 'Ġthe', 'Ċ', 'ĊĊ', 'Ã©', 'Ã', '©', 'ä½ł', 'å¥½', 'ðŁ', 'ĺ', 'Ģ',
  '<0x41>', '<0xE4>', '<0xBD>', '<0xA0>', '<0xFF>', '<0x0A>', '<0x+A>', '<0xG1>', '<0x4>', '##ing',
  '##', 'un', '.', ',', '?', "'s", "n't", ' ', '  ', 'a b', '</w>', 'x</w>', '<pad>', '|', 'é', 'x',
  'Hello', 'world', '中', '▁▁', '▁a▁', '<s>', '[CLS]'];
const decoders = [
  {type: 'ByteLevel', add_prefix_space: true, trim_offsets: true, use_regex: true},
  {type: 'Metaspace', replacement: '▁', prepend_scheme: 'always', split: true},
  {type: 'Metaspace', replacement: '▁', prepend_scheme: 'never', split: true},
  {type: 'Metaspace', replacement: '▁', add_prefix_space: true},
  {type: 'ByteFallback'}, {type: 'Fuse'},
  {type: 'Strip', content: ' ', start: 1, stop: 0}, {type: 'Strip', content: '▁', start: 2, stop: 0},
  {type: 'Strip', content: '>', start: 0, stop: 1},
  {type: 'Replace', pattern: {String: '▁'}, content: ' '},
  {type: 'Replace', pattern: {Regex: '[▁ ]+'}, content: '_'},
  {type: 'WordPiece', prefix: '##', cleanup: true}, {type: 'WordPiece', prefix: '##', cleanup: false},
  {type: 'BPEDecoder', suffix: '</w>'},
  {type: 'CTC', pad_token: '<pad>', word_delimiter_token: '|', cleanup: true},
  {type: 'Sequence', decoders: [{type: 'Replace', pattern: {String: '▁'}, content: ' '},
    {type: 'ByteFallback'}, {type: 'Fuse'}, {type: 'Strip', content: ' ', start: 1, stop: 0}]},
];
const tokenLists = [[], ['▁'], ['<0xE4>', '<0xBD>', '<0xA0>'], ['<0xE4>', '<0xBD>', 'x'],
  ['Ã', '©'], ['ðŁ', 'ĺ'], ['▁▁a▁b', '▁c']];
for (let i = 0; i < 120; i++) {
  const n = rnd(8); const l = []; for (let k = 0; k < n; k++) l.push(pick(tokenPool)); tokenLists.push(l);
}

const out = {normalizers: [], decoders: []};
for (const n of normalizers) {
  const norm = build(n, null).getNormalizer();
  out.normalizers.push({normalizer: n, cases: texts.map((t) => [t, norm.normalizeString(t)])});
}
for (const d of decoders) {
  const dec = build(null, d).getDecoder();
  out.decoders.push({decoder: d, cases: tokenLists.map((l) => [l, dec.decode(l)])});
}
console.log(JSON.stringify(out, null, 0));
