#!/usr/bin/env python3
"""Writes deterministic tokenizer edge cases as JSONL (one JSON string a line).

  tools/gen_edge_cases.py OUT.jsonl [--seed N] [--random N]

Standard library only. Every text is valid Unicode without surrogates (a
surrogate can't be encoded in UTF-8; keel rejects ill-formed input by
design), so every case is comparable with HF tokenizers. The output depends
only on the seed and on Python's unicodedata version (Debian 12: Unicode 14).
"""
import argparse
import json
import random
import sys
import unicodedata

SPECIALS = ['<|begin_of_text|>', '<|end_of_text|>', '<|eot_id|>', '<|start_header_id|>',
            '<|end_header_id|>', '<|im_start|>', '<|im_end|>', '<|endoftext|>',
            '<s>', '</s>', '<unk>', '<|reserved_special_token_0|>', '<think>', '</think>']

SCRIPTS = {
    'cjk': '日本語のテキストと中文文本，한국어 텍스트。漢字かなカナ混じり文、全角ＡＢＣ１２３',
    'arabic': 'مرحبا بالعالم، هذا نص عربي مع أرقام ١٢٣٤٥ وتشكيل: كَتَبَ',
    'hebrew': 'שלום עולם, זה טקסט בעברית עם ניקוד: שָׁלוֹם',
    'devanagari': 'नमस्ते दुनिया, यह हिन्दी पाठ है। क्षत्रिय ज्ञान १२३',
    'thai': 'สวัสดีชาวโลก นี่คือข้อความภาษาไทยที่ไม่มีช่องว่างระหว่างคำ',
    'cyrillic': 'Привет, мир! Съешь же ещё этих мягких французских булок.',
    'greek': 'Γειά σου Κόσμε! Ξεσκεπάζω την ψυχοφθόρα βδελυγμία.',
    'latin_ext': 'Ça va? Ærøskøbing, Łódź, Straße, İstanbul, naïve façade, ǅemal, ﬁne ﬂow',
    'combining': 'e\u0301 a\u0300\u0323 o\u0308\u0304 Z\u0351\u0354\u035b\u0362 n\u0303\u0303\u0303',
    'emoji': '👩‍👩‍👧‍👦 👨🏽‍💻 🏳️‍🌈 🇯🇵🇺🇸🇪🇺 👍🏻👍🏼👍🏽👍🏾👍🏿 ❤️ ☺︎ 1️⃣ #️⃣ 🧑‍🤝‍🧑',
    'math': '∀x∈ℝ: x² ≥ 0 ⇒ √(x²) = |x| ∑ᵢ₌₁ⁿ i = n(n+1)/2 ∫₀^∞ e^{-x} dx = 1',
    'mixed': 'The 東京 Tower (東京タワー) is 333m tall — مرحبا Hello שלום 🗼!',
}

UNICODE_SPACES = ['\u00a0', '\u1680', '\u2000', '\u2001', '\u2002', '\u2003', '\u2004',
                  '\u2005', '\u2006', '\u2007', '\u2008', '\u2009', '\u200a', '\u202f',
                  '\u205f', '\u3000', '\u0085', '\u2028', '\u2029', '\u000b', '\u000c',
                  '\u001c', '\u001d', '\u001e', '\u001f', '\u200b', '\u200c', '\u200d',
                  '\u2060', '\ufeff', '\u180e']

APOSTROPHES = ["'", '\u2019', '\u2018', '\u02bc', '\uff07', '`', '\u00b4']


def category_samples():
    """A few code points of every general category (Cs excluded: surrogates)."""
    by_cat = {}
    for cp in range(0x110000):
        if 0xD800 <= cp <= 0xDFFF:
            continue
        cat = unicodedata.category(chr(cp))
        lst = by_cat.setdefault(cat, [])
        if len(lst) < 64:
            lst.append(cp)
        elif cp % 997 == 0 and len(lst) < 96:  # some from the far planes too
            lst.append(cp)
    return by_cat


def contractions():
    out = []
    for suffix in ['s', 't', 're', 've', 'm', 'll', 'd']:
        variants = {suffix.lower(), suffix.upper(), suffix.capitalize(),
                    suffix[0].lower() + suffix[1:].upper() if len(suffix) > 1 else suffix}
        for v in sorted(variants):
            for ap in APOSTROPHES:
                out += [f"it{ap}{v}", f"IT{ap}{v}", f"{ap}{v}", f" {ap}{v}", f"x {ap}{v} y",
                        f"{ap}{v}{ap}{v}", f"1{ap}{v}", f"\n{ap}{v}"]
    return out


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument('out')
    ap.add_argument('--seed', type=int, default=20251126)
    ap.add_argument('--random', type=int, default=2000, help='number of random strings')
    args = ap.parse_args()
    rng = random.Random(args.seed)
    cases = []
    add = cases.append

    # Empty and trivial.
    for t in ['', ' ', '  ', '\t', '\n', '\r\n', '\r', 'a', 'A', '0', '.', "'", ' a', 'a ', '\n\n']:
        add(t)

    # One sample per general category, alone, between letters and after a space.
    by_cat = category_samples()
    for cat in sorted(by_cat):
        cps = by_cat[cat]
        add(''.join(chr(c) for c in cps))
        for cp in cps[:16] + cps[-4:]:
            ch = chr(cp)
            add(ch)
            add(f'a{ch}b')
            add(f' {ch}{ch} x')

    for name, text in SCRIPTS.items():
        add(text)
        add(' ' + text)
        add(text + '\n' + text)
        words = text.split(' ')
        add('  '.join(words))
        add(text.upper())

    # Whitespace runs of every kind.
    for ws in [' ', '\t', '\n', '\r\n', '\r', ' \n', '\n ', '\t\n', ' \t ']:
        for n in [1, 2, 3, 4, 5, 7, 8, 15, 16, 17, 31, 32, 33, 64, 100]:
            add(ws * n)
            add('a' + ws * n + 'b')
            add(ws * n + 'word')
            add('word' + ws * n)
    for ws in UNICODE_SPACES:
        add(ws)
        add(f'a{ws}b')
        add(f'a {ws} b')
        add(f'{ws}{ws}{ws}x')
        add(f'x\n{ws}\n')

    # Digits of every length, alone and inside text.
    for n in range(1, 41):
        digits = ''.join(str((i * 7 + n) % 10) for i in range(n))
        add(digits)
        add(f'a{digits}b')
        add(f' {digits} ')
        add(f'{digits}.{digits[::-1]}')
        add(f'٣{digits}٤')  # with Arabic-Indic digits around
    add('1,234,567.89 1e-10 0x1F 3.14159 -42 +7 ½ ² ⅷ 〇 ௰')

    cases += contractions()

    # Long words and long runs.
    add('a' * 10000)
    add('ab' * 5000)
    add('é' * 5000)
    add('日' * 4000)
    add('😀' * 2500)
    add(' ' * 10000)
    add('\n' * 5000)
    add('\t' * 3000 + 'x')
    add('x' + ' ' * 5000 + 'y')
    add('9' * 5000)
    add('supercalifragilisticexpialidocious' * 300)
    add('.' * 8000)
    add(('word ' * 2000).strip())

    # Texts equal to and next to special tokens.
    for sp in SPECIALS:
        for t in [sp, f' {sp} ', f'a{sp}b', f'a {sp} b', f'{sp}{sp}', f'{sp}\n',
                  f'\n{sp}', f'  {sp}  ', f'{sp[:-1]}', f'{sp}x{sp}', sp.upper(),
                  f'<{sp}>', f'{sp} hello', f'hello {sp}']:
            add(t)
    add('<|im_start|>user\nHi there<|im_end|>\n<|im_start|>assistant\n')
    add('<|begin_of_text|><|start_header_id|>user<|end_header_id|>\n\nHi<|eot_id|>')
    add('<s>[INST] Hi [/INST] Hello</s>')

    # Real-looking snippets.
    add('def f(x):\n\treturn x ** 2  # square\r\n')
    add('int main() { return 0; }\n')
    add('https://example.com/path?q=1&r=%20#frag user@example.org')
    add('"quoted" «guillemets» „low“ ‚single‘ 「括弧」')
    add("I'm you're he's we've they'll she'd can't WON'T Y'ALL'D'VE")

    # Random mixes from a seeded RNG over all of the above ingredients.
    pool = []
    for cat in sorted(by_cat):
        pool += [chr(c) for c in by_cat[cat][:8]]
    pool += list(''.join(SCRIPTS.values()))
    pool += UNICODE_SPACES + APOSTROPHES
    pool += [' ', ' ', ' ', '\n', '\t', '\r\n', '  '] * 8
    pool += list('abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789') * 3
    pool += SPECIALS + ['\u200d', '\ufe0f', '\U0001f3fd', "'s", "'LL", '...', '!!']
    for _ in range(args.random):
        n = rng.choice([1, 2, 3, 5, 8, 13, 21, 34, 55, 89, 144, 400])
        add(''.join(rng.choice(pool) for _ in range(n)))

    for t in cases:
        t.encode('utf-8')  # raises on a surrogate: a bug in this script
    with open(args.out, 'w', encoding='utf-8', newline='\n') as f:
        for t in cases:
            f.write(json.dumps(t, ensure_ascii=True) + '\n')
    print(f'gen_edge_cases: {len(cases)} cases -> {args.out}', file=sys.stderr)


if __name__ == '__main__':
    main()
