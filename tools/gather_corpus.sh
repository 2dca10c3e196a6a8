#!/usr/bin/env bash
# Gathers a corpus of real text from files any Debian machine has, for the
# differential tests and the tokenizer benchmark.
#
#   tools/gather_corpus.sh OUT_DIR [SIZE_MB=5]
#
# Writes OUT_DIR/corpus-<SIZE_MB>mb.jsonl (one JSON string per line: documents
# cut at ~4 KiB on line breaks; \n, \r\n and tabs kept), .txt (the same texts
# concatenated) and .sources (the files used, by source).
#
# Sources, each up to a share of the target, in this order: common licenses,
# /usr/share/doc/*/copyright, Debian changelogs (zcat), translated man pages
# (de, fr, ja, ko, ru, ... when installed), English man pages (roff source),
# C/C++ headers under /usr/include, Python sources under /usr/lib/python3*,
# JavaScript and Markdown under /usr/lib/node_modules and /usr/share/nodejs.
# Whatever a share leaves unused (a slim container has no man pages) is filled
# from the headers and Python sources. Within a source, files are taken in the
# order of a hash of their path: deterministic for a given set of installed
# files, and spread over packages rather than alphabetical. Files are decoded
# as UTF-8 with U+FFFD for ill-formed bytes; files with NUL bytes are skipped.
# Every 16th document gets \r\n line ends (Debian text files have none).
set -euo pipefail

if [[ $# -lt 1 ]]; then
  echo "usage: $0 OUT_DIR [SIZE_MB=5]" >&2
  exit 2
fi
out_dir=$1
size_mb=${2:-5}
mkdir -p "$out_dir"

py=/usr/bin/python3
[[ -x $py ]] || py=python3

exec "$py" - "$out_dir" "$size_mb" <<'PYEOF'
import glob, gzip, hashlib, json, os, sys

out_dir, size_mb = sys.argv[1], float(sys.argv[2])
target = int(size_mb * 1024 * 1024)
kDocBytes = 4096          # cut documents at the first line break after this
kMaxFileBytes = 48 * 1024 # take at most this much of one file
kMaxLineBytes = 64 * 1024 # a single longer line is cut (rare: minified code)

def files(patterns):
    seen = set()
    for pat in patterns:
        for p in glob.glob(pat, recursive=True):
            if os.path.isfile(p) and not os.path.islink(p):
                seen.add(p)
    return sorted(seen, key=lambda p: (hashlib.sha1(p.encode()).hexdigest(), p))

translated = [d for d in sorted(glob.glob('/usr/share/man/*'))
              if os.path.basename(d) not in ('man1', 'man2', 'man3', 'man4', 'man5',
                                             'man6', 'man7', 'man8', 'man9', 'mann')]
# (name, share of the target, file patterns)
sources = [
    ('licenses',    0.05, ['/usr/share/common-licenses/*']),
    ('copyright',   0.12, ['/usr/share/doc/*/copyright']),
    ('changelog',   0.12, ['/usr/share/doc/*/changelog*.gz', '/usr/share/doc/*/NEWS*.gz']),
    ('man-i18n',    0.12, [d + '/**/*.gz' for d in translated]),
    ('man',         0.10, ['/usr/share/man/man[1-8]/*.gz']),
    ('headers',     0.20, ['/usr/include/**/*.h', '/usr/include/**/*.hpp',
                           '/usr/include/c++/**/*']),
    ('python',      0.20, ['/usr/lib/python3*/**/*.py', '/usr/lib/python3/dist-packages/**/*.py']),
    ('node',        0.09, ['/usr/lib/node_modules/**/*.js', '/usr/lib/node_modules/**/*.md',
                           '/usr/share/nodejs/**/*.js', '/usr/share/nodejs/**/*.md']),
]
fillers = ('headers', 'python')

def read_text(path):
    try:
        with open(path, 'rb') as f:
            raw = f.read()
        if path.endswith('.gz'):
            raw = gzip.decompress(raw)
    except (OSError, EOFError, gzip.BadGzipFile):
        return None
    if b'\0' in raw[:65536]:
        return None
    return raw[:kMaxFileBytes * 2].decode('utf-8', errors='replace')

def cut(text):
    """Splits at line breaks once a document exceeds kDocBytes (keeps \\r\\n)."""
    docs, cur, cur_bytes, total = [], [], 0, 0
    for line in text.splitlines(keepends=True):
        # splitlines also splits on \x0b, \x0c, \x1c-\x1e, \x85, U+2028/9: fine,
        # every piece is kept verbatim, so joining restores the text.
        n = len(line.encode('utf-8'))
        if n > kMaxLineBytes:
            line = line[:kMaxLineBytes]
            n = len(line.encode('utf-8'))
        if total + n > kMaxFileBytes:
            break
        cur.append(line); cur_bytes += n; total += n
        if cur_bytes >= kDocBytes and line.endswith('\n'):
            docs.append(''.join(cur)); cur, cur_bytes = [], 0
    if cur:
        docs.append(''.join(cur))
    return [d for d in docs if d]

docs, used = [], []
total = 0
pending = {name: iter(files(pats)) for name, _, pats in sources}

def take(name, budget):
    global total
    got = 0
    for path in pending[name]:
        if got >= budget or total >= target:
            break
        text = read_text(path)
        if not text:
            continue
        for d in cut(text):
            if len(docs) % 16 == 15:
                d = d.replace('\r\n', '\n').replace('\n', '\r\n')
            b = len(d.encode('utf-8'))
            docs.append(d); got += b; total += b
        used.append((name, path, got))
    return got

for name, share, _ in sources:
    take(name, int(share * target))
for name in fillers * 8:  # alternate until the target is met or they run dry
    if total >= target:
        break
    take(name, (target - total) // 2 + 1)

if total < target:
    sys.exit(f'gather_corpus: only {total} bytes of text found, wanted {target}')

stem = os.path.join(out_dir, f'corpus-{sys.argv[2]}mb')
with open(stem + '.jsonl', 'w', encoding='utf-8', newline='\n') as f:
    for d in docs:
        f.write(json.dumps(d, ensure_ascii=False) + '\n')
with open(stem + '.txt', 'w', encoding='utf-8', newline='') as f:
    f.write(''.join(docs))
with open(stem + '.sources', 'w', encoding='utf-8') as f:
    by_source = {}
    for name, path, _ in used:
        by_source.setdefault(name, []).append(path)
    for name, paths in by_source.items():
        f.write(f'# {name}: {len(paths)} files\n')
        f.writelines(p + '\n' for p in paths)
print(f'gather_corpus: {len(docs)} documents, {total} bytes -> {stem}.jsonl', file=sys.stderr)
PYEOF
